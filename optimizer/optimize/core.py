"""``Optimizer(policy).build(shape)`` compiles once; ``Built.solve(inputs)`` re-solves.

The monthly job builds one :class:`Built` per worker and calls :meth:`Built.solve` per
account: only Parameter values change, so each account costs a solve, not a compilation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from optimizer.errors import ConfigError, InfeasibleError, SolverError
from optimizer.estimate import Estimate
from optimizer.optimize import constraints as C
from optimizer.optimize.frame import Frame, Named, Numbers
from optimizer.optimize.inputs import Inputs, current_weights, numbers
from optimizer.optimize.objectives import OBJECTIVES, LinearMax, Setting, needs_samples
from optimizer.optimize.policy import ObjectiveKind, Policy
from optimizer.optimize.program import Program, SolveReport
from optimizer.optimize.result import Allocation, Binding, metrics
from optimizer.optimize.taxterm import GainCaps, TaxOutcome, outcome
from optimizer.optimize.universe import Universe, parse_group, parse_scenario_loss

_DUAL_TOL = 1e-7
_FEAS_TOL = 1e-7  # bounds and group rows must hold to this


@dataclass(frozen=True)
class Shape:
    """What fixes the problem's dimensions: Monte Carlo rows and scenario ids."""

    n_samples: int = 0
    scenarios: tuple[str, ...] = ()
    tax_lots: int = 0  # L, lots per ticker of the tax term; 0: tax-blind

    @classmethod
    def of(cls, estimate: Estimate) -> Shape:
        n = 0 if estimate.samples is None else int(np.shape(estimate.samples)[0])
        return cls(n_samples=n, scenarios=tuple(s.id for s in estimate.scenarios))


class Optimizer:
    """Holds a :class:`Policy`; :meth:`build` validates it and compiles the problem."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def build(self, shape: Shape | Estimate | None = None, *, file: str | None = None) -> Built:
        """Compile the policy's problem for ``shape`` (or an estimate's shape)."""
        if isinstance(shape, Estimate):
            shape = Shape.of(shape)
        shape = shape or Shape()
        try:
            if self.policy.objective.kind in (ObjectiveKind.RISK_PARITY, ObjectiveKind.HRP):
                from optimizer.optimize.hierarchical import RiskfolioBuilt

                return RiskfolioBuilt.create(self.policy, shape, file=file)  # type: ignore[return-value]
            return Built.create(self.policy, shape, file=file)
        except ConfigError as exc:
            if exc.file is not None or file is None:
                raise
            raise ConfigError(
                exc.message, file=file, key=exc.key, value=exc.value, hint=exc.hint
            ) from None


def constraint_terms(policy: Policy, universe: Universe, shape: Shape) -> list[Any]:
    """The policy's constraints as small objects, in reporting order."""
    cons = policy.constraints
    terms: list[Any] = [C.Budget(), C.Bounds(universe)]
    for i, text in enumerate(cons.groups):
        terms.append(C.Group(parse_group(text, universe, key=f"constraints.groups[{i}]")))
    if cons.turnover is not None:
        terms.append(C.Turnover(cons.turnover, universe))
    if cons.tracking_error is not None:
        wb = current_weights(cons.tracking_error.benchmark, universe.tickers)
        terms.append(C.TrackingError(wb, cons.tracking_error.max))
    if cons.max_volatility is not None:
        terms.append(C.VolatilityCap(cons.max_volatility))
    if cons.max_cvar is not None:
        _need_samples(shape, "constraints.max_cvar")
        terms.append(C.CVaRCap(cons.max_cvar, cons.cvar_level, shape.n_samples))
    for i, text in enumerate(cons.scenario_loss):
        loss = parse_scenario_loss(text, key=f"constraints.scenario_loss[{i}]")
        _known_scenario(loss.scenario, shape, f"constraints.scenario_loss[{i}]")
        terms.append(C.ScenarioLossCap(loss))
    if shape.tax_lots > 0:
        terms.append(GainCaps())
    return terms


def _check_tax(x: Numbers, shape: Shape, tickers: tuple[str, ...]) -> None:
    """The tax lots fit the problem: present exactly when it was built tax-aware, with its
    lot count and the universe's tickers."""
    have = 0 if x.tax is None else x.tax.n_lots
    if have != shape.tax_lots or (x.tax is not None and x.tax.tickers != tickers):
        raise ConfigError(
            f"the problem was built for {shape.tax_lots} tax lots per ticker, the inputs have "
            f"{have}",
            key="tax",
            hint="build with Shape(..., tax_lots=L) for the account's padded lots",
        )


def _need_samples(shape: Shape, key: str) -> None:
    if shape.n_samples <= 0:
        raise ConfigError(
            "needs Monte Carlo samples, and the estimate has none",
            key=key,
            hint="request scenarios in [scenarios], or set [estimation] samples = "
            "'historical' to use the historical returns",
        )


def _known_scenario(sid: str, shape: Shape, key: str) -> None:
    if sid not in shape.scenarios:
        known = ", ".join(shape.scenarios) or "none"
        raise ConfigError(f"unknown scenario; known: {known}", key=key, value=sid)


def _robust_scenarios(policy: Policy, shape: Shape) -> tuple[str, ...]:
    ids = tuple(policy.objective.scenarios) or shape.scenarios
    for sid in ids:
        _known_scenario(sid, shape, "objective.scenarios")
    if not ids:
        raise ConfigError(
            "needs named scenarios, and the estimate has none",
            key="objective.kind",
            value=policy.objective.kind.value,
        )
    return ids


class Built:
    """A compiled problem for one policy and shape; :meth:`solve` per account."""

    def __init__(
        self,
        policy: Policy,
        universe: Universe,
        shape: Shape,
        setting: Setting,
        terms: list[Any],
        objective: Any,
        frame: Frame,
        program: Program,
    ) -> None:
        self.policy, self.universe, self.shape, self.setting = policy, universe, shape, setting
        self.terms, self.objective, self.frame, self.program = terms, objective, frame, program
        self.best_case: Built | None = None  # for min regret: max of one scenario's mean
        # the last solve, shared by the next accounts on the same estimate (see solve)
        self._shared: tuple[Estimate, np.ndarray, Allocation] | None = None
        self._bound: Numbers | None = None  # set by bind

    @property
    def reads_current(self) -> bool:
        """Whether an account's current weights enter the problem (turnover, trading
        costs, a tax term, min regret's best cases)."""
        has_w0 = "w0" in self.frame.parameters()
        return has_w0 or self.shape.tax_lots > 0 or self.best_case is not None

    @classmethod
    def create(
        cls,
        policy: Policy,
        shape: Shape,
        *,
        file: str | None = None,
        objective_cls: type | None = None,
    ) -> Built:
        universe = Universe.from_config(policy.universe, file=file)
        kind = policy.objective.kind
        if needs_samples(kind):
            _need_samples(shape, "objective.kind")
        robust = kind in (ObjectiveKind.ROBUST, ObjectiveKind.MIN_REGRET)
        setting = Setting(
            config=policy.objective,
            cost_rate=policy.constraints.costs_bps / 1e4,
            n_samples=shape.n_samples,
            scenarios=_robust_scenarios(policy, shape) if robust else (),
        )
        terms = constraint_terms(policy, universe, shape)
        objective = (objective_cls or OBJECTIVES[kind])(setting)
        frame = Frame(universe.n_assets, homogeneous=objective.homogeneous, tax_lots=shape.tax_lots)
        goal, rows = objective.build(frame)
        named: list[Named] = [n for t in terms for n in t.add(frame)] + rows + frame.extra
        built = cls(
            policy,
            universe,
            shape,
            setting,
            terms,
            objective,
            frame,
            Program.build(frame, goal, named),
        )
        if kind is ObjectiveKind.MIN_REGRET and objective_cls is None:
            built.best_case = cls.create(policy, shape, file=file, objective_cls=LinearMax)
        return built

    # -- per run ----------------------------------------------------------------------------
    def numbers(self, inputs: Inputs) -> Numbers:
        x = numbers(inputs, self.universe.tickers, self.policy.constraints.covariance)
        if self.shape.n_samples and (x.samples is None or len(x.samples) != self.shape.n_samples):
            got = 0 if x.samples is None else len(x.samples)
            raise ConfigError(
                f"the problem was built for {self.shape.n_samples} samples, the estimate has {got}",
                key="samples",
                hint="build again with Shape.of(estimate)",
            )
        missing = [s for s in self.shape.scenarios if s not in x.scenario_mu]
        if missing:
            raise ConfigError(
                "the estimate lacks scenarios the problem was built for",
                key="scenarios",
                value=", ".join(missing),
            )
        if x.has_current and self._cash_only(x.w0):  # a new account's first allocation
            x = replace(x, has_current=False)
        return x

    def _cash_only(self, w0: np.ndarray) -> bool:
        """Whether the current weights are all in cash-tagged tickers: nothing invested, so
        no turnover to limit (investing the cash is the account's first allocation)."""
        cash = self.universe.indicator("cash") if self.universe.has_tag("cash") else None
        return cash is not None and float(np.abs(w0 * (1 - cash)).sum()) < 1e-9

    def bind(self, x: Numbers, overrides: dict[str, Any] | None = None) -> None:
        """Write one run's numbers into the Parameters."""
        self.frame.bind(x)
        self._bound = x  # the numbers the next solve's duals are read with
        for t in self.terms:
            t.bind(self.frame, x)
        self.objective.bind(self.frame, x)
        for name, value in (overrides or {}).items():
            self.frame.set(name, value)
        if self.best_case is not None:
            self.frame.set("best", self._best_cases(x))

    def _best_cases(self, x: Numbers) -> np.ndarray:
        assert self.best_case is not None
        out = []
        for sid in self.setting.scenarios:
            w, _ = self.best_case.solve_numbers(x, {"direction": x.scenario_mu[sid]}, duals=False)
            cost = self.setting.cost_rate * float(np.abs(w - x.w0).sum())
            out.append(float(x.scenario_mu[sid] @ w) - cost)
        return np.array(out)

    def solve_numbers(
        self, x: Numbers, overrides: dict[str, Any] | None = None, *, duals: bool = True
    ) -> tuple[np.ndarray, SolveReport]:
        """Bind, solve; returns weights of shape (n_assets,) and the solve report."""
        self._precheck(x)
        self.bind(x, overrides)
        from optimizer.optimize.diagnosis import explain_infeasible

        try:
            report = self.program.solve(duals=duals)
        except InfeasibleError:
            raise explain_infeasible(self, x) from None
        w = self.frame.weights()
        worst = self._violation(w)
        if worst > _FEAS_TOL:  # the solver accepted a point outside the policy
            error = explain_infeasible(self, x)
            if error.diagnosis is not None and error.diagnosis.total_slack > _FEAS_TOL / 10:
                raise error
            raise SolverError(
                f"the solver's answer breaks a bound or group constraint by {worst:.2g}",
                hint="the limits are nearly contradictory; loosen them slightly",
            )
        return w, report

    def _violation(self, w: np.ndarray) -> float:
        """Largest violation of the budget, the bounds and the group rows by ``w``."""
        u = self.universe
        worst = max(
            abs(float(w.sum()) - 1.0), float(np.max(u.lower - w)), float(np.max(w - u.upper))
        )
        for t in self.terms:
            if isinstance(t, C.Group):
                gap = float(t.row.a @ w) - t.row.rhs
                worst = max(worst, {"<=": gap, ">=": -gap, "==": abs(gap)}[t.row.sense.value])
        return worst

    def _precheck(self, x: Numbers) -> None:
        _check_tax(x, self.shape, self.universe.tickers)
        if self.policy.objective.kind is ObjectiveKind.MAX_SHARPE:
            excess = x.mu - x.risk_free
            if np.all(excess <= 0):
                raise InfeasibleError(
                    f"max Sharpe needs an asset whose expected return beats the risk-free "
                    f"return ({x.risk_free:.4%} over the horizon); the best excess return is "
                    f"{excess.max():.4%}",
                    key="objective.kind",
                    value="max_sharpe",
                    hint="use min_variance, utility or min_cvar in this market",
                )

    def solve(self, inputs: Inputs) -> Allocation:
        """The allocation for one account. When the problem does not read the current
        weights, the accounts after the first on the same estimate take the last solve's
        weights (the same numbers give the same optimum); only their turnover differs."""
        shares = inputs.tax is None and not self.reads_current
        last = self._shared
        if shares and last is not None and last[0] is inputs.estimate:
            _, w, allocation = last
            w0 = current_weights(inputs.current, self.universe.tickers)
            turnover = float(np.abs(w - w0).sum())
            return replace(allocation, metrics=replace(allocation.metrics, turnover=turnover))
        x = self.numbers(inputs)
        w, report = self.solve_numbers(x)
        allocation = self.allocation(w, x, report, inputs.estimate)
        self._shared = (inputs.estimate, w, allocation) if shares else None
        return allocation

    def allocation(
        self, w: np.ndarray, x: Numbers, report: SolveReport, estimate: Estimate | None
    ) -> Allocation:
        level = self.policy.objective.cvar_level
        if self.policy.objective.kind is not ObjectiveKind.MIN_CVAR and (
            self.policy.constraints.max_cvar is not None
        ):
            level = self.policy.constraints.cvar_level
        return Allocation(
            weights=dict(zip(self.universe.tickers, map(float, w), strict=True)),
            objective=self.policy.objective.kind.value,
            metrics=metrics(w, x, self.universe, level),
            horizon_years=x.horizon_years,
            risk_free=x.risk_free,
            binding=self.binding(),
            solver=report.solver,
            status=report.status,
            solve_seconds=report.seconds,
            fallbacks=report.fallbacks,
            provenance=None if estimate is None else estimate.provenance,
            warnings=x.warnings + self._notes(x) + ((report.warning,) if report.warning else ()),
            scenario_titles=None
            if estimate is None
            else {s.id: s.title for s in estimate.scenarios},
            cvar_period="horizon" if estimate is None else estimate.samples_period,
            tax=self._tax(w, x),
        )

    def _tax(self, w: np.ndarray, x: Numbers) -> TaxOutcome | None:
        if x.tax is None:
            return None
        U = self.frame.sales_solution
        if U is not None and self.frame.homogeneous:
            U = U / self.frame.solution[1]
        return outcome(x.tax, w, x.w0, U)

    def _notes(self, x: Numbers) -> tuple[str, ...]:
        if self.policy.constraints.turnover is not None and not x.has_current:
            if float(np.abs(x.w0).sum()) > 0:
                return ("the account holds only cash, so the turnover cap was not applied "
                        "(investing it is the account's first allocation)",)  # fmt: skip
            return ("no current weights were given, so the turnover cap was not applied",)
        return ()

    def binding(self) -> tuple[Binding, ...]:
        """Policy constraints with a non-zero dual value, largest first."""
        from optimizer.optimize.frame import Role

        out: list[Binding] = []
        assert self._bound is not None, "bind and solve first"
        scale = self.objective.dual_scale(self.frame, self._bound)
        for n in self.program.named:
            dual = self.program.dual(n)
            if n.role is not Role.POLICY or dual is None:
                continue
            duals = np.atleast_1d(dual).ravel() * scale
            hits = np.flatnonzero(np.abs(duals) > _DUAL_TOL)
            labels = n.labels if len(n.labels) == duals.size else n.labels * duals.size
            out.extend(Binding(labels[i], float(duals[i])) for i in hits)
        return tuple(sorted(out, key=lambda b: -abs(b.shadow_price)))

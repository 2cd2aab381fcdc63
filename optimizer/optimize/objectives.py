"""Objectives: each a small class that states its goal over a :class:`Frame`.

``OBJECTIVES`` maps every :class:`ObjectiveKind` solved by cvxpy to its class; risk parity
and HRP go through Riskfolio-Lib (``optimizer.optimize.hierarchical``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Protocol

import cvxpy as cp
import numpy as np

from optimizer.optimize.constraints import cvar_rows
from optimizer.optimize.frame import Frame, Named, Numbers, Role
from optimizer.optimize.policy import ObjectiveConfig, ObjectiveKind
from optimizer.optimize.taxterm import tax_charge


class Objective(Protocol):
    """The goal of a problem. ``homogeneous`` asks for the Charnes-Cooper frame."""

    homogeneous: ClassVar[bool]

    def build(self, f: Frame) -> tuple[cp.Minimize | cp.Maximize, list[Named]]: ...

    def bind(self, f: Frame, x: Numbers) -> None: ...

    def dual_scale(self, f: Frame, x: Numbers) -> float: ...


@dataclass(frozen=True)
class Setting:
    """What an objective needs from the policy beyond its config."""

    config: ObjectiveConfig
    cost_rate: float  # proportional cost per unit traded (costs_bps / 1e4)
    n_samples: int  # rows of the sample matrix (0 when none)
    scenarios: tuple[str, ...]  # scenario ids used by robust objectives


def _costs(f: Frame, rate: float) -> cp.Expression | float:
    return rate * cp.sum(f.trade()) if rate > 0 else 0.0


class _Base:
    homogeneous: ClassVar[bool] = False

    def __init__(self, s: Setting) -> None:
        self.s = s

    def bind(self, f: Frame, x: Numbers) -> None:
        return None

    def dual_scale(self, f: Frame, x: Numbers) -> float:
        """Factor from the compiled problem's duals to the stated objective's gain per unit
        of a constraint, at the solution in ``f`` of the numbers ``x``."""
        return 1.0


def _excess_scale(x: Numbers) -> float:
    """The largest excess return, by which max Sharpe's compiled problem is divided."""
    return max(float(np.abs(x.mu - x.risk_free).max()), 1e-300)


class MaxSharpe(_Base):
    """Max ``(mu'w - costs - tax - rf) / ||Lt w||`` as min ``||Lt y||^2`` s.t.
    excess'y - costs - tax >= 1 (after-tax Sharpe, ``tax`` homogeneous in ``(y, k)``)."""

    homogeneous = True

    def build(self, f: Frame) -> tuple[cp.Minimize, list[Named]]:
        excess = f.param("excess_scaled", (f.n,))
        net = excess @ f.w
        if self.s.cost_rate > 0:
            net = net - f.param("cost_scaled", nonneg=True) * cp.sum(f.trade())
        net = net - tax_charge(f, "tax_scaled")  # after-tax: the sale's tax, scaled alike
        row = Named(("excess return = 1",), net >= 1.0, Role.OBJECTIVE)
        return cp.Minimize(cp.sum_squares(f.risk())), [row]

    def dual_scale(self, f: Frame, x: Numbers) -> float:
        """The compiled problem's optimum is ``v = scale**2 / S**2`` (``S`` the horizon
        Sharpe ratio net of costs and tax); a constraint ``g'y <= c k`` loosened by ``d``
        moves it by ``-dual * k * d``, so ``dS/dd = dual * k * S**3 / (2 scale**2)``,
        reported per unit of the annual Sharpe ratio (divided by the horizon's root)."""
        assert f.solution is not None, "solve first"
        y, k = f.solution
        v = float(np.sum((x.Lt @ y) ** 2))
        if v <= 0:
            return 0.0
        scale = _excess_scale(x)
        sharpe = scale / math.sqrt(v)
        return k * sharpe**3 / (2 * scale**2) / math.sqrt(x.horizon_years)

    def bind(self, f: Frame, x: Numbers) -> None:
        # Sharpe is scale-free: dividing excess returns and costs by the same number keeps
        # y = w / k of order one, which interior-point methods converge on in fewer steps
        excess = x.mu - x.risk_free
        scale = _excess_scale(x)
        f.set("excess_scaled", excess / scale)
        f.set("cost_scaled", self.s.cost_rate / scale)
        if x.tax is not None:
            f.set("tax_scaled", x.tax.rate * x.tax.gain_pos / scale)


class Utility(_Base):
    """Max ``mu'w - gamma/2 w'Sigma w - costs - tax``, scaled by ``1/gamma`` to stay DPP
    (``tax``: the sale's tax as a fraction of the account, when the account is taxable)."""

    def build(self, f: Frame) -> tuple[cp.Minimize, list[Named]]:
        m = f.param("mu_over_gamma", (f.n,))
        obj = 0.5 * cp.sum_squares(f.risk()) - m @ f.w
        if self.s.cost_rate > 0:
            c = f.param("cost_over_gamma", nonneg=True)
            obj = obj + c * cp.sum(f.trade())
        return cp.Minimize(obj + tax_charge(f, "tax_over_gamma")), []

    def dual_scale(self, f: Frame, x: Numbers) -> float:
        return self.s.config.risk_aversion

    def bind(self, f: Frame, x: Numbers) -> None:
        gamma = self.s.config.risk_aversion
        f.set("mu_over_gamma", x.mu / gamma)
        f.set("cost_over_gamma", self.s.cost_rate / gamma)
        if x.tax is not None:
            f.set("tax_over_gamma", x.tax.rate * x.tax.gain_pos / gamma)


class MinVariance(_Base):
    """Min ``w'Sigma w`` (costs do not enter: they are not a risk)."""

    def build(self, f: Frame) -> tuple[cp.Minimize, list[Named]]:
        return cp.Minimize(cp.sum_squares(f.risk())), []


class TargetReturn(_Base):
    """Min variance s.t. net expected return >= target (annual, converted to the horizon)."""

    def build(self, f: Frame) -> tuple[cp.Minimize, list[Named]]:
        target = f.param("target_return")
        ret = f.mu() @ f.w - _costs(f, self.s.cost_rate)
        label = f"return >= {self.s.config.target_return:g}"
        return cp.Minimize(cp.sum_squares(f.risk())), [Named((label,), ret >= target)]

    def bind(self, f: Frame, x: Numbers) -> None:
        f.set("target_return", float(self.s.config.target_return) * x.horizon_years)


class TargetVolatility(_Base):
    """Max net expected return s.t. volatility <= target (efficient risk)."""

    def build(self, f: Frame) -> tuple[cp.Maximize, list[Named]]:
        cap = f.param("target_vol", nonneg=True)
        label = f"volatility <= {self.s.config.target_volatility:g}"
        ret = f.mu() @ f.w - _costs(f, self.s.cost_rate)
        return cp.Maximize(ret), [Named((label,), cp.norm2(f.risk()) <= cap)]

    def bind(self, f: Frame, x: Numbers) -> None:
        vol = float(self.s.config.target_volatility) * math.sqrt(x.horizon_years)
        f.set("target_vol", vol)


class MinCVaR(_Base):
    """Min CVaR of the horizon loss (plus costs) over the samples, Rockafellar-Uryasev LP."""

    def build(self, f: Frame) -> tuple[cp.Minimize, list[Named]]:
        cvar, rows = cvar_rows(f, self.s.config.cvar_level, self.s.n_samples, "cvar")
        return cp.Minimize(cvar + _costs(f, self.s.cost_rate)), rows


class Robust(_Base):
    """Max the worst scenario mean return (net of costs) across the named scenarios."""

    def build(self, f: Frame) -> tuple[cp.Maximize, list[Named]]:
        t = cp.Variable(name="worst")
        cost = _costs(f, self.s.cost_rate)
        rows = [
            Named(
                (f"worst <= {sid}",),
                t <= f.param(f"scenario:{sid}", (f.n,)) @ f.w - cost,
                Role.OBJECTIVE,
            )
            for sid in self.s.scenarios
        ]
        return cp.Maximize(t), rows


class MinRegret(_Base):
    """Min the largest regret ``best_s - mu_s'w`` across scenarios (``best_s`` a Parameter)."""

    def build(self, f: Frame) -> tuple[cp.Minimize, list[Named]]:
        t = cp.Variable(name="regret")
        best = f.param("best", (len(self.s.scenarios),))
        cost = _costs(f, self.s.cost_rate)
        rows = [
            Named(
                (f"regret >= {sid}",),
                t >= best[i] - (f.param(f"scenario:{sid}", (f.n,)) @ f.w - cost),
                Role.OBJECTIVE,
            )
            for i, sid in enumerate(self.s.scenarios)
        ]
        return cp.Minimize(t), rows


class LinearMax(_Base):
    """Max ``c @ w`` for a Parameter ``c``: the best case of one scenario (for regret)."""

    def build(self, f: Frame) -> tuple[cp.Maximize, list[Named]]:
        c = f.param("direction", (f.n,))
        return cp.Maximize(c @ f.w - _costs(f, self.s.cost_rate)), []


OBJECTIVES: dict[ObjectiveKind, type[_Base]] = {
    ObjectiveKind.MAX_SHARPE: MaxSharpe,
    ObjectiveKind.UTILITY: Utility,
    ObjectiveKind.MIN_VARIANCE: MinVariance,
    ObjectiveKind.TARGET_RETURN: TargetReturn,
    ObjectiveKind.TARGET_VOLATILITY: TargetVolatility,
    ObjectiveKind.MIN_CVAR: MinCVaR,
    ObjectiveKind.ROBUST: Robust,
    ObjectiveKind.MIN_REGRET: MinRegret,
}


def needs_samples(kind: ObjectiveKind) -> bool:
    return kind is ObjectiveKind.MIN_CVAR


def needs_scenarios(kind: ObjectiveKind) -> bool:
    return kind in (ObjectiveKind.ROBUST, ObjectiveKind.MIN_REGRET)

"""A DPP problem compiled once, re-solved by feeding new Parameter values.

``Program.build`` checks ``problem.is_dpp()`` and compiles the problem once for Clarabel's
conic form (``problem.get_problem_data``). A solve then only (1) writes the Parameter values
into cvxpy's parameter vector, (2) multiplies it by cvxpy's compiled parameter-to-data
tensors (the same ``ParamConeProg`` cvxpy itself uses) and (3) hands the matrices to the
solver: Clarabel for QP/SOCP, PIQP's dense backend for large mean-variance QPs, HiGHS for
LPs, each falling back on the next, then on SCS through cvxpy. Statuses map to
:class:`InfeasibleError` / :class:`SolverError`. Only expected solver failures (a status
other than optimal, a numerical exception a solver documents) move to the next solver, and
each is recorded in :attr:`SolveReport.fallbacks`; any other exception is a bug and
propagates.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from enum import StrEnum

import cvxpy as cp
import numpy as np

from optimizer.errors import InfeasibleError, SolverError
from optimizer.highs import HighsFailure
from optimizer.optimize.frame import Frame, Named
from optimizer.optimize.reduced import Elimination, solve_reduced
from optimizer.optimize.solvers import (
    Compiled,
    RawSolution,
    SolverName,
    solve_clarabel,
    solve_highs,
)

# the reduced dense QP (PIQP) goes first for 100..2000 remaining variables, when the
# eliminated risk variables are a large share of the problem (mean-variance on many assets)
_DENSE_MIN, _DENSE_MAX = 100, 2000
# what a solver raises when it fails on a problem, as opposed to a bug in our code
_SOLVER_FAILURES = (HighsFailure, np.linalg.LinAlgError, ArithmeticError, cp.error.SolverError)


class Outcome(StrEnum):
    """Solver outcome, independent of the solver's own words."""

    OPTIMAL = "optimal"
    INACCURATE = "optimal_inaccurate"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    FAILED = "failed"


_CLARABEL_STATUS = {
    "Solved": Outcome.OPTIMAL,
    "AlmostSolved": Outcome.INACCURATE,
    "PrimalInfeasible": Outcome.INFEASIBLE,
    "AlmostPrimalInfeasible": Outcome.INFEASIBLE,
    "DualInfeasible": Outcome.UNBOUNDED,
    "AlmostDualInfeasible": Outcome.UNBOUNDED,
}


@dataclass(frozen=True)
class SolveReport:
    """How a solve went: solver used, outcome, seconds, and each solver tried before it with
    why it failed (``"HIGHS: status 'Time limit reached'"``)."""

    solver: str
    status: str
    seconds: float
    fallbacks: tuple[str, ...]

    @property
    def warning(self) -> str | None:
        """What the user is told when a fallback solved the problem, else None."""
        if not self.fallbacks:
            return None
        return f"solver fallback: {'; '.join(self.fallbacks)}; solved by {self.solver}"


class Program:
    """One compiled problem. Build with :meth:`build`; re-solve with :meth:`solve`."""

    def __init__(self, frame: Frame, problem: cp.Problem, named: list[Named]) -> None:
        self.frame = frame
        self.problem = problem
        self.named = named
        self._compiled: Compiled | None = None
        self._chain = None
        self._inverse = None
        self._dual_rows: dict[int, tuple[np.ndarray, np.ndarray, tuple[int, ...]]] = {}
        self._duals: dict[int, np.ndarray] = {}  # constraint id -> dual of the last solve
        self._elimination: Elimination | None = None

    @classmethod
    def build(
        cls, frame: Frame, objective: cp.Minimize | cp.Maximize, named: list[Named]
    ) -> Program:
        """Assemble, check DPP, and compile once."""
        from optimizer.allocator import keep_large_blocks

        keep_large_blocks()  # compilation's big temporaries stay in the heap (allocator.py)
        problem = cp.Problem(objective, [n.constraint for n in named])
        if not problem.is_dpp():
            raise SolverError("internal: the problem is not DPP, re-solves would recompile")
        prog = cls(frame, problem, named)
        prog._compile()
        return prog

    def _compile(self) -> None:
        for p in self.problem.parameters():
            if p.value is None:
                p.value = np.zeros(p.shape)
        data, chain, inverse = self.problem.get_problem_data(cp.CLARABEL)
        self._compiled = Compiled.from_problem_data(data, self.problem, self.frame.values)
        self._elimination = Elimination.find(self._compiled)
        e = self._elimination
        if e is not None and not (
            _DENSE_MIN <= len(e.keep) <= _DENSE_MAX and len(e.elim) >= 0.4 * len(e.keep)
        ):
            # small problems, or many other variables (CVaR tails): sparse LDL is faster
            self._elimination = None
        inverse[-1].solver_options = {}  # read by cvxpy's Clarabel inversion
        self._chain, self._inverse = chain, inverse
        self._map_duals(len(data["b"]))

    def _map_duals(self, m: int) -> None:
        """Which rows of the solver's dual vector ``z`` (and with which sign) are each named
        constraint's dual: found once by inverting a solution whose ``z`` marks its rows."""
        marker = RawSolution(
            "Solved", np.zeros(self._compiled.n_var), np.arange(1.0, m + 1), 0.0, 0.0, 0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            duals = self._chain.invert(marker, self._inverse).dual_vars
        for n in self.named:
            v = duals.get(n.constraint.id)
            if v is None:
                continue
            v = np.asarray(v, dtype=float)
            rows = np.abs(v).ravel() - 1
            if np.all(np.abs(rows - np.round(rows)) < 1e-9) and np.all(rows >= 0):
                self._dual_rows[n.constraint.id] = (
                    np.round(rows).astype(np.int64),
                    np.sign(v).ravel(),
                    v.shape,
                )

    def dual(self, n: Named) -> np.ndarray | None:
        """The last solve's dual value of a named constraint (None if unknown)."""
        return self._duals.get(n.constraint.id)

    @property
    def is_lp(self) -> bool:
        assert self._compiled is not None
        return self._compiled.is_lp

    def chain(self) -> tuple[SolverName, ...]:
        """Solvers to try in order for this problem class."""
        if self.is_lp:
            return (SolverName.HIGHS, SolverName.CLARABEL, SolverName.SCS)
        if self._elimination is not None:
            return (SolverName.PIQP, SolverName.CLARABEL, SolverName.SCS)
        return (SolverName.CLARABEL, SolverName.SCS)

    def solve(self, *, duals: bool = True) -> SolveReport:
        """Solve with the current Parameter values; variables (and duals) get their values."""
        assert self._compiled is not None
        tried: list[str] = []
        start = time.perf_counter()
        last = Outcome.FAILED
        for name in self.chain():
            outcome, why = self._try(name, duals)
            if outcome in (Outcome.OPTIMAL, Outcome.INACCURATE):
                return SolveReport(
                    name.value, outcome.value, time.perf_counter() - start, tuple(tried)
                )
            if outcome in (Outcome.INFEASIBLE, Outcome.UNBOUNDED):
                last = outcome
                break
            tried.append(f"{name.value}: {why}")
        self._raise(last, tried)
        raise AssertionError("unreachable")

    def _try(self, name: SolverName, duals: bool) -> tuple[Outcome, str]:
        """The outcome of one solver, and in words why it failed (empty when it did not)."""
        assert self._compiled is not None
        try:
            if name is SolverName.SCS:
                return self._solve_cvxpy(cp.SCS), f"status {self.problem.status!r}"
            if name is SolverName.PIQP:
                raw = solve_reduced(self._compiled, self._elimination)
            elif name is SolverName.HIGHS:
                raw = solve_highs(self._compiled)
            else:
                raw = solve_clarabel(self._compiled)
        except _SOLVER_FAILURES as exc:  # an expected failure: fall back, and say why
            return Outcome.FAILED, f"{type(exc).__name__}: {exc}"
        outcome = _CLARABEL_STATUS.get(raw.status, Outcome.FAILED)
        if outcome in (Outcome.OPTIMAL, Outcome.INACCURATE):
            self._unpack(raw, duals)
        return outcome, f"status {raw.status!r}"

    def _unpack(self, raw: RawSolution, duals: bool) -> None:
        assert self._compiled is not None and raw.x is not None
        cols = self._compiled.columns(self.frame)
        col, size = cols[self.frame.w]
        k = 1.0
        if isinstance(self.frame.k, cp.Variable):
            k = float(raw.x[cols[self.frame.k][0]])
        self.frame.solution = (raw.x[col : col + size].copy(), k)
        if self.frame.sales is not None:  # cvxpy stacks a matrix variable column by column
            col, size = cols[self.frame.sales]
            values = raw.x[col : col + size].reshape(self.frame.sales.shape, order="F")
            self.frame.sales_solution = values.copy()
        self._duals = {}
        if duals and raw.z is not None:
            for cid, (rows, signs, shape) in self._dual_rows.items():
                self._duals[cid] = (raw.z[rows] * signs).reshape(shape)

    def _solve_cvxpy(self, solver: str) -> Outcome:
        self.frame.push()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.problem.solve(solver=solver)
        status = self.problem.status
        if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            k = self.frame.k.value if isinstance(self.frame.k, cp.Variable) else 1.0
            self.frame.solution = (np.asarray(self.frame.w.value, dtype=float), float(k))
            if self.frame.sales is not None:
                self.frame.sales_solution = np.asarray(self.frame.sales.value, dtype=float)
            self._duals = {
                n.constraint.id: np.asarray(n.constraint.dual_value, dtype=float)
                for n in self.named
                if n.constraint.dual_value is not None
            }
            return Outcome.OPTIMAL if status == cp.OPTIMAL else Outcome.INACCURATE
        if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            return Outcome.INFEASIBLE
        if status in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
            return Outcome.UNBOUNDED
        return Outcome.FAILED

    def _raise(self, outcome: Outcome, tried: list[str]) -> None:
        if outcome is Outcome.INFEASIBLE:
            raise InfeasibleError("the constraints admit no portfolio")
        if outcome is Outcome.UNBOUNDED:
            raise SolverError("the problem is unbounded", hint="add bounds on the weights")
        raise SolverError(
            f"every solver failed ({', '.join(tried)})",
            hint="check the estimate for extreme values or loosen the constraints",
        )

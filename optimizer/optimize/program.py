"""A DPP problem compiled once, re-solved by feeding new Parameter values.

``Program.build`` checks ``problem.is_dpp()`` and compiles the problem once for Clarabel's
conic form (``problem.get_problem_data``). A solve then only (1) writes the Parameter values
into cvxpy's parameter vector, (2) multiplies it by cvxpy's compiled parameter-to-data
tensors (the same ``ParamConeProg`` cvxpy itself uses) and (3) hands the matrices to the
solver: Clarabel for QP/SOCP, HiGHS for LPs, each falling back on the other, then on SCS
through cvxpy. Statuses map to :class:`InfeasibleError` / :class:`SolverError`.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from enum import StrEnum

import cvxpy as cp
import numpy as np

from optimizer.errors import InfeasibleError, SolverError
from optimizer.optimize.frame import Frame, Named
from optimizer.optimize.solvers import (
    Compiled,
    RawSolution,
    SolverName,
    solve_clarabel,
    solve_highs,
)


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
    """How a solve went: solver used, outcome, seconds, solvers tried before it."""

    solver: str
    status: str
    seconds: float
    fallbacks: tuple[str, ...]


class Program:
    """One compiled problem. Build with :meth:`build`; re-solve with :meth:`solve`."""

    def __init__(self, frame: Frame, problem: cp.Problem, named: list[Named]) -> None:
        self.frame = frame
        self.problem = problem
        self.named = named
        self._compiled: Compiled | None = None
        self._chain = None
        self._inverse = None

    @classmethod
    def build(
        cls, frame: Frame, objective: cp.Minimize | cp.Maximize, named: list[Named]
    ) -> Program:
        """Assemble, check DPP, and compile once."""
        problem = cp.Problem(objective, [n.constraint for n in named])
        if not problem.is_dpp():
            raise SolverError("internal: the problem is not DPP, re-solves would recompile")
        prog = cls(frame, problem, named)
        prog._compile()
        return prog

    def _compile(self) -> None:
        self._set_dummy_values()
        data, chain, inverse = self.problem.get_problem_data(cp.CLARABEL)
        self._compiled = Compiled.from_problem_data(data, self.problem)
        inverse[-1].solver_options = {}  # read by cvxpy's Clarabel inversion
        self._chain, self._inverse = chain, inverse

    def _set_dummy_values(self) -> None:
        for p in self.problem.parameters():
            if p.value is None:
                p.value = np.zeros(p.shape)

    @property
    def is_lp(self) -> bool:
        assert self._compiled is not None
        return self._compiled.is_lp

    def chain(self) -> tuple[SolverName, ...]:
        """Solvers to try in order for this problem class."""
        if self.is_lp:
            return (SolverName.HIGHS, SolverName.CLARABEL, SolverName.SCS)
        return (SolverName.CLARABEL, SolverName.SCS)

    def solve(self, *, duals: bool = True) -> SolveReport:
        """Solve with the current Parameter values; variables (and duals) get their values."""
        assert self._compiled is not None
        tried: list[str] = []
        start = time.perf_counter()
        last = Outcome.FAILED
        for name in self.chain():
            outcome = self._try(name, duals)
            if outcome in (Outcome.OPTIMAL, Outcome.INACCURATE):
                return SolveReport(
                    name.value, outcome.value, time.perf_counter() - start, tuple(tried)
                )
            if outcome in (Outcome.INFEASIBLE, Outcome.UNBOUNDED):
                last = outcome
                break
            tried.append(name.value)
        self._raise(last, tried)
        raise AssertionError("unreachable")

    def _try(self, name: SolverName, duals: bool) -> Outcome:
        assert self._compiled is not None
        try:
            if name is SolverName.SCS:
                return self._solve_cvxpy(cp.SCS)
            raw = (solve_highs if name is SolverName.HIGHS else solve_clarabel)(self._compiled)
        except Exception:  # a solver crash is a reason to fall back, not a traceback
            return Outcome.FAILED
        outcome = _CLARABEL_STATUS.get(raw.status, Outcome.FAILED)
        if outcome in (Outcome.OPTIMAL, Outcome.INACCURATE):
            self._unpack(raw, duals)
        return outcome

    def _unpack(self, raw: RawSolution, duals: bool) -> None:
        if duals:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.problem.unpack_results(raw, self._chain, self._inverse)
            return
        assert self._compiled is not None
        for var, (col, size) in self._compiled.columns(self.frame).items():
            var.value = raw.x[col : col + size] if var.shape else raw.x[col]

    def _solve_cvxpy(self, solver: str) -> Outcome:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.problem.solve(solver=solver)
        status = self.problem.status
        if status == cp.OPTIMAL:
            return Outcome.OPTIMAL
        if status == cp.OPTIMAL_INACCURATE:
            return Outcome.INACCURATE
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

"""Why a problem is infeasible: an elastic relaxation of the policy's constraints.

Every POLICY constraint ``g(w) <= 0`` becomes ``g(w) <= s`` with a slack ``s >= 0`` (an
equality gets ``|g(w)| <= s``); minimising ``sum(s)`` (an L1 norm, so few slacks are
non-zero) gives a smallest set of constraints that conflict, and by how much each would
have to move. STRUCTURE rows (budget, helper variables) stay hard; the objective is dropped.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np

from optimizer.errors import InfeasibleError
from optimizer.optimize.frame import Frame, Named, Numbers, Role

_TOL = 1e-8  # slacks below this are the relaxation's own noise


@dataclass(frozen=True)
class Conflict:
    """One constraint in the conflict and how far it would have to move (in its units)."""

    constraint: str
    needs: float  # slack: a "<=" bound must rise by this much, a ">=" bound fall by it


@dataclass(frozen=True)
class Diagnosis:
    """The smallest relaxation that makes the policy feasible."""

    conflicts: tuple[Conflict, ...]
    total_slack: float
    binding: tuple[str, ...] = ()  # at their limits and part of the conflict, not moved

    def summary(self) -> str:
        parts = "; ".join(
            f"{c.constraint} must be loosened by {c.needs:.4g}" for c in self.conflicts
        )
        return f"{parts} (against {', '.join(self.binding)})" if self.binding else parts


def _relax(n: Named) -> tuple[list[cp.Constraint], cp.Variable, tuple[str, ...]]:
    con = n.constraint
    expr = con.expr if hasattr(con, "expr") else con.args[0] - con.args[1]
    s = cp.Variable(expr.shape, nonneg=True)
    if isinstance(con, cp.constraints.Zero | cp.constraints.Equality):
        rows = [expr <= s, -expr <= s]
    else:
        rows = [expr <= s]
    size = int(np.prod(expr.shape)) if expr.shape else 1
    labels = n.labels if len(n.labels) == size else n.labels * size
    return rows, s, labels


def diagnose(built: Any, x: Numbers) -> Diagnosis | None:
    """Elastic relaxation of ``built``'s policy under the numbers ``x``; None if it fails."""
    frame = Frame(built.universe.n_assets, homogeneous=False, tax_lots=built.frame.tax_lots)
    named: list[Named] = [n for t in built.terms for n in t.add(frame)]
    _, rows = built.objective.build(frame)
    named += [r for r in rows if r.role is not Role.OBJECTIVE] + frame.extra
    frame.bind(x)
    for t in built.terms:
        t.bind(frame, x)
    built.objective.bind(frame, x)
    frame.push()
    hard: list[cp.Constraint] = []
    slacks: list[tuple[cp.Variable, tuple[str, ...]]] = []
    rows: list[tuple[list[cp.Constraint], tuple[str, ...]]] = []
    for n in named:
        if n.role is Role.STRUCTURE:
            hard.append(n.constraint)
            continue
        relaxed, s, labels = _relax(n)
        hard += relaxed
        slacks.append((s, labels))
        rows.append((relaxed, labels))
    problem = cp.Problem(cp.Minimize(sum(cp.sum(s) for s, _ in slacks)), hard)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            problem.solve(solver=cp.CLARABEL)
        except cp.SolverError:
            return None
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        return None
    moves = [
        Conflict(label, float(v))
        for s, labels in slacks
        for label, v in zip(labels, np.atleast_1d(s.value), strict=True)
    ]
    moves.sort(key=lambda c: -c.needs)
    conflicts = [c for c in moves if c.needs > _TOL]
    return Diagnosis(tuple(conflicts), float(problem.value), _binding(rows, conflicts))


def _binding(
    rows: list[tuple[list[cp.Constraint], tuple[str, ...]]], conflicts: list[Conflict]
) -> tuple[str, ...]:
    """Policy constraints left at their limits whose multipliers are positive: moving one
    of them would also shrink the conflict (e.g. a turnover limit that keeps a group bound
    out of reach). An asset's ``>= 0`` bound is left out: going short is rarely the
    answer, and the moved constraints already say how far the policy is from feasible."""
    moved = {c.constraint for c in conflicts}
    out: dict[str, None] = {}
    for relaxed, labels in rows:
        dual = sum(np.abs(np.atleast_1d(r.dual_value)) for r in relaxed if r.dual_value is not None)
        for label, y in zip(labels, np.broadcast_to(dual, (len(labels),)), strict=True):
            if y > 1e-6 and label not in moved and not label.endswith(">= 0"):
                out[label] = None
    return tuple(out)


def explain_infeasible(built: Any, x: Numbers) -> InfeasibleError:
    """The InfeasibleError to raise for ``built`` under ``x``, with its diagnosis."""
    d = diagnose(built, x)
    if d is None:
        return InfeasibleError("the constraints admit no portfolio (diagnosis failed)")
    if d.conflicts:
        return InfeasibleError(f"constraints conflict: {d.summary()}", diagnosis=d)
    if built.frame.homogeneous:  # max Sharpe: feasible policy, but no positive excess return
        taxed = " after the tax of its trades" if built.frame.tax_lots else ""
        return InfeasibleError(
            "max Sharpe needs a portfolio whose expected return beats the risk-free return"
            f"{taxed}, and none within the constraints does",
            diagnosis=d,
            key="objective.kind",
            value="max_sharpe",
            hint="use min_variance, utility or min_cvar, or loosen the constraints",
        )
    return InfeasibleError("the constraints admit no portfolio", diagnosis=d)

"""Entropy pooling (Meucci, 2008): the scenario probabilities closest to the prior that
satisfy linear views.

Primal, over the probabilities ``p`` of the ``S`` scenarios (rows of the sample matrix)::

    min  sum_s p_s log(p_s / q_s)
    s.t. A p == b      (equality views, one row each)
         G p <= h      (inequality views, written as <=)
         sum(p) == 1,  p >= 0

Its solution is ``p_s = q_s exp(-(A'lam + G'nu)_s) / Z`` and the dual is the smooth convex
problem ``min_{lam, nu >= 0} log Z(lam, nu) + lam'b + nu'h`` with gradient
``(b - A p, h - G p)``. It has one variable per view, so L-BFGS-B solves it in a few
milliseconds for any number of scenarios; ``log Z`` is a log-sum-exp for stability.

A view set with no feasible ``p`` (a target outside the range of the scenario values, or
two views that contradict each other) makes the dual unbounded. :func:`find_conflict`
confirms infeasibility with a linear program and names an irreducible set of views.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog, minimize

TOL = 1e-9  # largest violation of a view the dual solve accepts (absolute)


@dataclass(frozen=True)
class LinearViews:
    """Views as rows on the probabilities: ``A p == b`` and ``G p <= h``.

    A: (n_eq, S), b: (n_eq,), G: (n_ineq, S), h: (n_ineq,). ``eq_names`` / ``ineq_names``
    name each row (used in messages).
    """

    A: np.ndarray
    b: np.ndarray
    G: np.ndarray
    h: np.ndarray
    eq_names: tuple[str, ...] = ()
    ineq_names: tuple[str, ...] = ()

    @classmethod
    def empty(cls, n_scenarios: int) -> LinearViews:
        z = np.zeros((0, n_scenarios))
        return cls(z, np.zeros(0), z.copy(), np.zeros(0))

    @property
    def n_rows(self) -> int:
        return len(self.b) + len(self.h)

    def names(self) -> tuple[str, ...]:
        return (*self.eq_names, *self.ineq_names)

    def violations(self, p: np.ndarray) -> np.ndarray:
        """How much each row is violated by ``p`` (0 when it holds), shape (n_rows,)."""
        eq = np.abs(self.A @ p - self.b)
        ineq = np.maximum(self.G @ p - self.h, 0.0)
        return np.concatenate([eq, ineq])

    def subset(self, keep: list[int]) -> LinearViews:
        """The rows numbered ``keep`` (equality rows first, then inequality rows)."""
        n_eq = len(self.b)
        eq = [k for k in keep if k < n_eq]
        ineq = [k - n_eq for k in keep if k >= n_eq]
        return LinearViews(
            self.A[eq],
            self.b[eq],
            self.G[ineq],
            self.h[ineq],
            tuple(self.eq_names[k] for k in eq) if self.eq_names else (),
            tuple(self.ineq_names[k] for k in ineq) if self.ineq_names else (),
        )


@dataclass(frozen=True)
class Pooled:
    """The posterior of one entropy-pooling solve.

    p: (S,) posterior probabilities; multipliers: (n_rows,) dual values (equality rows
    first); converged: every view holds within ``TOL``; iterations of L-BFGS-B.
    """

    p: np.ndarray
    multipliers: np.ndarray
    max_violation: float
    converged: bool
    iterations: int


def entropy_pooling(
    q: np.ndarray,
    views: LinearViews,
    *,
    tol: float = TOL,
    maxiter: int = 2000,
    x0: np.ndarray | None = None,
) -> Pooled:
    """Minimum relative entropy probabilities subject to ``views`` (dual, L-BFGS-B).

    q: prior probabilities, (S,), positive, summing to 1; x0: a starting point for the
    multipliers (the ``multipliers`` of an earlier, unfinished solve).
    """
    q = np.asarray(q, dtype=float)
    if views.n_rows == 0:
        return Pooled(q.copy(), np.zeros(0), 0.0, True, 0)
    C = np.vstack([views.A, views.G])  # (n_rows, S)
    d = np.concatenate([views.b, views.h])
    n_eq = len(views.b)
    log_q = np.log(q)
    # rows scaled to unit spread: the dual's curvature is then of order one in every direction
    spread = np.abs(C - C.mean(axis=1, keepdims=True)).max(axis=1)
    size = np.maximum(np.abs(C).max(axis=1), 1.0)
    scale = 1.0 / np.where(spread > 1e-12 * size, spread, size)  # a constant row: unscaled
    Cs, ds = C * scale[:, None], d * scale

    def dual(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = log_q - theta @ Cs
        top = z.max()
        e = np.exp(z - top)
        total = e.sum()
        log_Z = top + np.log(total)  # log-sum-exp
        return float(log_Z + theta @ ds), ds - Cs @ (e / total)

    bounds = [(None, None)] * n_eq + [(0.0, None)] * len(views.h)
    res = minimize(
        dual,
        np.zeros(len(d)) if x0 is None else np.asarray(x0, dtype=float) / scale,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        # L-BFGS-B to 1e-7 in the scaled rows; Newton takes it the rest of the way
        options={"maxiter": maxiter, "ftol": 0.0, "gtol": 1e-7, "maxcor": 20},
    )
    theta = _newton_polish(res.x, Cs, ds, log_q, n_eq)
    z = log_q - theta @ Cs
    p = _softmax(z)
    worst = float(views.violations(p).max())
    return Pooled(p, theta * scale, worst, worst <= tol, int(res.nit))


def _softmax(z: np.ndarray) -> np.ndarray:
    """``exp(z) / sum(exp(z))``, normalised explicitly: with multipliers near 1e16 the
    log-sum-exp loses the digits of ``z`` that tell the scenarios apart."""
    p = np.exp(z - z.max())
    return p / p.sum()


def _newton_polish(
    theta: np.ndarray, Cs: np.ndarray, ds: np.ndarray, log_q: np.ndarray, n_eq: int
) -> np.ndarray:
    """A few Newton steps on the dual's active rows (equalities, and inequalities with a
    positive multiplier or a violated row): L-BFGS-B's line search stalls near 1e-9, Newton
    converges quadratically from there. The Hessian is the covariance of the rows under p.
    """
    for _ in range(8):
        z = log_q - theta @ Cs
        p = _softmax(z)
        g = ds - Cs @ p
        active = np.ones(len(theta), dtype=bool)
        active[n_eq:] = (theta[n_eq:] > 0) | (g[n_eq:] < 0)
        if not active.any() or np.abs(g[active]).max() < 1e-13:
            break
        Ca = Cs[active]
        m = Ca @ p
        H = (Ca * p) @ Ca.T - np.outer(m, m)
        step = np.linalg.lstsq(H, -g[active], rcond=None)[0]
        new = theta.copy()
        new[active] += step
        new[n_eq:] = np.maximum(new[n_eq:], 0.0)
        theta = new
    return theta


def find_conflict(views: LinearViews) -> list[int] | None:
    """An irreducible set of rows with no probability vector satisfying them all, or None
    when the views are jointly feasible (a linear program, HiGHS).

    Deletion filter: drop each row in turn and keep it out when the rest stay infeasible;
    what remains is infeasible and every proper subset of it is feasible.
    """
    if _feasible(views):
        return None
    keep = list(range(views.n_rows))
    for k in range(views.n_rows):
        trial = [j for j in keep if j != k]
        if not _feasible(views.subset(trial)):
            keep = trial
    return keep


def _feasible(views: LinearViews, slack: float = 1e-12) -> bool:
    S = views.A.shape[1]
    A_eq = np.vstack([views.A, np.ones((1, S))])
    b_eq = np.concatenate([views.b, [1.0]])
    res = linprog(
        np.zeros(S),
        A_ub=views.G if len(views.h) else None,
        b_ub=views.h + slack if len(views.h) else None,
        A_eq=A_eq,
        b_eq=b_eq,
        bounds=(0, None),
        method="highs",
    )
    return bool(res.status == 0)


def relative_entropy(p: np.ndarray, q: np.ndarray) -> float:
    """``sum p log(p / q)`` with ``0 log 0 = 0``."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    on = p > 0
    return float(np.sum(p[on] * np.log(p[on] / q[on])))


def effective_scenarios(p: np.ndarray) -> float:
    """``exp(-sum p log p)``: S for equal probabilities, 1 when one scenario has them all."""
    p = np.asarray(p, dtype=float)
    on = p > 0
    return float(np.exp(-np.sum(p[on] * np.log(p[on]))))

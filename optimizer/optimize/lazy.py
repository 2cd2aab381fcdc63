"""Row generation for LPs with many dense inequality rows (the CVaR tail rows).

At a CVaR optimum only about ``(1 - level) S`` of the ``S`` tail rows ``u >= -R w - alpha``
hold with equality. HiGHS first solves the LP with the sparse rows and a spread-out subset
of the dense ones, then repeatedly adds the most violated dense rows and re-solves from the
previous basis (dual simplex), until no dense row is violated. The result is the optimum of
the full LP (a relaxation's optimum that satisfies every row); dense rows never added have
dual zero. The rows are the compiled problem's own ``(A, b)``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

LAZY_MIN_ROWS = 500  # at least this many dense inequality rows to use row generation
_DENSE_NNZ = 3  # rows with this many nonzeros or more are candidates
_VIOL_TOL = 1e-9
_MAX_ROUNDS = 50


def dense_rows(A: sp.csr_array, n_eq: int) -> np.ndarray:
    """Inequality rows with at least ``_DENSE_NNZ`` nonzeros."""
    nnz = np.diff(A.indptr)
    rows = np.flatnonzero(nnz >= _DENSE_NNZ)
    return rows[rows >= n_eq]


def solve_rows_lazily(
    q: np.ndarray, A: sp.csr_array, b: np.ndarray, n_eq: int, lazy: np.ndarray
) -> tuple[str, np.ndarray | None, np.ndarray | None, float, float, int]:
    """``min q'x  s.t.  A[:n_eq] x = b[:n_eq],  A[n_eq:] x <= b[n_eq:]`` by row generation.

    Returns ``(status, x, z, objective, seconds, iterations)`` with ``z`` in Clarabel's
    convention (``z = -row_dual``), zero on rows never added.
    """
    import highspy

    from optimizer import highs

    inf = highspy.kHighsInf
    m, n = A.shape
    h = highs.new()
    highs.check(h.addVars(n, np.full(n, -inf), np.full(n, inf)), "addVars")
    highs.check(h.changeColsCost(n, np.arange(n, dtype=np.int32), q), "changeColsCost")
    is_lazy = np.zeros(m, dtype=bool)
    is_lazy[lazy] = True
    order: list[np.ndarray] = []

    def add(rows: np.ndarray) -> None:
        sub = A[rows]
        lower = np.where(rows < n_eq, b[rows], -inf)
        status = h.addRows(
            len(rows),
            lower,
            b[rows],
            sub.nnz,
            sub.indptr[:-1].astype(np.int32),
            sub.indices.astype(np.int32),
            sub.data,
        )
        highs.check(status, "addRows")
        order.append(rows)

    add(np.flatnonzero(~is_lazy))
    batch = max(100, len(lazy) // 10)
    add(lazy[np.linspace(0, len(lazy) - 1, batch).astype(int)])
    is_lazy[order[-1]] = False
    iterations = 0
    for _ in range(_MAX_ROUNDS):
        status = highs.run(h)
        info = h.getInfo()
        iterations += int(info.simplex_iteration_count + info.ipm_iteration_count)
        if status != "Optimal":
            return status, None, None, 0.0, float(h.getRunTime()), iterations
        x = np.asarray(h.getSolution().col_value)
        waiting = np.flatnonzero(is_lazy)
        viol = A[waiting] @ x - b[waiting]
        scale = 1.0 + np.abs(b[waiting])
        worst = np.argsort(-viol / scale)[:batch]
        new = waiting[worst[viol[worst] > _VIOL_TOL * scale[worst]]]
        if not len(new):
            sol = h.getSolution()
            z = np.zeros(m)
            z[np.concatenate(order)] = -np.asarray(sol.row_dual)
            obj = float(info.objective_function_value)
            return "Optimal", x, z, obj, float(h.getRunTime()), iterations
        add(new)
        is_lazy[new] = False
    return "Iteration limit", None, None, 0.0, float(h.getRunTime()), iterations

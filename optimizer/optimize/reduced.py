"""Large mean-variance problems as a dense QP in the weights, solved by PIQP's dense backend.

cvxpy compiles ``sum_squares(Lt @ w)`` into auxiliary variables ``t = Lt w`` with a
diagonal ``P`` on ``t``. A sparse KKT solver (Clarabel's LDL) then pays for the dense
``Lt`` block at every iteration. Here the same compiled data ``(P, q, A, b)`` is first
reduced by eliminating each auxiliary variable through its defining equality row (exact:
``t = m + M w``), which leaves a QP in the weights with a dense Hessian
``H = P_uu + M' P_tt M``:

    min 1/2 u'Hu + c'u   s.t.   E u = f,   G u <= h,

handed to PIQP (a proximal interior-point method; dense Cholesky of size ``n_assets``).
Rows of ``G`` with a single nonzero are passed as variable bounds. The solution and the
duals are mapped back to the compiled problem's ``x`` and ``z`` (Clarabel's sign
conventions), so cvxpy's dual map reads them unchanged. Only problems whose cones are zero
and nonnegative (QPs and LPs) qualify.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp

from optimizer.optimize.solvers import Compiled, RawSolution

_TOL = 1e-9  # PIQP's absolute and relative tolerances, on the objective scaled to O(1)
_MAX_ITER = 250


@dataclass
class Elimination:
    """Which variables are eliminated through which equality rows (found at build)."""

    keep: np.ndarray  # variable indices kept (u)
    elim: np.ndarray  # variable indices eliminated (t)
    rows: np.ndarray  # the equality row defining each eliminated variable
    other_eq: np.ndarray  # equality rows kept as constraints

    @classmethod
    def find(cls, c: Compiled) -> Elimination | None:
        """Variables with only a diagonal ``P`` entry, no cost and a single nonzero in ``A``,
        lying in an equality row; None when there are none or cones other than LP/QP."""
        if c.dims.soc or c.dims.psd or c.dims.exp or c.P is None:
            return None
        n, n_eq = c.n_var, c.dims.zero
        A = sp.csc_array((np.ones(len(c.A.indices)), c.A.indices, c.A.indptr), shape=c.A.shape)
        P = sp.csc_array((np.ones(len(c.P.indices)), c.P.indices, c.P.indptr), shape=c.P.shape)
        q_struct = np.asarray(abs(c.q_tensor).sum(axis=1)).ravel()[:n] > 0
        col_nnz = np.diff(A.indptr)
        P_full = (P + P.T).tocsc()
        taken: set[int] = set()
        elim, rows = [], []
        for j in range(n):
            if q_struct[j] or col_nnz[j] != 1:
                continue
            pj = P_full.indices[P_full.indptr[j] : P_full.indptr[j + 1]]
            if np.any(pj != j):
                continue
            r = int(A.indices[A.indptr[j]])
            if r >= n_eq or r in taken:
                continue
            taken.add(r)
            elim.append(j)
            rows.append(r)
        if not elim:
            return None
        keep = np.setdiff1d(np.arange(n), elim)
        other = np.setdiff1d(np.arange(n_eq), rows)
        return cls(keep, np.array(elim), np.array(rows), other)


def solve_reduced(c: Compiled, e: Elimination) -> RawSolution:
    """Reduce, solve with PIQP's dense backend, and map back to the compiled ``x`` and ``z``."""
    P, q, A, b = c.data()
    A = A.tocsr()
    n_eq = c.dims.zero
    d = P.diagonal()[e.elim]  # P_tt (diagonal)
    a = A[e.rows][:, e.elim].diagonal()  # coefficient of each t in its row
    B = A[e.rows][:, e.keep].toarray()
    M = -B / a[:, None]  # t = m + M u
    m = b[e.rows] / a
    P_uu = P[e.keep][:, e.keep].toarray()
    H = P_uu + np.triu(P_uu, 1).T + _gram_of(M, d)
    cvec = q[e.keep] + M.T @ (d * m)
    E = A[e.other_eq][:, e.keep].toarray()
    f = b[e.other_eq]
    G = A[n_eq:][:, e.keep].tocsr()
    h = b[n_eq:]
    u, y, lam, status, iters, seconds = _piqp(H, cvec, E, f, G, h)
    x = np.zeros(c.n_var)
    x[e.keep] = u
    x[e.elim] = m + M @ u
    z = np.zeros(len(b))
    z[e.other_eq] = y
    z[e.rows] = -d * x[e.elim] / a
    z[n_eq:] = lam
    obj = 0.5 * u @ H @ u + cvec @ u + 0.5 * float(m @ (d * m))
    return RawSolution(status, x, z, float(obj), seconds, iters)


def _gram_of(M: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``M' diag(d) M``, shape (n, n); a symmetric rank-k update (half the work) when d >= 0."""
    if np.all(d >= 0):
        R = np.sqrt(d)[:, None] * M
        upper = la.blas.dsyrk(1.0, R, trans=1)
        return np.triu(upper) + np.triu(upper, 1).T
    return M.T @ (d[:, None] * M)


_PIQP_STATUS = {  # PIQP's words -> Clarabel's, which the program maps to outcomes
    "PIQP_SOLVED": "Solved",
    "PIQP_PRIMAL_INFEASIBLE": "PrimalInfeasible",
    "PIQP_DUAL_INFEASIBLE": "DualInfeasible",
    "PIQP_MAX_ITER_REACHED": "MaxIterations",
    "PIQP_NUMERICS": "NumericalError",
}


def _piqp(
    H: np.ndarray, c: np.ndarray, E: np.ndarray, f: np.ndarray, G: sp.csr_array, h: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, int, float]:
    """``min u'Hu/2 + c'u, Eu = f, Gu <= h`` with PIQP's dense solver.

    H: (n, n) PSD; E: (p, n); G: (m, n) sparse. Rows of ``G`` with one nonzero become the
    bounds ``x_l <= u <= x_u`` (the tightest per variable carries the dual). Returns
    ``(u, y, lambda, status, iterations, seconds)``; ``lambda >= 0`` is the dual of every row
    of ``G``, status in Clarabel's words.
    """
    import piqp

    sigma = max(float(np.abs(np.diag(H)).max(initial=0)), float(np.abs(c).max(initial=0)), 1e-300)
    n = len(c)
    nnz = np.diff(G.indptr)
    single = np.flatnonzero(nnz == 1)
    general = np.flatnonzero(nnz != 1)
    col = G.indices[G.indptr[single]]
    coef = G.data[G.indptr[single]]
    bound = h[single] / coef
    upper_rows, lower_rows = coef > 0, coef < 0
    x_u, x_l = np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(x_u, col[upper_rows], bound[upper_rows])
    np.maximum.at(x_l, col[lower_rows], bound[lower_rows])
    Gd = G[general].toarray() if len(general) else np.zeros((0, n))
    solver = piqp.DenseSolver()
    s = solver.settings
    s.verbose = False
    s.eps_abs = s.eps_rel = _TOL
    s.max_iter = _MAX_ITER
    solver.setup(
        np.asfortranarray(H / sigma),
        c / sigma,
        np.asfortranarray(E) if E.shape[0] else None,
        f if E.shape[0] else None,
        np.asfortranarray(Gd) if Gd.shape[0] else None,
        None,
        h[general] if Gd.shape[0] else None,
        x_l,
        x_u,
    )
    status = _PIQP_STATUS.get(solver.solve().name, "NumericalError")
    r = solver.result
    u = np.asarray(r.x)
    lam = np.zeros(len(h))
    if Gd.shape[0]:
        lam[general] = sigma * (np.asarray(r.z_u) - np.asarray(r.z_l))
    # a bound row's dual: the bound multiplier over |coef|, on the row that set the bound
    z_bu, z_bl = sigma * np.asarray(r.z_bu), sigma * np.asarray(r.z_bl)
    for rows_mask, limit, mult in ((upper_rows, x_u, z_bu), (lower_rows, x_l, z_bl)):
        rows, cols = single[rows_mask], col[rows_mask]
        setting = bound[rows_mask] == limit[cols]  # rows that set their variable's bound
        cols, first = np.unique(cols[setting], return_index=True)
        lam[rows[setting][first]] = mult[cols] / np.abs(coef[rows_mask][setting][first])
    y = sigma * np.asarray(r.y) if E.shape[0] else np.zeros(0)
    info = r.info
    return u, y, lam, status, int(info.iter), float(info.run_time)

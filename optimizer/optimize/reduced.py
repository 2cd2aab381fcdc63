"""Large mean-variance problems as a dense QP in the weights, solved by PIQP's dense backend.

cvxpy compiles ``sum_squares(Lt @ w)`` into auxiliary variables ``t = Lt w`` with a
diagonal ``P`` on ``t``. A sparse KKT solver (Clarabel's LDL) then pays for the dense
``Lt`` block at every iteration. Here the same compiled data ``(P, q, A, b)`` is first
reduced by eliminating each auxiliary variable through its defining equality row (exact:
``t = m + M w``), which leaves a QP in the weights with a dense Hessian
``H = P_uu + M' P_tt M``:

    min 1/2 u'Hu + c'u   s.t.   E u = f,   G u <= h,

handed to PIQP (a proximal interior-point method; dense Cholesky of size ``n_assets``).
The blocks ``B``, ``E``, ``G`` are gathered straight from the compiled data vector through
positions found once (no sparse slicing per solve). Rows of ``G`` with one nonzero (at this
solve's values) are passed as variable bounds. Rows with two nonzeros over variables that
cannot make the problem unbounded (curved, or without cost) - the ``w <= hi k`` rows of max
Sharpe, for example - start out deferred: PIQP solves without them, the violated ones are
added and the problem solved again, until none is violated (the optimum of a relaxation
that satisfies every row is the optimum; deferred rows that never enter have dual 0). If a
relaxation does not solve, every row goes in. The solution and the duals are mapped back to
the compiled problem's ``x`` and ``z`` (Clarabel's sign conventions), so cvxpy's dual map
reads them unchanged. Only problems whose cones are zero and nonnegative qualify.
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
    """Which variables are eliminated through which equality rows, and where each block of
    the reduced problem sits in the compiled data vectors (found once, at build)."""

    keep: np.ndarray  # variable indices kept (u)
    elim: np.ndarray  # variable indices eliminated (t)
    rows: np.ndarray  # the equality row defining each eliminated variable
    other_eq: np.ndarray  # equality rows kept as constraints
    gather: _Gather

    @classmethod
    def find(cls, c: Compiled) -> Elimination | None:
        """Variables with only a diagonal ``P`` entry (or none), no cost and a single nonzero
        in ``A``, lying in an equality row; None when there are none or cones other than
        LP/QP."""
        if c.dims.soc or c.dims.psd or c.dims.exp or c.P is None:
            return None
        n, n_eq = c.n_var, c.dims.zero
        P = sp.csc_array((np.ones(len(c.P.indices)), c.P.indices, c.P.indptr), shape=c.P.shape)
        P_full = (P + P.T).tocsc()
        p_nnz = np.diff(P_full.indptr)
        diagonal_only = (p_nnz == 0) | ((p_nnz == 1) & (P_full.diagonal() > 0))
        no_cost = np.asarray(abs(c.q_tensor).sum(axis=1)).ravel()[:n] == 0
        col_nnz = np.diff(c.A.indptr)
        row_of = np.full(n, -1)
        single = col_nnz == 1
        row_of[single] = c.A.indices[c.A.indptr[:-1][single]]
        ok = no_cost & single & diagonal_only & (row_of >= 0) & (row_of < n_eq)
        cand = np.flatnonzero(ok)
        rows, first = np.unique(row_of[cand], return_index=True)  # one variable per row
        if not len(rows):
            return None
        elim = cand[first]
        order = np.argsort(elim)
        elim, rows = elim[order], rows[order]
        keep = np.setdiff1d(np.arange(n), elim)
        other = np.setdiff1d(np.arange(n_eq), rows)
        return cls(keep, elim, rows, other, _Gather.of(c, keep, elim, rows, other))


@dataclass
class _Gather:
    """Positions in the compiled data vectors (``A`` values in pattern order, ``P`` values)
    of each block of the reduced problem."""

    n_keep: int
    b_pos: np.ndarray  # A entries of B (defining rows x kept variables) ...
    b_at: np.ndarray  # ... and their flat index in B
    a_pos: np.ndarray  # A entry of each eliminated variable in its row
    e_pos: np.ndarray  # A entries of E (other equality rows x kept)
    e_at: np.ndarray
    g_pos: np.ndarray  # A entries of G (inequality rows x kept)
    g_row: np.ndarray
    g_col: np.ndarray
    p_pos: np.ndarray  # P entries of P_uu (upper triangle) ...
    p_at: np.ndarray  # ... and their flat index in P_uu
    d_pos: np.ndarray  # P entry of each eliminated variable's diagonal (-1: none)

    @classmethod
    def of(
        cls, c: Compiled, keep: np.ndarray, elim: np.ndarray, rows: np.ndarray, other: np.ndarray
    ) -> _Gather:
        n, m, n_eq, nk = c.n_var, c.A.shape[0], c.dims.zero, len(keep)
        col_of = np.full(n, -1)
        col_of[keep] = np.arange(nk)
        a_row, a_col = c.A.indices, np.repeat(np.arange(n), np.diff(c.A.indptr))
        b_of, e_of = np.full(m, -1), np.full(m, -1)
        b_of[rows], e_of[other] = np.arange(len(rows)), np.arange(len(other))
        kc = col_of[a_col]
        in_b = (b_of[a_row] >= 0) & (kc >= 0)
        in_e = (e_of[a_row] >= 0) & (kc >= 0)
        in_g = (a_row >= n_eq) & (kc >= 0)
        elim_of = np.full(n, -1)
        elim_of[elim] = np.arange(len(elim))
        a_pos = np.empty(len(elim), dtype=np.int64)
        is_a = elim_of[a_col] >= 0
        a_pos[elim_of[a_col[is_a]]] = np.flatnonzero(is_a)
        p_row, p_col = c.P.indices, np.repeat(np.arange(n), np.diff(c.P.indptr))
        in_p = (col_of[p_row] >= 0) & (col_of[p_col] >= 0)
        d_pos = np.full(len(elim), -1)
        on_diag = (p_row == p_col) & (elim_of[p_col] >= 0)
        d_pos[elim_of[p_col[on_diag]]] = np.flatnonzero(on_diag)
        return cls(
            n_keep=nk,
            b_pos=np.flatnonzero(in_b),
            b_at=b_of[a_row[in_b]] * nk + kc[in_b],
            a_pos=a_pos,
            e_pos=np.flatnonzero(in_e),
            e_at=e_of[a_row[in_e]] * nk + kc[in_e],
            g_pos=np.flatnonzero(in_g),
            g_row=a_row[in_g] - n_eq,
            g_col=kc[in_g],
            p_pos=np.flatnonzero(in_p),
            p_at=col_of[p_row[in_p]] * nk + col_of[p_col[in_p]],
            d_pos=d_pos,
        )


def solve_reduced(c: Compiled, e: Elimination) -> RawSolution:
    """Reduce, solve with PIQP's dense backend, and map back to the compiled ``x`` and ``z``."""
    g, nk = e.gather, e.gather.n_keep
    p = c.param_vector()
    q = np.asarray(c.q_tensor @ p).ravel()[:-1]
    A_vals, b = c.A.values(p, sign=-1.0)
    P_vals = c.P.values(p)[0]
    n_eq = c.dims.zero
    d = np.where(g.d_pos >= 0, P_vals[g.d_pos], 0.0)  # P_tt (diagonal)
    a = A_vals[g.a_pos]  # coefficient of each t in its row
    M = np.zeros((len(e.rows), nk))
    M.flat[g.b_at] = A_vals[g.b_pos]
    M /= -a[:, None]  # t = m + M u
    m = b[e.rows] / a
    H = np.zeros((nk, nk))  # upper triangle only: PIQP reads no more
    H.flat[g.p_at] = P_vals[g.p_pos]  # P is stored upper, and ``keep`` is sorted
    _add_gram(H, M, d)
    cvec = q[e.keep] + M.T @ (d * m)
    E = np.zeros((len(e.other_eq), nk))
    E.flat[g.e_at] = A_vals[g.e_pos]
    vals = A_vals[g.g_pos]
    nz = vals != 0.0
    G = sp.csr_array((vals[nz], (g.g_row[nz], g.g_col[nz])), shape=(len(b) - n_eq, nk))
    u, y, lam, status, iters, seconds = _piqp(H, cvec, E, b[e.other_eq], G, b[n_eq:])
    x = np.zeros(c.n_var)
    x[e.keep] = u
    x[e.elim] = m + M @ u
    z = np.zeros(len(b))
    z[e.other_eq] = y
    z[e.rows] = -d * x[e.elim] / a
    z[n_eq:] = lam
    uHu = 2.0 * float(u @ (H @ u)) - float(np.diag(H) @ (u * u))  # H holds one triangle
    obj = 0.5 * uHu + cvec @ u + 0.5 * float(m @ (d * m))
    return RawSolution(status, x, z, float(obj), seconds, iters)


def _add_gram(H: np.ndarray, M: np.ndarray, d: np.ndarray) -> None:
    """``H += M' diag(d) M`` in the upper triangle (a symmetric rank-k update when d >= 0)."""
    if np.all(d >= 0):
        R = np.asfortranarray(np.sqrt(d)[:, None] * M)
        H += la.blas.dsyrk(1.0, R, trans=1)  # upper triangle, zeros below
        return
    H += np.triu(M.T @ (d[:, None] * M))


_PIQP_STATUS = {  # PIQP's words -> Clarabel's, which the program maps to outcomes
    "PIQP_SOLVED": "Solved",
    "PIQP_PRIMAL_INFEASIBLE": "PrimalInfeasible",
    "PIQP_DUAL_INFEASIBLE": "DualInfeasible",
    "PIQP_MAX_ITER_REACHED": "MaxIterations",
    "PIQP_NUMERICS": "NumericalError",
}
_MAX_ROUNDS = 8
_VIOL_TOL = 1e-9


def _piqp(
    H: np.ndarray, c: np.ndarray, E: np.ndarray, f: np.ndarray, G: sp.csr_array, h: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, int, float]:
    """``min u'Hu/2 + c'u, Eu = f, Gu <= h`` with PIQP's dense solver, deferring the rows
    that may be deferred (module docstring).

    H: (n, n), upper triangle; E: (p, n); G: (m, n) sparse with no explicit zeros. Returns
    ``(u, y, lambda, status, iterations, seconds)``; ``lambda >= 0`` is the dual of every row
    of ``G``; status in Clarabel's words.
    """
    nnz = np.diff(G.indptr)
    single = nnz == 1
    safe = (np.diag(H) > 0) | (c == 0)  # variables a deferred row may leave free
    two = np.flatnonzero(nnz == 2)
    start = G.indptr[two]
    active = np.ones(len(h), dtype=bool)
    active[two[safe[G.indices[start]] & safe[G.indices[start + 1]]]] = False
    iters, seconds = 0, 0.0
    for _ in range(_MAX_ROUNDS):
        u, y, lam_in, status, it, sec = _piqp_once(H, c, E, f, G, h, single, active)
        iters, seconds = iters + it, seconds + sec
        if status != "Solved":
            if active.all():
                break
            active[:] = True  # a relaxation that does not solve: every row goes in
            continue
        viol = G @ u - h
        new = ~active & (viol > _VIOL_TOL * (1.0 + np.abs(h)))
        if not new.any():
            break
        active |= new
    return u, y, lam_in, status, iters, seconds


def _piqp_once(
    H: np.ndarray,
    c: np.ndarray,
    E: np.ndarray,
    f: np.ndarray,
    G: sp.csr_array,
    h: np.ndarray,
    single: np.ndarray,
    active: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, int, float]:
    """One PIQP solve with the ``active`` rows of ``G``; rows with one nonzero become the
    bounds ``x_l <= u <= x_u`` (the row that sets a bound carries its dual)."""
    import piqp

    n = len(c)
    sigma = max(float(np.abs(np.diag(H)).max(initial=0)), float(np.abs(c).max(initial=0)), 1e-300)
    bnd = np.flatnonzero(single & active)
    general = np.flatnonzero(~single & active)
    col = G.indices[G.indptr[bnd]]
    coef = G.data[G.indptr[bnd]]
    bound = h[bnd] / coef
    up = coef > 0
    x_u, x_l = np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(x_u, col[up], bound[up])
    np.maximum.at(x_l, col[~up], bound[~up])
    Gd = G[general].toarray() if len(general) else None
    solver = piqp.DenseSolver()
    s = solver.settings
    s.verbose = False
    s.eps_abs = s.eps_rel = _TOL
    s.max_iter = _MAX_ITER
    has_e = E.shape[0] > 0
    solver.setup(
        np.asfortranarray(H / sigma),
        c / sigma,
        np.asfortranarray(E) if has_e else None,
        f if has_e else None,
        np.asfortranarray(Gd) if Gd is not None else None,
        None,
        h[general] if Gd is not None else None,
        x_l,
        x_u,
    )
    status = _PIQP_STATUS.get(solver.solve().name, "NumericalError")
    r = solver.result
    lam = np.zeros(len(h))
    if Gd is not None:
        lam[general] = sigma * (np.asarray(r.z_u) - np.asarray(r.z_l))
    for side, limit, mult in ((up, x_u, r.z_bu), (~up, x_l, r.z_bl)):
        rows, cols = bnd[side], col[side]
        setting = bound[side] == limit[cols]  # rows that set their variable's bound
        cols, first = np.unique(cols[setting], return_index=True)
        coefs = np.abs(coef[side][setting][first])
        lam[rows[setting][first]] = sigma * np.asarray(mult)[cols] / coefs
    y = sigma * np.asarray(r.y) if has_e else np.zeros(0)
    return np.asarray(r.x), y, lam, status, int(r.info.iter), float(r.info.run_time)

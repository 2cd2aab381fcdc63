"""A dense interior-point method for the compiled QP of large mean-variance problems.

cvxpy compiles ``sum_squares(Lt @ w)`` into auxiliary variables ``t = Lt w`` with a
diagonal ``P`` on ``t``. A sparse KKT solver (Clarabel's LDL) then pays for the dense
``Lt`` block at every iteration. Here the same compiled data ``(P, q, A, b)`` is first
reduced by eliminating each auxiliary variable through its defining equality row (exact:
``t = m + M w``), which leaves a QP in the weights with a dense Hessian
``H = P_uu + M' P_tt M``, and is then solved by a Mehrotra predictor-corrector method whose
Newton systems are dense Cholesky factorisations (LAPACK) of size ``n_assets``:

    min 1/2 u'Hu + c'u   s.t.   E u = f,   G u <= h.

The solution and the duals are mapped back to the compiled problem's ``x`` and ``z``
(Clarabel's sign conventions), so cvxpy's dual map reads them unchanged. Only problems
whose cones are zero and nonnegative (QPs and LPs) qualify.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp

from optimizer.optimize.solvers import Compiled, RawSolution

_MAX_ITER = 80
_TOL = 1e-9
_PAIR_NNZ = 4  # rows with up to this many nonzeros enter K entry by entry, the rest densely


@dataclass
class Elimination:
    """Which variables are eliminated through which equality rows (found at build)."""

    keep: np.ndarray  # variable indices kept (u)
    elim: np.ndarray  # variable indices eliminated (t)
    rows: np.ndarray  # the equality row defining each eliminated variable
    other_eq: np.ndarray  # equality rows kept as constraints
    gram: _Gram | None = None  # cached structure of the inequality rows

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


def solve_dense(c: Compiled, e: Elimination) -> RawSolution:
    """Reduce, solve with the dense IPM, and map back to the compiled ``x`` and ``z``."""
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
    if e.gram is None:
        e.gram = _Gram(G, len(e.keep))
    u, y, lam, status, iters = qp_ipm(H, cvec, E, f, G, h, e.gram)
    x = np.zeros(c.n_var)
    x[e.keep] = u
    x[e.elim] = m + M @ u
    z = np.zeros(len(b))
    z[e.other_eq] = y
    z[e.rows] = -d * x[e.elim] / a
    z[n_eq:] = lam
    obj = 0.5 * u @ H @ u + cvec @ u + 0.5 * float(m @ (d * m))
    return RawSolution(status, x, z, float(obj), 0.0, iters)


def _gram_of(M: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``M' diag(d) M``, shape (n, n); a symmetric rank-k update (half the work) when d >= 0."""
    if np.all(d >= 0):
        R = np.sqrt(d)[:, None] * M
        upper = la.blas.dsyrk(1.0, R, trans=1)
        return np.triu(upper) + np.triu(upper, 1).T
    return M.T @ (d[:, None] * M)


def qp_ipm(
    H: np.ndarray,
    c: np.ndarray,
    E: np.ndarray,
    f: np.ndarray,
    G: sp.csr_array,
    h: np.ndarray,
    gram: _Gram | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, int]:
    """Mehrotra predictor-corrector for ``min u'Hu/2 + c'u, Eu = f, Gu <= h``.

    H: (n, n) PSD; E: (p, n); G: (m, n) sparse; ``gram`` a cached structure for G's
    sparsity pattern. Returns ``(u, y, lambda, status, iters)``
    with status in Clarabel's words ("Solved", "MaxIterations", "NumericalError").
    """
    sigma = max(float(np.abs(np.diag(H)).max(initial=0)), float(np.abs(c).max(initial=0)), 1e-300)
    H, c = H / sigma, c / sigma  # objective scaled to O(1) so tolerances mean the same
    n, mi = len(c), len(h)
    u, y = np.zeros(n), np.zeros(len(f))
    s, lam = np.maximum(h - G @ u, 1.0), np.ones(mi)
    GT = G.T.tocsr()
    gram = (gram or _Gram(G, n)).bind(G)
    for it in range(1, _MAX_ITER + 1):
        Hu, Gu, Eu, Gl, Ey = H @ u, G @ u, E @ u, GT @ lam, E.T @ y
        r_d, r_e, r_i = Hu + c + Ey + Gl, Eu - f, Gu + s - h
        if _converged(r_d, (Hu, c, Ey, Gl), r_e, r_i, (Gu, h, Eu, f), s @ lam, u @ (0.5 * Hu + c)):
            return u, sigma * y, sigma * lam, "Solved", it
        mu = float(s @ lam) / max(mi, 1)
        step = _Newton(gram.weighted(lam / s, H), E, G, GT, s, lam, r_d, r_e, r_i)
        du, dy, ds, dlam = step.solve(s * lam)
        alpha = _step(s, ds, lam, dlam, 1.0)
        mu_aff = float((s + alpha * ds) @ (lam + alpha * dlam)) / max(mi, 1)
        centring = (mu_aff / mu) ** 3 if mu > 0 else 0.0
        du, dy, ds, dlam = step.solve(s * lam + ds * dlam - centring * mu)
        alpha = _step(s, ds, lam, dlam, 0.99)
        u, y, s, lam = u + alpha * du, y + alpha * dy, s + alpha * ds, lam + alpha * dlam
        if not np.all(np.isfinite(u)):
            return u, y, lam, "NumericalError", it
    return u, y, lam, "MaxIterations", _MAX_ITER


class _Newton:
    """One iteration's Newton system, reduced to ``[K E'; E 0]`` with ``K`` dense SPD."""

    def __init__(
        self,
        K: np.ndarray,
        E: np.ndarray,
        G: sp.csr_array,
        GT: sp.csr_array,
        s: np.ndarray,
        lam: np.ndarray,
        r_d: np.ndarray,
        r_e: np.ndarray,
        r_i: np.ndarray,
    ) -> None:
        try:
            self.chol = la.cho_factor(K, lower=True, check_finite=False)
        except la.LinAlgError:
            K[np.diag_indices_from(K)] += 1e-12 * (1 + np.abs(np.diag(K)).max())
            self.chol = la.cho_factor(K, lower=True, check_finite=False)
        p = E.shape[0]
        self.KE = la.cho_solve(self.chol, E.T, check_finite=False) if p else None
        self.S = la.cho_factor(E @ self.KE + 1e-14 * np.eye(p), check_finite=False) if p else None
        self.E, self.G, self.GT = E, G, GT
        self.s, self.lam, self.r_d, self.r_e, self.r_i = s, lam, r_d, r_e, r_i

    def solve(self, r_c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Directions ``(du, dy, ds, dlam)`` for complementarity residual ``r_c``."""
        s, lam = self.s, self.lam
        rhs = -self.r_d - self.GT @ ((-r_c + lam * self.r_i) / s)
        Kr = la.cho_solve(self.chol, rhs, check_finite=False)
        if self.S is not None:
            dy = la.cho_solve(self.S, self.E @ Kr + self.r_e, check_finite=False)
            du = Kr - self.KE @ dy
        else:
            dy, du = np.zeros(0), Kr
        ds = -self.r_i - self.G @ du
        return du, dy, ds, (-r_c - lam * ds) / s


class _Gram:
    """``H + G' diag(w) G`` fast. Rows of ``G`` with at most ``_PAIR_NNZ`` nonzeros (bounds,
    scaled bounds, trade rows) contribute to fixed entries of ``K``, found once per sparsity
    pattern and summed with ``bincount``; the few denser rows (groups, budgets) are a dense
    low-rank term."""

    def __init__(self, G: sp.csr_array, n: int) -> None:
        nnz = np.diff(G.indptr)
        small = np.flatnonzero(nnz <= _PAIR_NNZ)
        pos_a, pos_b, rows = [], [], []
        for r in small:
            span = range(G.indptr[r], G.indptr[r + 1])
            for i in span:
                for j in span:
                    pos_a.append(i)
                    pos_b.append(j)
                    rows.append(r)
        self.pos_a = np.asarray(pos_a, dtype=np.int64)
        self.pos_b = np.asarray(pos_b, dtype=np.int64)
        self.rows = np.asarray(rows, dtype=np.int64)
        flat = G.indices[self.pos_a].astype(np.int64) * n + G.indices[self.pos_b]
        self.cells, self.inverse = np.unique(flat, return_inverse=True)
        self.other = np.flatnonzero(nnz > _PAIR_NNZ)
        self.n = n

    def bind(self, G: sp.csr_array) -> _Gram:
        """Take this solve's values of ``G`` (same pattern)."""
        self.vals = G.data[self.pos_a] * G.data[self.pos_b]
        self.D = G[self.other].toarray()
        self.K = np.empty((self.n, self.n))
        return self

    def weighted(self, w: np.ndarray, H: np.ndarray) -> np.ndarray:
        K = self.K
        np.copyto(K, H)
        sums = np.bincount(
            self.inverse, weights=w[self.rows] * self.vals, minlength=len(self.cells)
        )
        K.flat[self.cells] += sums
        if len(self.other):
            K += self.D.T @ (self.D * w[self.other][:, None])
        return K


def _inf(*vs: np.ndarray) -> float:
    return max((float(np.abs(v).max()) for v in vs if np.size(v)), default=0.0)


def _converged(
    r_d: np.ndarray,
    dual_parts: tuple[np.ndarray, ...],
    r_e: np.ndarray,
    r_i: np.ndarray,
    primal_parts: tuple[np.ndarray, ...],
    gap: float,
    obj: float,
) -> bool:
    """Relative primal and dual residuals and duality gap below ``_TOL``."""
    return (
        _inf(r_d) <= _TOL * (1.0 + _inf(*dual_parts))
        and _inf(r_e, r_i) <= _TOL * (1.0 + _inf(*primal_parts))
        and gap <= _TOL * (1.0 + abs(obj))
    )


def _step(s: np.ndarray, ds: np.ndarray, lam: np.ndarray, dlam: np.ndarray, eta: float) -> float:
    alpha = 1.0
    for v, dv in ((s, ds), (lam, dlam)):
        neg = dv < 0
        if np.any(neg):
            alpha = min(alpha, eta * float(np.min(-v[neg] / dv[neg])))
    return alpha

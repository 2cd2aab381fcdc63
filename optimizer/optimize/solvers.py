"""The fast path: cvxpy's compiled parameter program applied by hand, solvers called directly.

``Compiled`` keeps cvxpy's parameter-to-data tensors (``ParamConeProg.reduced_A`` /
``reduced_P`` / ``q``) and the fixed sparsity pattern of the problem data, so building the
solver's ``(P, q, A, b)`` for new Parameter values is three sparse mat-vecs. The data is
Clarabel's conic form ``min x'Px/2 + q'x  s.t.  A x + s = b, s in K`` with ``K`` zero cones
then nonnegative cones (then second-order cones); an LP (no ``P``, no SOC) goes to HiGHS as
``A_eq x = b_eq, A_in x <= b_in``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from optimizer.optimize.lazy import LAZY_MIN_ROWS, dense_rows, solve_rows_lazily

_BIG = 1.0e5  # from this many nonzeros in A, HiGHS runs its interior point method
# Clarabel's defaults are 1e-8; flat objectives (correlated bond funds) need tighter gaps
# for weights to agree to 1e-5 with other solvers.
CLARABEL_TOLERANCES = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


class SolverName(StrEnum):
    PIQP = "PIQP"  # PIQP's dense backend on the reduced QP (optimizer.optimize.reduced)
    CLARABEL = "CLARABEL"
    HIGHS = "HIGHS"
    SCS = "SCS"


@dataclass
class RawSolution:
    """A solution in Clarabel's vocabulary, so cvxpy's ``unpack_results`` can read it."""

    status: str
    x: np.ndarray | None
    z: np.ndarray | None
    obj_val: float
    solve_time: float
    iterations: int
    s: np.ndarray | None = None


@dataclass
class _Pattern:
    """A fixed CSC pattern filled from a reduced tensor: ``data = (T @ p)[perm] * sign``."""

    tensor: sp.csr_array
    perm: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple[int, int]
    offset_pos: np.ndarray  # positions (in T @ p) of the offset column, or empty
    offset_rows: np.ndarray

    def values(self, p: np.ndarray, sign: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Nonzero values (in the pattern's order) and the offset column, dense."""
        vals = self.tensor @ p
        off = np.zeros(self.shape[0])
        off[self.offset_rows] = vals[self.offset_pos]
        return sign * vals[self.perm], off

    def matrix(self, p: np.ndarray, sign: float = 1.0) -> tuple[sp.csc_array, np.ndarray]:
        data, off = self.values(p, sign)
        return sp.csc_array((data, self.indices, self.indptr), shape=self.shape), off


def _pattern(reduced: Any, n_var: int, *, with_offset: bool, upper: bool) -> _Pattern:
    indices, indptr, shape = reduced.problem_data_index
    nnz = len(indices)
    cols = n_var
    split = indptr[cols] if with_offset else nnz
    marker = sp.csc_array(
        (np.arange(1, split + 1, dtype=float), indices[:split], indptr[: cols + 1]),
        shape=(shape[0], cols),
    )
    if upper:
        marker = sp.triu(marker, format="csc")
    marker.sort_indices()
    perm = marker.data.astype(np.int64) - 1
    return _Pattern(
        tensor=sp.csr_array(reduced.reduced_mat),
        perm=perm,
        indices=marker.indices.copy(),
        indptr=marker.indptr.copy(),
        shape=(shape[0], cols),
        offset_pos=np.arange(split, nnz) if with_offset else np.arange(0),
        offset_rows=np.asarray(indices[split:]) if with_offset else np.arange(0),
    )


@dataclass
class Compiled:
    """The solver data of a DPP problem as a function of its Parameter values."""

    params: list[tuple[str, int, int]]  # Parameter name, column, size
    const_col: int
    size: int
    q_tensor: sp.csr_array
    A: _Pattern
    P: _Pattern | None
    dims: Any
    var_cols: dict[int, int]
    n_var: int
    values: dict[str, np.ndarray] = field(default_factory=dict)  # the frame's, shared
    _clarabel: Any = None  # a Clarabel solver kept for data updates

    @classmethod
    def from_problem_data(
        cls, data: dict[str, Any], problem: cp.Problem, values: dict[str, np.ndarray]
    ) -> Compiled:
        from cvxpy.lin_ops import lin_op as lu

        pp = data["param_prob"]
        quad = pp.P is not None
        reduced = [pp.reduced_A] + ([pp.reduced_P] if quad else [])
        if any(r.reduced_mat is None for r in reduced):  # compiled, but not applied yet
            pp.apply_parameters(quad_obj=quad)  # makes cvxpy cache its reduced tensors
        own = {p.id: p.name() for p in problem.parameters()}
        params = [
            (own[pid], col, pp.param_id_to_size[pid])
            for pid, col in pp.param_id_to_col.items()
            if pid != lu.CONSTANT_ID
        ]
        n_var = pp.x.size
        return cls(
            params=params,
            const_col=pp.param_id_to_col[lu.CONSTANT_ID],
            size=pp.total_param_size + 1,
            q_tensor=sp.csr_array(pp.q),
            A=_pattern(pp.reduced_A, n_var, with_offset=True, upper=False),
            P=_pattern(pp.reduced_P, n_var, with_offset=False, upper=True) if quad else None,
            dims=data["dims"],
            var_cols=dict(pp.var_id_to_col),
            n_var=n_var,
            values=values,
        )

    @property
    def is_lp(self) -> bool:
        no_p = self.P is None or self.P.perm.size == 0
        return no_p and not self.dims.soc and not self.dims.psd and not self.dims.exp

    def param_vector(self) -> np.ndarray:
        p = np.zeros(self.size)
        for name, col, size in self.params:
            p[col : col + size] = self.values[name].ravel(order="F")
        p[self.const_col] = 1.0
        return p

    def data(self) -> tuple[sp.csc_array | None, np.ndarray, sp.csc_array, np.ndarray]:
        """``(P or None, q, A, b)`` for the current Parameter values (Clarabel's form)."""
        p = self.param_vector()
        qd = np.asarray(self.q_tensor @ p).ravel()
        A, b = self.A.matrix(p, sign=-1.0)
        P = self.P.matrix(p)[0] if self.P is not None else None
        return P, qd[:-1], A, b

    def columns(self, frame: Any) -> dict[cp.Variable, tuple[int, int]]:
        """Where the frame's weights and scale sit in the solver's ``x``."""
        out = {frame.w: (self.var_cols[frame.w.id], frame.n)}
        if isinstance(frame.k, cp.Variable):
            out[frame.k] = (self.var_cols[frame.k.id], 1)
        if frame.sales is not None:
            out[frame.sales] = (self.var_cols[frame.sales.id], frame.sales.size)
        return out


def _clarabel_solver(c: Compiled, settings: dict[str, Any]) -> Any:
    """A Clarabel solver holding the current data: updated in place when one exists."""
    import clarabel
    from cvxpy.reductions.solvers.conic_solvers.clarabel_conif import dims_to_solver_cones

    p = c.param_vector()
    qd = np.asarray(c.q_tensor @ p).ravel()
    A_vals, b = c.A.values(p, sign=-1.0)
    P_vals = c.P.values(p)[0] if c.P is not None else None
    if c._clarabel is not None and not settings:
        try:
            extra = {} if P_vals is None else {"P": P_vals}
            c._clarabel.update(q=qd[:-1], b=b, A=A_vals, **extra)
            return c._clarabel
        except Exception:  # the pattern changed or updates are refused: rebuild
            c._clarabel = None
    A = sp.csc_array((A_vals, c.A.indices, c.A.indptr), shape=c.A.shape)
    if c.P is None:
        P = sp.csc_array((c.n_var, c.n_var))
    else:
        P = sp.csc_array((P_vals, c.P.indices, c.P.indptr), shape=c.P.shape)
    opts = clarabel.DefaultSettings()
    opts.verbose = False
    opts.presolve_enable = False  # keeps data updates allowed
    for k, v in {**CLARABEL_TOLERANCES, **settings}.items():
        setattr(opts, k, v)
    solver = clarabel.DefaultSolver(P, qd[:-1], A, b, dims_to_solver_cones(c.dims), opts)
    if not settings:
        c._clarabel = solver
    return solver


def solve_clarabel(c: Compiled, **settings: Any) -> RawSolution:
    sol = _clarabel_solver(c, settings).solve()
    return RawSolution(
        status=str(sol.status),
        x=np.asarray(sol.x),
        z=np.asarray(sol.z),
        s=np.asarray(sol.s),
        obj_val=float(sol.obj_val),
        solve_time=float(sol.solve_time),
        iterations=int(sol.iterations),
    )


_HIGHS_STATUS = {
    "Optimal": "Solved",
    "Infeasible": "PrimalInfeasible",
    "Unbounded": "DualInfeasible",
    "Primal infeasible or unbounded": "PrimalInfeasible",
}


def solve_highs(c: Compiled, *, lazy: bool = True) -> RawSolution:
    """Solve an LP with HiGHS: by row generation when it has many dense inequality rows
    (CVaR tails), else in one go (interior point for large, simplex otherwise)."""
    import highspy

    from optimizer import highs

    if not c.is_lp:
        raise ValueError("HiGHS takes LPs only")
    _, q, A, b = c.data()
    n_eq = c.dims.zero
    A_rows = A.tocsr()
    rows = dense_rows(A_rows, n_eq)
    if lazy and len(rows) >= LAZY_MIN_ROWS:
        status, x, z, obj, seconds, iters = solve_rows_lazily(q, A_rows, b, n_eq, rows)
        if status == "Optimal":
            return RawSolution("Solved", x, z, obj, seconds, iters)
    lower = np.concatenate([b[:n_eq], np.full(len(b) - n_eq, -np.inf)])
    h = highs.new(**({"solver": "ipm"} if A.nnz > _BIG else {}))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = c.n_var, len(b)
    lp.col_cost_ = q
    lp.col_lower_ = np.full(c.n_var, -highspy.kHighsInf)
    lp.col_upper_ = np.full(c.n_var, highspy.kHighsInf)
    lp.row_lower_ = np.where(np.isfinite(lower), lower, -highspy.kHighsInf)
    lp.row_upper_ = b
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = A.data
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = c.n_var, len(b)
    highs.check(h.passModel(lp), "passModel")
    status = _HIGHS_STATUS.get(highs.run(h), "Failed")
    sol = h.getSolution()
    info = h.getInfo()
    x = np.asarray(sol.col_value) if sol.value_valid else None
    z = -np.asarray(sol.row_dual) if sol.dual_valid else None
    if status == "Solved" and x is None:
        status = "Failed"
    return RawSolution(
        status=status,
        x=x,
        z=z,
        obj_val=float(info.objective_function_value),
        solve_time=float(h.getRunTime()),
        iterations=int(info.simplex_iteration_count + info.ipm_iteration_count),
    )

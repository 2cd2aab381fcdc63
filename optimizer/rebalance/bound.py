"""Exact solution of the coupled trade problem by Lagrangian bounds and enumeration.

For multipliers ``mu`` in [-1, 1] (the cash term, ``f(y) >= mu y - f*(mu)``) and
``nu >= 0`` (the cash reserve), every feasible ``z`` satisfies

    F(z) >= L(mu, nu; z) = sum_i g_i(z_i) + mu (a - p.z) - f*(mu) + nu (p.z + k cost(z) - B)

and the right side separates by ticker, so its minimum is cheap (per-ticker convexity on
each side of zero, as in :mod:`optimizer.rebalance.solve`). With the best bound ``L*`` and
the best feasible point found ``U``, any trade of ticker i whose own term exceeds its
minimum by more than ``U - L*`` cannot be optimal; the remaining values are few, and
enumerating their combinations gives the proven optimum. When they are too many, the
caller falls back to the MILP.

With a ``slack``, the enumeration reaches ``slack`` further and the feasible combinations
are kept as a *pool*: every feasible ``z`` with ``F(z) <= F* + slack``. A problem whose
objective differs from this one by at most ``slack / 2`` at every ``z`` (the same account
with its targets moved a little, as the planner's after-cost rounds do) has all its optima
in the pool, so its proven optimum is the pool's best (:func:`best_of`), without a new bound.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from optimizer.rebalance.problem import (
    Problem,
    cash_conjugate,
    cash_term,
    costs,
    parts,
    phi,
)

_MU = np.linspace(-1.0, 1.0, 21)
_NU = np.array([0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0])
_FINE_MU = np.linspace(-0.1, 0.1, 11)  # around the coarse grid's best multipliers
_FINE_NU = np.array([0.5, 0.75, 1.0, 1.5, 2.0])
_CHECK_MU = np.linspace(-1.0, 1.0, 5)  # the other multipliers that prune an enumeration
_WIDE_REACH = 480  # most grid steps explored each way from a side's best candidate
_FIRST_REACH = 16  # grid steps each way tried first
_OWN_SIDE = np.array([1.0, 1.0, -1.0, -1.0])  # the buy window's two edges, the sell window's


@functools.lru_cache(maxsize=32)
def _multipliers(inside: float) -> tuple[np.ndarray, np.ndarray]:
    """The cash multipliers of the coarse bound grid and of the enumeration's checks, each
    with the slopes of the cash term (sorted, each once; shared, so read-only)."""
    slopes = [1.0, -1.0, inside, -inside]
    grids = (np.union1d(_MU, slopes), np.union1d(_CHECK_MU, slopes))
    for g in grids:
        g.flags.writeable = False
    return grids


def _terms(prob: Problem, z: np.ndarray | None, mu: float | np.ndarray, nu: float) -> np.ndarray:
    """The Lagrangian's per-ticker terms at trades ``z`` (None: the candidates); with an
    array ``mu`` (shape (M,)) they are stacked along a new last axis."""
    base, c, pz = prob.candidate_parts if z is None else parts(prob, z)
    kappa = prob.budget()[0]
    if np.ndim(mu):
        return (base + c * (kappa * nu))[..., None] + pz[..., None] * (nu - mu)
    return base + c * (kappa * nu) + pz * (nu - mu)


def _evaluate(prob: Problem, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Objective and feasibility of trade vectors stacked in columns, z shape (n, m)."""
    return _objective(prob, phi(prob, z).sum(axis=0), costs(prob, z).sum(axis=0), prob.p @ z)


def _objective(
    prob: Problem, drift: np.ndarray, c_tot: np.ndarray, spend: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Objective and feasibility from each trade vector's summed drift terms, costs and
    spend."""
    f = drift + c_tot + cash_term(prob, prob.cash0 - spend - prob.cash_target)
    need = np.maximum(prob.reserve, prob.reserve_pct * (prob.value - c_tot))
    return f, prob.cash0 - spend - c_tot >= need - 1e-7


def _bound_grid(
    prob: Problem, mus: np.ndarray, nus: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lower bounds and Lagrangian minimisers on a grid of multipliers (every ``mu`` with
    every ``nu``, ``mu`` major)."""
    kappa, b = prob.budget()
    a = prob.cash0 - prob.cash_target
    mu, nu = np.repeat(mus, nus.size), np.tile(nus, mus.size)
    cand = prob.candidates
    base, c, pz = prob.candidate_parts
    vals = base[..., None] + c[..., None] * (kappa * nu) + pz[..., None] * (nu - mu)  # (n, K, M)
    idx = vals.argmin(axis=1)  # (n, M)
    rows = np.arange(cand.shape[0])[:, None]
    lb = vals[rows, idx, np.arange(mu.size)].sum(axis=0)
    lb = lb + mu * a - cash_conjugate(prob, mu) - nu * b
    return lb, mu, nu, cand[rows, idx]


def _best_bound(prob: Problem) -> tuple[float, float, float, np.ndarray]:
    """(L*, mu*, nu*, Lagrangian minimisers of shape (n, m)): a coarse grid, then a finer one."""
    lb, mu, nu, sols = _bound_grid(prob, _multipliers(prob.inside)[0], _NU)
    k = int(lb.argmax())
    fine_mu = np.minimum(np.maximum(mu[k] + _FINE_MU, -1.0), 1.0)
    fine_nu = nu[k] * _FINE_NU if nu[k] > 0 else _NU[:1]  # nu >= 0: ascending, distinct
    lb2, mu2, nu2, sols2 = _bound_grid(prob, fine_mu, fine_nu)
    k2 = int(lb2.argmax())
    return float(lb2[k2]), float(mu2[k2]), float(nu2[k2]), np.concatenate([sols, sols2], axis=1)


def _side_centres(prob: Problem, cand: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """Each ticker's best candidate on each side of zero in whole grid units, (2n,): buys
    first, then sales (``zmin`` away from zero on a side without candidates)."""
    n = cand.shape[0]
    side = np.concatenate([np.where(cand > 0, vals, np.inf), np.where(cand < 0, vals, np.inf)])
    rows = np.arange(2 * n)
    best = side.argmin(axis=1)
    centre = np.concatenate([cand, cand])[rows, best]
    centre = np.where(
        np.isfinite(side[rows, best]), centre, np.concatenate([prob.zmin, -prob.zmin])
    )
    return np.round(centre / prob.step)


def _reach(
    prob: Problem, cand: np.ndarray, excess: np.ndarray, tol: float, centre: np.ndarray
) -> int:
    """Grid steps each way that windows around ``centre`` need to hold every trade whose
    ``excess`` is within ``tol`` (at most ``_WIDE_REACH``).

    Each side of zero is convex, and linear between its candidates (they hold every kink,
    rounded both ways, and the bounds): going outward from a side's best candidate, the kept
    trades end where the excess crosses ``tol`` between the last kept candidate and the
    first one over it (or at the last kept candidate when none is over)."""
    both = np.concatenate([cand, cand])
    exc = np.concatenate([excess, excess])
    on_side = np.concatenate([cand > 0, cand < 0])
    steps = both / prob.step - centre[:, None]
    dist = np.abs(steps)
    rows = np.arange(both.shape[0])
    need = 0.0
    for hand in (steps >= 0, steps <= 0):
        mine = on_side & hand
        over = mine & (exc > tol)
        j = np.where(over, dist, np.inf).argmin(axis=1)  # the first candidate over
        d_out, e_out = dist[rows, j], exc[rows, j]
        stop = over[rows, j]
        kept = mine & ~over & (~stop[:, None] | (dist < d_out[:, None]))
        i = np.where(kept, dist, -1.0).argmax(axis=1)  # the last kept candidate before it
        d_in, e_in = dist[rows, i], exc[rows, i]
        rise = np.where(stop, e_out - e_in, 1.0)  # > 0 where there is a candidate over
        cross = d_in + np.where(stop, (tol - e_in) / rise, 0.0) * (d_out - d_in)
        need = max(need, float(np.where(kept[rows, i], cross, 0.0).max()))
    return min(math.ceil(need) + 1, _WIDE_REACH)


def _domains(prob: Problem, mu: float, nu: float, gap: float, reach: int | None = None):
    """Per ticker: trades whose term exceeds the ticker's minimum by at most ``gap``.

    Returns a list of (values, excess) pairs, or None when a search window is too narrow
    to hold every such trade (each side of zero is convex, so the kept set on a side is an
    interval; the window is centred on that side's best candidate and reaches ``reach``
    grid steps each way, by default what :func:`_reach` finds it needs).
    """
    tol = gap + 1e-9 * (1 + abs(gap))
    lo, hi, zmin = prob.lo[:, None], prob.hi[:, None], prob.zmin[:, None]
    cand = prob.candidates
    cvals = _terms(prob, None, mu, nu)
    n = cand.shape[0]
    centre = _side_centres(prob, cand, cvals)
    if reach is None:
        reach = _reach(prob, cand, cvals - cvals.min(axis=1, keepdims=True), tol, centre)
    win = (centre[:, None] + np.arange(-reach, reach + 1)[None, :]) * prob.step
    # no trade, the buy window, the sell window, the candidates (off-grid ends: sell all)
    grid = np.concatenate([np.zeros((n, 1)), win[:n], win[n:], cand], 1)
    ok = (grid >= lo - 1e-9) & (grid <= hi + 1e-9)
    # a bound off the grid is its own trade, not the grid point a rounding away from it
    hair = 1e-6 * prob.step
    ok &= ((np.abs(grid - lo) > hair) | (grid == lo)) & ((np.abs(grid - hi) > hair) | (grid == hi))
    ok &= (grid == 0) | (np.abs(grid) >= zmin - 1e-9)
    vals = np.where(ok, _terms(prob, grid, mu, nu), np.inf)
    excess = vals - np.minimum(vals.min(axis=1, keepdims=True), cvals.min(axis=1, keepdims=True))
    keep = excess <= tol
    w = 2 * reach + 1
    # a kept value at a window edge that is not a bound means its side's interval may go
    # on (an edge across zero is the other side's, which its own window holds)
    ends = [1, w, w + 1, 2 * w]
    at = grid[:, ends]
    beyond = (at * _OWN_SIDE > 0) & (at > lo + 1e-9) & (at < hi - 1e-9)
    beyond &= np.abs(at) > zmin + 1e-9
    if (keep[:, ends] & beyond).any():
        return None
    # each ticker's kept values, sorted, each once (a window repeats the candidates on the
    # grid: both are whole grid units times the step, so the same trade is the same float)
    order = np.argsort(np.where(keep, grid, np.inf), axis=1, kind="stable")
    rows = np.arange(n)[:, None]
    g, e, kept = grid[rows, order], excess[rows, order], keep[rows, order]
    kept[:, 1:] &= g[:, 1:] != g[:, :-1]
    return [(g[i, kept[i]], e[i, kept[i]]) for i in range(n)]


@dataclass(frozen=True)
class Combos:
    """Trade vectors as indices into each ticker's trade values: column ``j`` is the vector
    ``values.ravel()[idx[:, j]]``. The objective of every column then needs each ticker's
    terms on its few values only (see :func:`_scores`), not on the whole (n, C) matrix."""

    values: np.ndarray  # (n, K): ticker i's values in its first columns
    idx: np.ndarray  # (n, C): flat indices into ``values``, row i within ticker i's row
    # per column, (total cost, spend) under the prices and costs of the problem that
    # enumerated them: a pool is re-scored only under problems that differ in targets
    priced: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def size(self) -> int:
        return self.idx.shape[1]

    def total(self, per_value: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """Per column, the sum over tickers of ``per_value`` (n, K) at its values."""
        idx = self.idx if cols is None else self.idx[:, cols]
        return np.take(per_value, idx).sum(axis=0)


def _enumerate(
    domains: list[tuple[np.ndarray, np.ndarray]],
    gap: float,
    limit: int,
    checks: tuple[np.ndarray, np.ndarray] | None = None,
) -> Combos | None:
    """The trade vectors whose summed excess is within ``gap`` (layer by layer, or all at
    once when the domains' product is small), and,
    with ``checks = (terms, budgets)`` of shapes (M, n, K) and (M,), whose summed
    ``terms[m]`` are within ``budgets[m]`` for every m (each layer pruned with the smallest
    terms of the tickers still to come)."""
    n = len(domains)
    table = np.zeros((n, max(v.size for v, _ in domains)))
    for i, (values, _) in enumerate(domains):
        table[i, : values.size] = values
    tol = gap + 1e-9 * (1 + abs(gap))
    sizes = [v.size for v, _ in domains]
    if math.prod(sizes) <= min(limit, _DIRECT):  # every combination at once: fewer steps
        total = np.zeros(1)
        for _values, excess in domains:
            total = (total[:, None] + excess[None, :]).ravel()
        idx = np.array(np.unravel_index(np.flatnonzero(total <= tol), sizes)).reshape(n, -1)
        if checks is not None:
            terms, budgets = checks
            sums = terms[:, 0, idx[0]]
            for i in range(1, n):
                sums = sums + terms[:, i, idx[i]]
            idx = idx[:, (sums <= budgets[:, None]).all(axis=0)]
        return Combos(table, idx + table.shape[1] * np.arange(n)[:, None])
    if checks is not None:
        terms, budgets = checks
        rest = np.cumsum(terms.min(axis=2)[:, ::-1], axis=1)[:, ::-1]  # (M, n): from i on
        rest = np.concatenate([rest[:, 1:], np.zeros((rest.shape[0], 1))], axis=1)
        sums = np.zeros((terms.shape[0], 1))
    idx = np.zeros((0, 1), dtype=np.intp)
    total = np.zeros(1)
    for i, (_values, excess) in enumerate(domains):
        order = np.argsort(excess, kind="stable")
        counts = np.searchsorted(excess[order], tol - total, side="right")  # per parent
        m = int(counts.sum())
        if m > limit:
            return None
        parent = np.repeat(np.arange(total.size), counts)
        child = order[np.arange(m) - np.repeat(np.cumsum(counts) - counts, counts)]
        if checks is not None:
            part = sums[:, parent] + terms[:, i, child]
            ok = (part + rest[:, [i]] <= budgets[:, None]).all(axis=0)
            parent, child, sums = parent[ok], child[ok], part[:, ok]
        idx = np.vstack([idx[:, parent], child])
        total = total[parent] + excess[child]
    return Combos(table, idx + table.shape[1] * np.arange(n)[:, None])


def _scores(prob: Problem, combos: Combos) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_evaluate` of every column of ``combos``."""
    v = combos.values
    c_tot, spend = combos.priced or _priced(prob, combos)
    return _objective(prob, combos.total(phi(prob, v)), c_tot, spend)


def _priced(prob: Problem, combos: Combos) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``combos``: total cost and spend under ``prob``'s prices and costs."""
    v = combos.values
    return combos.total(costs(prob, v)), combos.total(prob.p[:, None] * v)


def _polish(prob: Problem, z: np.ndarray, f_best: float) -> tuple[np.ndarray, float]:
    """Best single-ticker changes (to any candidate) from a feasible ``z`` of objective
    ``f_best``, a few rounds."""
    cand = prob.candidates
    n, k = cand.shape
    rows = np.repeat(np.arange(n), k)
    for _ in range(3):
        trial = np.repeat(z[:, None], n * k, axis=1)
        trial[rows, np.arange(n * k)] = cand.ravel()
        f, ok = _evaluate(prob, trial)
        f = np.where(ok, f, np.inf)
        j = int(f.argmin())
        if not f[j] < f_best - 1e-9:
            break
        z, f_best = trial[:, j].copy(), float(f[j])
    return z, f_best


@dataclass(frozen=True)
class BoundResult:
    """``z``: the proven optimum, or None; else a tighter box and an incumbent for the MILP.
    ``pool`` (with a slack): every feasible trade vector within ``slack`` of the optimum."""

    z: np.ndarray | None
    narrowed: Problem | None = None
    incumbent: np.ndarray | None = None
    pool: Combos | None = None
    slack: float = 0.0


def best_of(prob: Problem, combos: Combos) -> np.ndarray | None:
    """The best feasible trade vector of ``combos`` under ``prob``; among ties (1e-9
    relative) the smallest trade, then the first by ticker order and value. None when none
    is feasible."""
    f, ok = _scores(prob, combos)
    return _best(combos, np.where(ok, f, np.inf))


def _best(combos: Combos, f: np.ndarray) -> np.ndarray | None:
    """:func:`best_of` with the columns' objective ``f`` (inf where infeasible) given."""
    best = f.min()
    if not np.isfinite(best):
        return None
    tie = np.flatnonzero(f <= best + 1e-9 * max(1.0, abs(best)))
    size = combos.total(np.abs(combos.values), tie)
    tie = tie[size <= size.min()]
    z = np.take(combos.values, combos.idx[:, tie])  # among equal sizes: the first in order
    return z[:, np.lexsort(z[::-1])[0]]


def solve_bound(
    prob: Problem,
    *,
    limit: int = 50_000,
    slack: Callable[[np.ndarray], float] | None = None,
) -> BoundResult:
    """The proven optimum by bounding and enumeration, or hints for the MILP. ``slack``
    (of the incumbent trade vector) asks for the pool as well; when that enumeration is too
    wide, the result is the one without it."""
    lower, mu, nu, sols = _best_bound(prob)
    sols = np.concatenate([np.zeros((prob.p.size, 1)), sols], axis=1)
    f, ok = _evaluate(prob, sols)
    if not ok.any():
        return BoundResult(None)
    start = int(np.where(ok, f, np.inf).argmin())
    z_inc, upper = _polish(prob, sols[:, start], float(f[start]))
    gap = upper - lower
    extra = max(float(slack(z_inc)), 0.0) if slack is not None else 0.0
    if extra > 0:
        pooled = _enumerate_within(prob, (mu, nu), (lower, upper + extra), limit)
        if isinstance(pooled, Combos):  # the feasible ones, priced for the planner's rounds
            c_tot, spend = _priced(prob, pooled)
            f, ok = _scores(prob, replace(pooled, priced=(c_tot, spend)))
            pool = replace(pooled, idx=pooled.idx[:, ok], priced=(c_tot[ok], spend[ok]))
            return BoundResult(_best(pool, f[ok]), pool=pool, slack=extra)
    if gap <= 1e-9 * max(1.0, abs(upper)):
        return BoundResult(z_inc)
    combos = _enumerate_within(prob, (mu, nu), (lower, upper), limit)
    if combos is None:
        return BoundResult(None, incumbent=z_inc)
    if isinstance(combos, tuple):
        lo, hi = combos
        return BoundResult(None, replace(prob, lo=lo, hi=hi), z_inc)
    z = best_of(prob, combos)  # None cannot happen: the incumbent is among the combinations
    return BoundResult(z) if z is not None else BoundResult(None, incumbent=z_inc)


def _enumerate_within(
    prob: Problem,
    multipliers: tuple[float, float],
    bounds: tuple[float, float],
    limit: int,
) -> Combos | tuple[np.ndarray, np.ndarray] | None:
    """Every trade vector whose Lagrangian at ``multipliers`` is within ``level`` (with
    ``bounds = (lower, level)``, ``lower`` that Lagrangian's minimum) and whose Lagrangians
    at the other cash multipliers are too; when they are too many, the box (lo, hi) that
    holds them; None when a search window is too narrow.

    Every Lagrangian is a lower bound of the objective at feasible trades, so a trade vector
    above ``level`` under any of them cannot reach ``level``. One multiplier alone prunes
    little where the objective is flat along a direction (an order moved between two
    tickers that are both inside their bands, with cash at its target): there the others
    cut the combinations by orders of magnitude."""
    mu, nu = multipliers
    lower, level = bounds

    def tries() -> Iterator[tuple[float, float]]:
        yield mu, lower
        others = np.setdiff1d(_multipliers(prob.inside)[1], [mu])
        lbs = _bound_grid(prob, others, np.array([nu]))[0]
        yield from ((m, lb) for lb, m in sorted(zip(lbs, others, strict=True), reverse=True))

    # where one multiplier's windows are too narrow, another's may do (computed only then)
    found = (
        (d, level - bound)
        for m, bound in tries()
        # a few steps (most accounts need no more, and finding the reach costs more than
        # the windows), else the reach it needs, else the widest: the kept values are the
        # same whatever window holds them, and a window too narrow is seen at its edges
        for reach in (_FIRST_REACH, None, _WIDE_REACH)
        if (d := _domains(prob, m, nu, level - bound, reach)) is not None
    )
    domains, gap = next(found, (None, 0.0))
    if domains is None:
        return None
    if math.prod(v.size for v, _ in domains) <= _SMALL:  # few: pruning costs more than it saves
        combos = _enumerate(domains, gap, limit)
    else:
        combos = _enumerate(domains, gap, limit, _checks(prob, domains, nu, level))
    if combos is None:
        lo = np.array([min(v.min(), 0.0) for v, _ in domains])
        hi = np.array([max(v.max(), 0.0) for v, _ in domains])
        return lo, hi
    return combos


_SMALL = 256  # combinations enumerated without the other multipliers' pruning
_DIRECT = 4096  # up to this many combinations, all are scored at once (not layer by layer)


def _checks(
    prob: Problem, domains: list[tuple[np.ndarray, np.ndarray]], nu: float, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-ticker Lagrangian terms on the domains' values at each check multiplier (padding
    at +inf), and the budget ``level`` leaves them."""
    mus = _multipliers(prob.inside)[1]
    width = max(v.size for v, _ in domains)
    values = np.zeros((len(domains), width))
    valid = np.zeros_like(values, dtype=bool)
    for i, (v, _) in enumerate(domains):
        values[i, : v.size], valid[i, : v.size] = v, True
    terms = np.where(valid[..., None], _terms(prob, values, mus, nu), np.inf).transpose(2, 0, 1)
    _kappa, b = prob.budget()
    const = mus * (prob.cash0 - prob.cash_target) - cash_conjugate(prob, mus) - nu * b
    return terms, level - const + 1e-9 * (1.0 + abs(level))

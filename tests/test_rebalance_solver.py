"""The trade solvers against brute-force enumeration on tiny problems.

The reference objective and constraints are written out again here, from the documented
formula, and every grid point of the box is enumerated. The exact paths must reach the
brute-force optimum (to 1e-6 in money), the MILP to within its stated gap (one cent plus
1e-6 relative); greedy must be feasible and never better.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from optimizer.rebalance.bound import best_of, solve_bound
from optimizer.rebalance.greedy import solve_greedy
from optimizer.rebalance.milp import MIP_REL_GAP, abs_gap, solve_milp
from optimizer.rebalance.solve import Method, Problem, solve


def within_gap(prob, value, best, method=Method.MILP):
    """``value`` is optimal: exactly for the exact path, within the MIP gap for HiGHS."""
    tol = 1e-6 if method is Method.EXACT else within_tol(prob, best)
    return best - 1e-6 <= value <= best + tol


def within_tol(prob, best):
    return abs_gap(prob) + MIP_REL_GAP * abs(best) + 1e-6


def ref_cost(prob, z):
    return sum(
        prob.spread * prob.p[i] * abs(zi) + max(prob.comm_min, prob.comm_share * abs(zi))
        for i, zi in enumerate(z)
        if zi != 0
    )


def ref_objective(prob, z):
    """a |d| + (1 - a + lam) (|d| - b)+ per ticker, a |y| + (1 - a) (|y| - b_cash)+ for cash."""
    a = prob.inside
    total = 0.0
    for i, zi in enumerate(z):
        dev = abs(prob.p[i] * (prob.h[i] + zi) - prob.t[i])
        total += a * dev + (1 - a + prob.lam) * max(dev - prob.band[i], 0.0)
    spend = sum(prob.p[i] * zi for i, zi in enumerate(z))
    y = abs(prob.cash0 - spend - prob.cash_target)
    return total + ref_cost(prob, z) + a * y + (1 - a) * max(y - prob.cash_band, 0.0)


def ref_feasible(prob, z):
    for i, zi in enumerate(z):
        if zi != 0 and abs(zi) * prob.p[i] < prob.min_order - 1e-9:
            return False
    spend = sum(prob.p[i] * zi for i, zi in enumerate(z))
    cost = ref_cost(prob, z)
    need = max(prob.reserve, prob.reserve_pct * (prob.value - cost))
    return prob.cash0 - spend - cost >= need - 1e-7


def brute_force(prob):
    axes = [np.arange(lo, hi + 1) for lo, hi in zip(prob.lo, prob.hi, strict=True)]
    best = (np.inf, None)
    for z in itertools.product(*axes):
        if ref_feasible(prob, z):
            f = ref_objective(prob, z)
            if f < best[0] - 1e-9:
                best = (f, z)
    return best


def random_problem(rng, n=3):
    p = np.round(rng.uniform(5, 120, n), 2)
    h = rng.integers(0, 9, n).astype(float)
    value = float(p @ h) + rng.uniform(0, 600)
    w = rng.dirichlet(np.ones(n + 1))
    cash0 = value - float(p @ h)
    if rng.random() < 0.3:  # a withdrawal: cash below zero before trading
        cash0 -= rng.uniform(0, 0.5) * float(p @ h)
        value = cash0 + float(p @ h)
    lo = -h * (rng.random(n) < 0.8)
    hi = np.floor(rng.uniform(0, 10, n)) * (rng.random(n) < 0.8)
    return Problem(
        p=p,
        h=h,
        t=w[:n] * value,
        band=rng.uniform(0, 0.1, n) * value,
        lo=lo,
        hi=hi,
        step=1.0,
        min_order=float(rng.choice([0.0, 30.0, 80.0])),
        cash0=cash0,
        cash_target=w[n] * value,
        reserve=float(rng.choice([0.0, 0.0, 20.0, 0.05 * value])),
        lam=float(rng.choice([0.0, 1.0, 3.0])),
        comm_share=float(rng.choice([0.0, 0.05])),
        comm_min=float(rng.choice([0.0, 1.0, 5.0])),
        spread=float(rng.choice([0.0, 0.002])),
        inside=float(rng.choice([1.0, 0.0])),  # to target, or to the band edge
        cash_band=float(rng.choice([0.0, 0.03 * value])),
        reserve_pct=float(rng.choice([0.0, 0.0, 0.04])),
        value=value,
    )


def _problems(count, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        prob = random_problem(rng, n=int(rng.integers(1, 4)))
        f, z = brute_force(prob)
        if z is not None:
            out.append((prob, f))
    return out


PROBLEMS = _problems(150, seed=11)


@pytest.mark.parametrize("k", range(len(PROBLEMS)))
def test_auto_and_milp_match_brute_force(k):
    prob, f_best = PROBLEMS[k]
    sol = solve(prob)
    assert sol.method in (Method.EXACT, Method.MILP)
    assert ref_feasible(prob, sol.z)
    assert within_gap(prob, ref_objective(prob, sol.z), f_best, sol.method)
    z, why = solve_milp(prob)
    assert z is not None, why
    assert ref_feasible(prob, z)
    assert within_gap(prob, ref_objective(prob, z), f_best)


@pytest.mark.parametrize("k", range(0, len(PROBLEMS), 3))
def test_bound_is_exact_or_abstains_and_greedy_is_feasible(k):
    prob, f_best = PROBLEMS[k]
    bound = solve_bound(prob)
    if bound.z is not None:
        assert ref_objective(prob, bound.z) == pytest.approx(f_best, abs=1e-6)
    if bound.narrowed is not None:  # the narrowed box still holds the optimum
        z, _ = solve_milp(bound.narrowed)
        assert within_gap(prob, ref_objective(prob, z), f_best)
    zg = solve_greedy(prob)
    assert ref_feasible(prob, zg)
    assert ref_objective(prob, zg) >= f_best - 1e-6


@pytest.mark.parametrize("k", range(1, len(PROBLEMS), 3))
def test_pool_holds_the_optimum_of_every_target_shift_within_its_slack(k):
    """The enumeration's pool against brute force: with the targets scaled by ``1 - c /
    value`` (the planner's after-cost rounds) for any ``c`` the slack covers, the pool's best
    is the shifted problem's brute-force optimum."""
    prob, _ = PROBLEMS[k]
    a = prob.inside
    per_cost = ((a + abs(1 - a + prob.lam)) * np.abs(prob.t).sum() + abs(prob.cash_target)) / (
        prob.value
    )
    bound = solve_bound(prob, slack=lambda z: 2 * per_cost * 25.0)
    if bound.pool is None:  # no coupled optimum to prove (or too wide): nothing to check
        return
    assert bound.slack == pytest.approx(2 * per_cost * 25.0)
    for c in (0.0, 0.5, 7.0, 25.0):
        scale = 1 - c / prob.value
        shifted = replace(prob, t=prob.t * scale, cash_target=prob.cash_target * scale)
        f_best, _ = brute_force(shifted)
        z = best_of(shifted, bound.pool)
        assert z is not None and ref_feasible(shifted, z)
        assert ref_objective(shifted, z) == pytest.approx(f_best, abs=1e-6)


def test_bound_path_on_ten_ticker_problems_matches_milp():
    """Bigger problems where brute force is out of reach: the exact path against HiGHS."""
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(40):
        prob = random_problem(rng, n=10)
        prob = replace(prob, hi=prob.hi * 5, h=prob.h * 3, lo=prob.lo * 3)
        sol = solve(prob)
        z, _ = solve_milp(prob)
        if z is None:
            continue
        checked += 1
        f_milp = ref_objective(prob, z)
        if sol.method is Method.EXACT:  # proven optimal: never worse than HiGHS
            assert ref_objective(prob, sol.z) <= f_milp + 1e-6
            assert within_gap(prob, f_milp, ref_objective(prob, sol.z))
        else:
            assert abs(ref_objective(prob, sol.z) - f_milp) <= within_tol(prob, f_milp)
    assert checked >= 30


def test_fractional_grid():
    prob = Problem(
        p=np.array([33.3, 71.0]),
        h=np.array([0.0, 0.0]),
        t=np.array([500.0, 500.0]),
        band=np.zeros(2),
        lo=np.zeros(2),
        hi=np.array([50.0, 50.0]),
        step=0.01,
        min_order=0.0,
        cash0=1000.0,
        cash_target=0.0,
        reserve=0.0,
        lam=0.0,
        comm_share=0.0,
        comm_min=0.0,
        spread=0.0,
    )
    sol = solve(prob)
    # 500 / 33.3 = 15.015...; 500 / 71 = 7.042...; nearest on a 0.01 grid within cash
    assert sol.z == pytest.approx([15.01, 7.04], abs=1e-9)


def cash_bound_problem(seed, n=4):
    """Four tickers near their targets inside bands, cash near its target: a trade vector's
    cost shows only when cash is charged on the side it ends up, so one cash multiplier of
    the Lagrangian bound leaves thousands of combinations in a box of +-15 shares while the
    objective rules most of them out (the shape of most monthly plans, tax-aware above all).
    """
    rng = np.random.default_rng(seed)
    p = np.round(rng.uniform(40, 160, n), 2) if rng.random() < 0.5 else np.full(n, 100.0)
    h = rng.integers(200, 900, n).astype(float)
    value0 = float(p @ h)
    band = float(rng.choice([0.005, 0.01, 0.02, 0.05])) * value0
    gap = rng.integers(-1, 2, n) * rng.uniform(0, 1.3, n) * band / p
    t = p * (h + np.round(gap))
    cash0 = float(rng.uniform(0.01, 0.05)) * value0
    cash0 += float(rng.normal(0, 0.5)) * band + float(p @ h - t.sum()) * rng.choice([0, 1])
    cash0 = max(cash0, 0.02 * value0)
    value = value0 + cash0
    return Problem(
        p=p,
        h=h,
        t=t,
        band=np.full(n, band),
        lo=np.full(n, -15.0),
        hi=np.full(n, 15.0),
        step=1.0,
        min_order=500.0,
        cash0=cash0,
        cash_target=value - float(t.sum()),
        reserve=0.0,
        lam=1.0,
        comm_share=0.0,
        comm_min=0.0,
        spread=0.0003,
        inside=1.0,
        cash_band=0.001 * value,
        reserve_pct=0.01,
        value=value,
    )


def brute_force_grid(prob):
    """``brute_force`` vectorised over the whole box (the same formulas, in numpy)."""
    axes = [np.arange(lo, hi + 1) for lo, hi in zip(prob.lo, prob.hi, strict=True)]
    z = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")])
    p = prob.p[:, None]
    cost = np.where(z != 0, prob.spread * p * np.abs(z), 0.0).sum(axis=0)
    dev = np.abs(p * (prob.h[:, None] + z) - prob.t[:, None])
    drift = (dev + prob.lam * np.maximum(dev - prob.band[:, None], 0.0)).sum(axis=0)  # inside 1
    cash = prob.cash0 - (p * z).sum(axis=0)
    f = drift + cost + np.abs(cash - prob.cash_target)
    small = ((z != 0) & (np.abs(z) * p < prob.min_order - 1e-9)).any(axis=0)
    ok = ~small & (cash - cost >= prob.reserve_pct * (prob.value - cost) - 1e-7)
    return float(np.where(ok, f, np.inf).min())


# seeds where one multiplier's enumeration exceeds these limits (checked when written)
CASH_BOUND = [41, 56, 230, 8, 68, 78]


@pytest.mark.parametrize("seed", CASH_BOUND)
def test_enumeration_proves_optimum_and_pool_where_one_multiplier_leaves_too_many(seed):
    """Pruned by the Lagrangians of every cash multiplier, the enumeration proves the
    optimum within 300 combinations (no MILP), and with a $5 slack its pool holds the
    optimum of every target shift it covers; both against brute force over the box."""
    prob = cash_bound_problem(seed)
    bound = solve_bound(prob, limit=300)
    assert bound.z is not None
    assert ref_feasible(prob, bound.z)
    assert ref_objective(prob, bound.z) == pytest.approx(brute_force_grid(prob), abs=1e-6)
    bound = solve_bound(prob, limit=3000, slack=lambda z: 5.0)
    assert bound.pool is not None
    for c in (0.0, 1.0, 2.0):  # a target shift of c changes the objective by at most ~2c
        scale = 1 - c / prob.value
        shifted = replace(prob, t=prob.t * scale, cash_target=prob.cash_target * scale)
        z = best_of(shifted, bound.pool)
        assert z is not None and ref_feasible(shifted, z)
        assert ref_objective(shifted, z) == pytest.approx(brute_force_grid(shifted), abs=1e-6)


def test_spending_all_cash_up_to_a_binding_reserve_is_proven_within_the_gap():
    """$1m of cash into four tickers whose targets add up to all of it, with a 1 % reserve:
    every ticker ends inside its band below target, so the objective falls by about $2
    per dollar spent and the optimum is the largest spend the reserve allows, a subset-sum
    whose near-ties once cost HiGHS 0.4-1.5 s at a one-cent gap. The reference enumerates
    three tickers over their bands and gives the fourth the most shares that fit."""
    p = np.array([82.30, 44.87, 48.56, 54.21])
    t = np.array([400_000.0, 200_000.0, 200_000.0, 200_000.0])
    band = 5000.0
    prob = Problem(
        p=p, h=np.zeros(4), t=t, band=np.full(4, band), lo=np.zeros(4),
        hi=np.floor(t / p) + 200, step=1.0, min_order=500.0, cash0=1e6, cash_target=0.0,
        reserve=0.0, lam=1.0, comm_share=0.0, comm_min=0.0, spread=0.0003, inside=1.0,
        cash_band=0.0, reserve_pct=0.01, value=1e6,
    )  # fmt: skip
    z, why = solve_milp(prob)
    assert z is not None, why
    assert ref_feasible(prob, z)
    # the reserve: cash0 - S - spread * S >= 0.01 * (value - spread * S)
    most = (prob.cash0 - 0.01 * prob.value) / (1 + prob.spread - 0.01 * prob.spread)
    axes = [np.arange(np.ceil((t[i] - band) / p[i]), np.floor(t[i] / p[i]) + 1) for i in range(3)]
    grid = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")])
    last = np.floor((most - p[:3] @ grid) / p[3] + 1e-9)
    spend = p[:3] @ grid + p[3] * last
    inside = (p[3] * last <= t[3]) & (p[3] * last >= t[3] - band)  # below target, in band
    k = int(np.where(inside, spend, -np.inf).argmax())
    best = np.append(grid[:, k], last[k])
    assert ref_feasible(prob, best)
    f_best = ref_objective(prob, best)
    assert within_gap(prob, ref_objective(prob, z), f_best)
    assert abs_gap(prob) == pytest.approx(1.0)  # a dollar on a million, not a cent


@pytest.mark.parametrize("seed", range(40))
def test_enumeration_at_once_and_layer_by_layer_keep_the_same_combinations(seed, monkeypatch):
    """Both ways of enumerating (every combination scored at once when few, layer by layer
    otherwise) return exactly the combinations a written-out loop over every one keeps:
    summed excess within the gap and, with checks, every multiplier's summed terms within
    its budget."""
    from optimizer.rebalance import bound as b

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5))
    sizes = rng.integers(1, 8, size=n)
    domains = [(np.sort(rng.choice(50, k, replace=False)) - 25.0, rng.exponential(3.0, k))
               for k in sizes]  # fmt: skip
    for _, excess in domains:
        excess[rng.integers(excess.size)] = 0.0  # each ticker's best is one of its values
    gap = float(rng.uniform(0.0, 8.0))
    m, width = 3, int(sizes.max())
    terms = np.full((m, n, width), np.inf)
    for i, k in enumerate(sizes):
        terms[:, i, :k] = rng.normal(0.0, 2.0, (m, k))
    budgets = rng.normal(0.0, 3.0, m) + 2.0
    for checks in (None, (terms, budgets)):
        expected = set()
        for combo in itertools.product(*(range(k) for k in sizes)):
            total = 0.0
            for i, j in enumerate(combo):
                total += domains[i][1][j]
            if total > gap + 1e-9 * (1 + gap):
                continue
            if checks is not None:
                sums = sum(terms[:, i, j] for i, j in enumerate(combo))
                if not (sums <= budgets).all():
                    continue
            expected.add(combo)
        found = []
        for direct in (4096, 0):  # at once, then forced layer by layer
            monkeypatch.setattr(b, "_DIRECT", direct)
            combos = b._enumerate(domains, gap, 10_000, checks)
            assert combos is not None
            local = combos.idx - width * np.arange(n)[:, None]
            found.append({tuple(int(x) for x in col) for col in local.T})
            assert len(found[-1]) == combos.size  # no combination twice
        assert found[0] == expected
        assert found[1] == expected


def ref_domains(prob, mu, nu, gap):
    """Per ticker, every trade of its whole box (grid points, no trade, selling all) whose
    Lagrangian term is within ``gap`` of the ticker's best, written out one by one."""
    kappa = prob.budget()[0]
    out = []
    for i in range(prob.p.size):
        s, lo = prob.step, float(prob.lo[i])
        zs = {k * s for k in range(int(np.ceil(lo / s - 1e-9)),
                                   int(np.floor(prob.hi[i] / s + 1e-9)) + 1)}  # fmt: skip
        zs = {z for z in zs if abs(z - lo) > 1e-6 * s} | {0.0, lo}  # selling all, exactly
        zs = [z for z in zs if z == 0 or abs(z) >= prob.zmin[i] - 1e-9]
        terms = {}
        for z in zs:
            one = np.zeros(prob.p.size)
            one[i] = z
            dev = abs(prob.p[i] * (prob.h[i] + z) - prob.t[i])
            a = prob.inside
            phi = a * dev + (1 - a + prob.lam) * max(dev - prob.band[i], 0.0)
            cost = ref_cost(prob, one)
            terms[z] = phi + cost * (1 + kappa * nu) + prob.p[i] * z * (nu - mu)
        best = min(terms.values())
        tol = gap + 1e-9 * (1 + abs(gap))
        out.append(sorted(z for z, v in terms.items() if v - best <= tol))
    return out


def wide_problem(rng):
    """Several tickers with boxes of hundreds of grid steps (a deposit or a sale of whole
    positions), sometimes on a fractional grid: kept intervals of any width."""
    n = int(rng.integers(1, 5))
    step = float(rng.choice([1.0, 1.0, 0.1]))
    p = np.round(rng.uniform(2, 80, n), 2)
    h = np.round(rng.integers(0, 150, n) * rng.uniform(0.5, 1.5), 1)  # lots may be fractional
    value = float(p @ h) + rng.uniform(0, 8_000)
    w = rng.dirichlet(np.ones(n + 1))
    return Problem(
        p=p, h=h, t=w[:n] * value, band=rng.uniform(0, 0.05, n) * value,
        lo=-h * (rng.random(n) < 0.8), hi=np.floor(value / p / step) * step * (rng.random(n) < 0.9),
        step=step, min_order=float(rng.choice([0.0, 50.0, 250.0])), cash0=value - float(p @ h),
        cash_target=w[n] * value, reserve=0.0, lam=float(rng.choice([0.0, 1.0])),
        comm_share=float(rng.choice([0.0, 0.005])), comm_min=float(rng.choice([0.0, 1.0])),
        spread=float(rng.choice([0.0, 0.0003])), inside=float(rng.choice([1.0, 0.0])),
        cash_band=0.0, reserve_pct=0.0, value=value,
    )  # fmt: skip


@pytest.mark.parametrize("seed", range(40))
def test_domains_from_the_reach_they_need_are_every_trade_of_the_box_within_the_gap(seed):
    """The enumeration's per-ticker trades, from windows only as wide as the candidates say
    they must be, are exactly the trades a loop over each ticker's whole box keeps (the same
    as the widest windows find), for multipliers and gaps across their range."""
    from optimizer.rebalance import bound as b

    rng = np.random.default_rng(seed)
    prob = wide_problem(rng)
    checked = 0
    for _ in range(6):
        mu, nu = float(rng.uniform(-1, 1)), float(rng.choice([0.0, 0.1, 1.0]))
        gap = float(rng.choice([0.0, 1.0, 30.0, 400.0]) * rng.uniform(0.5, 1.5))
        wide = max(float(np.max(np.abs(np.r_[prob.lo, prob.hi]))) / prob.step, 1.0) + 2
        found = b._domains(prob, mu, nu, gap)
        widest = b._domains(prob, mu, nu, gap, reach=int(wide))
        assert widest is not None  # windows over the whole box hold everything
        expected = ref_domains(prob, mu, nu, gap)
        for got in (widest, found):
            if got is None:  # needs more than the widest reach: the caller moves on
                assert got is found
                continue
            for (values, _excess), want in zip(got, expected, strict=True):
                assert values == pytest.approx(want, abs=1e-9)
        checked += found is not None
    assert checked >= 3

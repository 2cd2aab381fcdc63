"""Rebalancing speed: accounts planned per second, beside PyPortfolioOpt's DiscreteAllocation.

Run: ``python benchmarks/bench_rebalance.py [--accounts 10000] [--holdings 10] [--repeat 3]``

A monthly book: every account holds about ``--holdings`` ETFs in 1-3 tax lots each, plus
cash, drifted from its target by a random market move (a share of the accounts outside their
5/25 bands, some with a deposit or a withdrawal). The planner runs with whole shares, a $1
commission minimum, 2 bps spread, HIFO lots and the wash-sale guard. The reference loop calls
``DiscreteAllocation(...).greedy_portfolio()`` and ``.lp_portfolio()`` on the same targets,
prices and account values (from cash: it has no notion of current holdings). One process,
one core (HiGHS threads=1); medians over ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import warnings
from collections import Counter

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

from optimizer.rebalance import Account, Lot, RebalanceRules, plan

AS_OF = dt.date(2026, 11, 20)
RULES = RebalanceRules(commission_min=1.0, spread_bps=2.0, min_trade=100.0)


def make_book(n_accounts: int, n_holdings: int, seed: int = 0, drifted: float = 0.25):
    """Accounts, one shared target mapping per model portfolio, and prices."""
    rng = np.random.default_rng(seed)
    universe = [f"T{i:02d}" for i in range(max(3 * n_holdings, 30))]
    prices = {t: float(np.round(rng.uniform(20, 600), 2)) for t in universe}
    models = []
    for _ in range(20):  # 20 model portfolios
        names = rng.choice(universe, n_holdings, replace=False)
        w = rng.dirichlet(np.full(n_holdings, 3.0)) * 0.98
        models.append({str(t): float(x) for t, x in zip(names, w, strict=True)} | {"CASH": 0.02})
    book = []
    for k in range(n_accounts):
        targets = models[k % len(models)]
        value = float(rng.lognormal(np.log(150_000), 0.8))
        drift = rng.normal(0, 0.06 if rng.random() < drifted else 0.015, n_holdings)
        lots, cash = [], value * 0.02
        for (t, w), g in zip(list(targets.items())[:-1], drift, strict=True):
            shares = np.floor(value * w * (1 + g) / prices[t])
            n_lots = int(rng.integers(1, 4))
            split = np.diff(
                np.sort(np.r_[0, rng.choice(np.arange(1, max(shares, 2)), n_lots - 1), shares])
            )
            for j, q in enumerate(split):
                if q > 0:
                    acquired = AS_OF - dt.timedelta(days=int(rng.integers(40, 2000)))
                    cost = prices[t] * float(rng.uniform(0.6, 1.3))
                    lots.append(Lot(t, float(q), round(cost, 2), acquired, f"{k}-{t}-{j}"))
        flow = rng.random()
        deposit = value * 0.05 if flow < 0.05 else 0.0
        withdraw = value * 0.03 if 0.05 <= flow < 0.08 else 0.0
        book.append((Account(f"A{k:05d}", cash, tuple(lots)), targets, deposit, withdraw))
    return book, prices


def run_planner(book, prices):
    """Plan every account; ((wall s, CPU s), accounts per method, seconds per method)."""
    methods, spent = Counter(), Counter()
    c0, t0 = time.process_time(), time.perf_counter()
    for account, targets, deposit, withdraw in book:
        t1 = time.perf_counter()
        result = plan(
            account, targets, prices, RULES, deposit=deposit, withdraw=withdraw, as_of=AS_OF
        )
        methods[result.method.value] += 1
        spent[result.method.value] += time.perf_counter() - t1
    return (time.perf_counter() - t0, time.process_time() - c0), methods, spent


def run_pypfopt(book, prices, kind: str):
    import pandas as pd
    from pypfopt.discrete_allocation import DiscreteAllocation

    c0, t0 = time.process_time(), time.perf_counter()
    for account, targets, deposit, withdraw in book:
        w = {t: x for t, x in targets.items() if t != "CASH"}
        held = sum(q * prices[t] for t, q in account.positions.items())
        value = account.cash + held + deposit - withdraw
        da = DiscreteAllocation(w, pd.Series({t: prices[t] for t in w}), value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kind == "greedy":
                da.greedy_portfolio()
            else:
                da.lp_portfolio(solver="HIGHS")
    return time.perf_counter() - t0, time.process_time() - c0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--holdings", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--drifted",
        type=float,
        default=0.25,
        help="share of accounts hit by a large (6%% sd) market move",
    )
    ap.add_argument(
        "--ref-accounts",
        type=int,
        default=1_000,
        help="accounts in the (slower) DiscreteAllocation loops",
    )
    args = ap.parse_args(argv)
    book, prices = make_book(args.accounts, args.holdings, drifted=args.drifted)
    times, methods, spent = [], Counter(), Counter()
    for _ in range(args.repeat):
        elapsed, methods, spent = run_planner(book, prices)
        times.append(elapsed)
    t_plan = statistics.median(t for t, _ in times)
    cpu_plan = statistics.median(c for _, c in times)
    ref = book[: args.ref_accounts]
    greedy = [run_pypfopt(ref, prices, "greedy") for _ in range(args.repeat)]
    lp = [run_pypfopt(ref, prices, "lp") for _ in range(args.repeat)]
    t_greedy, cpu_greedy = (statistics.median(x) for x in zip(*greedy, strict=True))
    t_lp, cpu_lp = (statistics.median(x) for x in zip(*lp, strict=True))
    rate = args.accounts / t_plan
    rate_g, rate_lp = len(ref) / t_greedy, len(ref) / t_lp
    cpu_rate = args.accounts / cpu_plan
    print(
        f"python {sys.version.split()[0]}, {args.accounts} accounts x ~{args.holdings} holdings,"
        f" {args.drifted:.0%} with a large drift, median of {args.repeat}"
    )
    print(f"capalloc plan():                  {rate:10,.0f} accounts/s  ({t_plan:.2f} s wall)")
    print(f"                                  {cpu_rate:10,.0f} accounts per CPU-second")
    for name, count in methods.most_common():
        print(
            f"  {name:16s} {count:6d} accounts, {1e3 * spent[name] / count:8.3f} ms each "
            f"({spent[name]:.2f} s in the last run)"
        )
    for name, r, cpu in (("greedy", rate_g, cpu_greedy), ("lp", rate_lp, cpu_lp)):
        print(
            f"pypfopt DiscreteAllocation {name:6s}: {r:10,.0f} accounts/s, "
            f"{len(ref) / cpu:10,.0f} per CPU-second (ratio capalloc/pypfopt {rate / r:.2f})"
        )
    verdict = "met" if cpu_rate >= 2000 else "NOT met"
    print(f"target >= 2,000 accounts per CPU-second (one core): {verdict}")


if __name__ == "__main__":
    main()

"""Entropy pooling speed: 10,000 scenarios x 5 views, beside skfolio's EntropyPooling.

Run: ``python benchmarks/bench_views.py [--scenarios 10000] [--repeat 7]``

A 5-asset scenario matrix (Student-t draws, seeded). Two view sets:

- mixed: a return view, a relative-return inequality, an event probability ("P(SMALL <
  -10 %) >= 20 %"), a volatility view and a correlation view (the last two iterated to the
  posterior's own mean), each solved by ``pool_views`` (what ``[views]`` runs);
- means: five mean views (two of them inequalities), solved by ours and by skfolio's
  ``EntropyPooling`` (BSD) on the same matrix; the largest difference between the two
  posteriors is printed before the times.

One process, BLAS on one thread; medians over ``--repeat`` runs (the first run warms up).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from optimizer.config import validate
from optimizer.views import ViewConfig, pool_views

TICKERS = ("LARGE", "MID", "SMALL", "BOND", "CASH")
MIXED = [
    {"kind": "return", "series": "SMALL", "value": 0.04},
    {"kind": "relative", "series": "SMALL", "versus": "LARGE", "op": ">=", "value": 0.01},
    {"kind": "probability", "series": "SMALL", "below": -0.10, "op": ">=", "value": 0.2},
    {"kind": "volatility", "series": "BOND", "value": 0.07},
    {"kind": "correlation", "series": "LARGE", "versus": "BOND", "value": -0.2},
]
MEANS = [
    ("SMALL", "==", 0.04),
    ("LARGE", ">=", 0.03),
    ("MID", "==", 0.025),
    ("BOND", "<=", 0.0),
    ("CASH", "==", 0.01),
]


def matrix(S: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vol = np.array([0.16, 0.19, 0.24, 0.06, 0.005]) * 0.5  # a quarter's volatility
    corr = np.full((5, 5), 0.6) + 0.4 * np.eye(5)
    corr[3, :3] = corr[:3, 3] = -0.1
    corr[4, :] = corr[:, 4] = 0.0
    corr[4, 4] = 1.0
    L = np.linalg.cholesky(corr)
    t = rng.standard_t(5, size=(S, 5)) / np.sqrt(5 / 3)
    return np.array([0.02, 0.022, 0.025, 0.01, 0.01]) + (t @ L.T) * vol


def timed(fn, repeat: int) -> tuple[float, object]:
    out = fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    X = matrix(args.scenarios)
    q = np.full(len(X), 1 / len(X))
    mixed = [validate(ViewConfig, v) for v in MIXED]
    t, (_, outcomes, _) = timed(lambda: pool_views(X, q, mixed, TICKERS, 0.25), args.repeat)
    print(f"{len(X)} scenarios x {len(mixed)} mixed views: {1e3 * t:.1f} ms (median)")
    for o in outcomes:
        print(f"  {o.name:45s} prior {o.prior:+.4f}  posterior {o.posterior:+.4f}")
    means = [
        validate(ViewConfig, {"kind": "return", "series": s, "op": op, "value": v})
        for s, op, v in MEANS
    ]
    t_ours, (p_ours, _, _) = timed(lambda: pool_views(X, q, means, TICKERS, 0.25), args.repeat)
    print(f"{len(X)} scenarios x 5 mean views: capalloc {1e3 * t_ours:.1f} ms", end="")
    try:
        import pandas as pd
        from skfolio.prior import EntropyPooling
    except ImportError:
        print(" (skfolio not installed)")
        return
    frame = pd.DataFrame(X, columns=TICKERS)
    views = [f"{s} {op} {v}" for s, op, v in MEANS]

    def skfolio_run() -> np.ndarray:
        model = EntropyPooling(mean_views=views).fit(frame)
        return np.asarray(model.return_distribution_.sample_weight)

    t_sk, p_sk = timed(skfolio_run, args.repeat)
    diff = float(np.abs(p_sk - p_ours).max())
    print(f", skfolio {1e3 * t_sk:.1f} ms; max |p_ours - p_skfolio| = {diff:.2e}")


if __name__ == "__main__":
    main()

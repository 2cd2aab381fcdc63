"""What-if page latency: one update (a changed shock) on the example accounts.

Run: ``python benchmarks/bench_serve.py [--updates 200] [--config examples/whatif/account.toml]``

Starts the app of ``capalloc serve`` in process (the model fitted once, as the server does)
and posts ``--updates`` changes of the S&P 500 level (cycling through 5,800..9,000, so
every update recomputes the scenario moments, the mixture and its Monte Carlo draws, the
optimum, every scenario's own optimum for the regret, and the trades) to ``/api/update``
through Starlette's TestClient. Prints the start time, then p50 / p95 / max of the
workflow's own time (``seconds`` in the answer) and of the whole request (HTTP parsing and
JSON included). A change of risk aversion or a limit compiles a new problem the first time
a policy is seen (cached after): its first and repeated times are printed too.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import warnings

import numpy as np

with warnings.catch_warnings():  # Starlette's note on its HTTP client, not ours
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from optimizer.web import create_app
from optimizer.workflows.live import LiveSession

LEVELS = (5800, 6000, 6200, 6500, 7000, 8000, 9000)


def _pcts(xs: list[float]) -> str:
    ms = 1e3 * np.array(xs)
    p50, p95 = np.percentile(ms, 50), np.percentile(ms, 95)
    return f"p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {ms.max():6.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--updates", type=int, default=200)
    ap.add_argument(
        "--config",
        action="append",
        default=None,
        help="account file (repeatable; default: the what-if and proposal examples)",
    )
    args = ap.parse_args()
    configs = args.config or ["examples/whatif/account.toml", "examples/proposal/account.toml"]
    for config in configs:
        t0 = time.perf_counter()
        session = LiveSession(config).start()
        start = time.perf_counter() - t0
        client = TestClient(create_app(session, out_dir="out/bench", scenario_dir="out/bench"))
        sid = "sp500-correction-6200"
        field = f"shock:{sid}:0"
        server, wall = [], []
        for i in range(args.updates):
            t = time.perf_counter()
            got = client.post("/api/update", data={field: str(LEVELS[i % len(LEVELS)])}).json()
            wall.append(time.perf_counter() - t)
            server.append(got["seconds"])
        print(f"{config}: start (data, factor model, first solve) {start:.2f} s")
        print(f"  update, workflow  {_pcts(server)}   ({args.updates} S&P level changes)")
        print(f"  update, request   {_pcts(wall)}")
        first, again = [], []
        for ra in ("2", "3", "5"):
            t = time.perf_counter()
            client.post("/api/update", data={"risk_aversion": ra})
            first.append(time.perf_counter() - t)
            t = time.perf_counter()
            client.post("/api/update", data={"risk_aversion": ra})
            again.append(time.perf_counter() - t)
        print(f"  new risk aversion, first time {_pcts(first)}")
        print(f"  new risk aversion, again      {_pcts(again)}")


if __name__ == "__main__":
    main()

"""Cold ``capalloc optimize`` on a 20-stock wide CSV (no SPY) against the same job written
as a PyPortfolioOpt script; both are fresh processes, run in turn (A B A B ...).

The CSV is built from the real Yahoo exports in ../shared/data (nine ETFs and indexes
renamed like stocks, eleven blends of pairs; tests/realdata_support.py) into a temporary
folder. The job: weekly returns of the daily closes, arithmetic historical mean, Ledoit-Wolf
covariance, max Sharpe (risk-free 0), each weight in [0, 0.2]. Prints the median wall time
of each, their ratio, and the largest weight difference between the two answers. Both run
with compiled bytecode, as installed packages do (PYTHONDONTWRITEBYTECODE is dropped and
the bytecode goes to a temporary PYTHONPYCACHEPREFIX).

    python benchmarks/bench_cli_realdata.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.realdata_support import write_stock_table  # noqa: E402

PPO_SCRIPT = """
import json, sys
import pandas as pd
from pypfopt import EfficientFrontier, expected_returns, risk_models

prices = pd.read_csv(sys.argv[1], index_col=0, parse_dates=True)
weekly = prices.loc[prices.index.to_series().resample("W-FRI").last().to_numpy()]
mu = expected_returns.mean_historical_return(weekly, compounding=False, frequency=52)
S = risk_models.CovarianceShrinkage(weekly, frequency=52).ledoit_wolf()
ef = EfficientFrontier(mu, S, weight_bounds=(0, 0.2))
ef.max_sharpe(risk_free_rate=0.0)
print(json.dumps({"weights": dict(ef.clean_weights())}))
"""


def run(args: list[str], env: dict[str, str]) -> tuple[float, dict]:
    start = time.perf_counter()
    res = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {res.stderr.strip()}")
    return seconds, json.loads(res.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    shared = ROOT.parent / "shared" / "data"
    if not shared.is_dir():
        raise SystemExit(f"needs the real data at {shared}")
    tmp = Path(tempfile.mkdtemp(prefix="capalloc-bench-realdata-"))
    tickers = write_stock_table(shared, tmp / "stocks.csv")
    assets = "\n".join(f'[universe.assets.{t}]\ntags = ["equity"]\nmax = 0.2' for t in tickers)
    (tmp / "account.toml").write_text(f'[data]\nsource = "csv:stocks.csv"\n\n{assets}\n')
    (tmp / "ppo.py").write_text(PPO_SCRIPT)
    ours_cmd = [sys.executable, "-m", "optimizer", "optimize", "--config",
                str(tmp / "account.toml"), "--format", "json"]  # fmt: skip
    ppo_cmd = [sys.executable, str(tmp / "ppo.py"), str(tmp / "stocks.csv")]
    # as an installed package is: compiled bytecode (kept in a temporary folder, for both)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    run(ours_cmd, env), run(ppo_cmd, env)  # write the bytecode, warm the OS file cache
    ours, ppo = [], []
    for _ in range(runs):
        t, a = run(ours_cmd, env)
        ours.append(t)
        t, b = run(ppo_cmd, env)
        ppo.append(t)
    diff = max(abs(a["weights"][t] - b["weights"].get(t, 0.0)) for t in tickers)
    a_med, b_med = statistics.median(ours), statistics.median(ppo)
    print(f"{'command':44s} {'median s':>9s} {'min s':>7s}")
    print(f"{'capalloc optimize (20 stocks, wide CSV)':44s} {a_med:9.3f} {min(ours):7.3f}")
    print(f"{'PyPortfolioOpt script (same job)':44s} {b_med:9.3f} {min(ppo):7.3f}")
    print(f"ratio capalloc / PyPortfolioOpt: {a_med / b_med:.2f} (target <= 1)")
    print(f"largest weight difference: {diff:.2e}")


if __name__ == "__main__":
    main()

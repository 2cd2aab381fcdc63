"""Speed of the walk-forward backtest: one policy and its benchmarks, one process.

Target: one policy over 2008-01..2026-02 (218 monthly rebalances) on the shared
data in under 30 s on one core. Prints wall time and CPU time of the process (the CPU time
is what one core spends; on a busy machine the wall time is longer), the months per second
and how many optimization problems were compiled (one per policy and shape: compiled once,
re-solved every month). Without ../shared/data it runs the bundled sample, 2000-01..2016-12.

    python benchmarks/bench_backtest.py [--start 2008-01 --end 2026-02] [--sample]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REAL = ROOT / "examples" / "backtest" / "realdata.toml"
SAMPLE = ROOT / "examples" / "backtest" / "account.toml"
TARGET_S = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--start", default=None)
    parser.add_argument("--end", default=None)
    parser.add_argument("--sample", action="store_true", help="the bundled sample data")
    args = parser.parse_args()
    real = not args.sample and (ROOT.parent / "shared" / "data").is_dir()
    config, benchmark = (REAL, "SPY=0.6,TLT=0.4") if real else (SAMPLE, "LARGE=0.6,BOND=0.4")
    start = args.start or ("2008-01" if real else "2000-01")
    end = args.end or ("2026-02" if real else "2016-12")

    wall0, cpu0 = time.perf_counter(), time.process_time()
    from optimizer.backtest import run_backtest
    from optimizer.workflows.pipeline import Pipeline

    pipeline = Pipeline()
    bt = run_backtest(config, start, end, benchmarks=(benchmark,), pipeline=pipeline)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    months = len(bt.policy.months)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{config.relative_to(ROOT)} {start}..{end}: {months} months, "
          f"{len(bt.strategies)} strategies (policy, {benchmark}, buy-and-hold)")  # fmt: skip
    print(f"wall {wall:.1f} s, cpu {cpu:.1f} s (imports included), "
          f"{months / cpu:.1f} months/cpu-s, peak RSS {rss:.0f} MB, "
          f"problems compiled: {pipeline.compilations}")  # fmt: skip
    print(f"target {TARGET_S:.0f} s on one core: cpu/target = {cpu / TARGET_S:.2f}")


if __name__ == "__main__":
    main()

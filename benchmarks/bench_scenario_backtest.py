"""Speed of the scenario backtest: 4 assets x 166 months on the shared data.

Target: IWM, QQQ, HYG, TLT, 2011-12..2026-02 (166 months with a full 60-month
window), under 20 s including reading the data. Prints wall and CPU time per engine setting
(the plain monthly regression, and the default: daily log returns over all months before
each month, weighted by month with a 36-month half-life), with the default's R² per asset.

    python benchmarks/bench_scenario_backtest.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
TARGET_S = 20.0


def main() -> None:
    if not DATA.is_dir():
        print(f"skipped: {DATA} is not present")
        return
    from optimizer.frequency import Frequency
    from optimizer.scenario.backtest import backtest_scenarios
    from optimizer.scenario.predict import EngineOptions, load_market

    source = f"csv:{DATA / 'yahoo'},{DATA / 'fred'}"
    plain = EngineOptions(
        sampling=Frequency.MONTHLY, halflife=None, expanding=False, log_returns=False
    )
    for options in (plain, EngineOptions()):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        history = load_market(source, ["IWM", "QQQ", "HYG", "TLT"])
        bt = backtest_scenarios(history, start="2011-12", end="2026-02", options=options)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        verdict = "ok" if wall < TARGET_S else "SLOW"
        print(f"{options.text()}: {len(bt.months)} months x {len(bt.tickers)} assets in "
              f"{wall:.2f} s wall, {cpu:.2f} s CPU (target {TARGET_S:g} s: {verdict})")  # fmt: skip
        r2 = ", ".join(f"{t} {s.r2:.3f}" for t, s in bt.scores.items())
        print(f"  R²: {r2}")


if __name__ == "__main__":
    main()

"""Cold-start timings of the command line: ``capalloc --help`` and a full ``propose``.

Each run is a fresh process (nothing cached in memory; the OS file cache is warm after
the first run, as it is for a user). Prints the median of several runs and the ratio to
the targets (help under 0.5 s, propose on the example under 3 s).

    python benchmarks/bench_cli.py [--runs 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        res = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if res.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {res.stderr.strip()}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    exe = shutil.which("capalloc") or str(Path(sys.executable).parent / "capalloc")
    out = Path(tempfile.mkdtemp(prefix="capalloc-bench-"))
    config = ROOT / "examples" / "proposal" / "account.toml"
    cases = [
        ("capalloc --help", [exe, "--help"], 0.5),
        (
            "capalloc propose (example, sample data)",
            [exe, "propose", "--config", str(config), "--out", str(out), "--format", "json"],
            3.0,
        ),
    ]
    print(f"{'command':42s} {'median s':>9s} {'min s':>7s} {'target s':>9s} {'ratio':>6s}")
    for label, args, target in cases:
        t = timed(args, runs)
        med = statistics.median(t)
        print(f"{label:42s} {med:9.3f} {min(t):7.3f} {target:9.1f} {med / target:6.2f}")
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Benchmark: ``capalloc run-monthly`` over many accounts (target: 10,000 accounts
of about 10 holdings each in under 10 s on a 2-core machine).

Each repeat builds a fresh ledger and order folder and runs the real CLI in a subprocess
(cold start included), then prints the median wall time and accounts per second.

    python benchmarks/bench_monthly.py --accounts 10000 --workers 2
    python benchmarks/bench_monthly.py --processor optimizer.workflows:process_account \
        --template examples/monthly/balanced-garcia --layout csv   # the product pipeline

Without ``--template`` the accounts are synthetic, in the format of the deterministic test
pipeline (``tests.jobs_support.pipeline``): that measures the runner, the ledger and the
order files with a pipeline that only reads the inputs and computes whole-share orders —
the job's own overhead, not the optimizer's.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICKERS = ["SPY", "IWM", "QQQ", "TLT", "BND", "LQD", "HYG", "IJR", "VTV", "VUG"]


def make_synthetic(folder: Path, n: int) -> None:
    weights = "\n".join(f"{t} = {1 / len(TICKERS):.6f}" for t in TICKERS)
    config = f"[targets]\n{weights}\n"
    for i in range(n):
        d = folder / f"acct{i:05d}"
        d.mkdir(parents=True)
        (d / "account.toml").write_text(config)
        rows = [f"{t},{5 + (i * 7 + k * 3) % 40},{50 + 10 * k}" for k, t in enumerate(TICKERS)]
        (d / "holdings.csv").write_text(
            "ticker,shares,price\n" + "\n".join(rows) + f"\nCASH,{(i % 13) * 250},\n"
        )


def make_from_template(folder: Path, n: int, template: Path, layout: str) -> None:
    """``n`` accounts from one account folder, each with its share counts scaled
    differently (so they differ in holdings, hence in trades, but share the policy).

    ``layout="folders"``: one sub-folder per account, each with its own copy of the
    policy. ``layout="csv"``: one shared policy file and an ``accounts.csv`` listing each
    account's holdings file (the layout for many accounts on a few model policies).
    """
    import csv
    import io

    config = (template / "account.toml").read_bytes()
    with open(template / "holdings.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    folder.mkdir(parents=True)
    if layout == "csv":  # the policy is shared: its own holdings file is not the accounts'
        policy = re.sub(rb"^holdings\s*=.*\n", b"", config, flags=re.M)
        (folder / "policy.toml").write_bytes(policy)
        (folder / "holdings").mkdir()
        index = ["account,config,holdings"]
    for i in range(n):
        account = f"acct{i:05d}"
        scale = 0.5 + (i * 37 % 101) / 100
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            shares = str(round(float(row["shares"]) * scale))
            writer.writerow({**row, "account": account, "shares": shares})
        if layout == "csv":
            (folder / "holdings" / f"{account}.csv").write_text(out.getvalue())
            index.append(f"{account},policy.toml,holdings/{account}.csv")
        else:
            (folder / account).mkdir()
            own = re.sub(
                rb'^id\s*=\s*"[^"]*"', f'id = "{account}"'.encode(), config, count=1, flags=re.M
            )  # an [account] id must be the folder's name
            (folder / account / "account.toml").write_bytes(own)
            (folder / account / "holdings.csv").write_text(out.getvalue())
    if layout == "csv":
        (folder / "accounts.csv").write_text("\n".join(index) + "\n")


def _children_cpu() -> tuple[float, float]:
    """(user, system) CPU seconds of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime, usage.ru_stime


def run_once(
    accounts: Path, work: Path, args: argparse.Namespace
) -> tuple[float, tuple[float, float], dict]:
    """One run of the CLI: wall seconds, (user, system) CPU of all its processes, metrics."""
    cmd = [sys.executable, "-m", "optimizer", "run-monthly", "--accounts", str(accounts),
           "--db", str(work / "ledger.db"), "--orders-dir", str(work / "orders"),
           "--period", args.period, "--workers", str(args.workers),
           "--processor", args.processor, "--format", "json",
           "--allow-stale"]  # fmt: skip  # the sample's prices end 2017-03
    start, (user, system) = time.perf_counter(), _children_cpu()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds, (user1, system1) = time.perf_counter() - start, _children_cpu()
    cpu = (user1 - user, system1 - system)
    if res.returncode not in (0, 10):
        sys.exit(f"run-monthly failed ({res.returncode}): {res.stderr.strip()}")
    metrics = json.loads(res.stdout)["metrics"]
    if metrics.get("n_failed"):  # a failed account is not a fast one
        sys.exit(f"run-monthly: {metrics['n_failed']} accounts failed; see {work / 'ledger.db'}")
    return seconds, cpu, metrics


LOAD = "n/a"


def machine_state(folder: Path, files: int = 2000) -> str:
    """How fast this machine is right now, for reading the wall times beside it: a fixed
    Python loop, and the kernel's cost of creating a file where the order files go (on a
    journal-less ext4 it moves 10-fold with what was deleted nearby, and the job creates
    one order file per account)."""
    start = time.perf_counter()
    x = 0
    for i in range(10_000_000):
        x += i
    loop = time.perf_counter() - start
    folder.mkdir()
    start = time.perf_counter()
    for i in range(files):
        (folder / f".f{i}.tmp").write_bytes(b"x" * 300)
    create = (time.perf_counter() - start) / files
    return f"10M-addition loop {loop:.2f} s, creating a file {create * 1e3:.3f} ms"


def main() -> None:
    global LOAD
    LOAD = " ".join(f"{x:.1f}" for x in __import__("os").getloadavg())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--period", default="2026-01")
    parser.add_argument("--processor", default="tests.jobs_support.pipeline:process_account")
    parser.add_argument("--template", type=Path, default=None)
    parser.add_argument("--layout", choices=["folders", "csv"], default="folders")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_monthly_") as tmp:
        accounts = Path(tmp) / "accounts"
        t0 = time.perf_counter()
        if args.template:
            make_from_template(accounts, args.accounts, args.template, args.layout)
        else:
            make_synthetic(accounts, args.accounts)
        print(f"built {args.accounts} accounts in {time.perf_counter() - t0:.1f} s")
        print(f"machine: {machine_state(Path(tmp) / 'calibration')} (before)")
        times, cpus, rerun_times = [], [], []
        for r in range(args.repeat):
            work = Path(tmp) / f"run{r}"
            work.mkdir()
            seconds, cpu, metrics = run_once(accounts, work, args)
            times.append(seconds)
            cpus.append(cpu)
            rerun, _, rerun_metrics = run_once(accounts, work, args)  # everything already done
            rerun_times.append(rerun)
            print(f"repeat {r}: wall {seconds:.2f} s, cpu {sum(cpu):.2f} s (user {cpu[0]:.2f}, "
                  f"system {cpu[1]:.2f}), {metrics}; "
                  f"rerun {rerun:.2f} s (skipped {rerun_metrics['n_skipped']})")  # fmt: skip
        print(f"machine: {machine_state(Path(tmp) / 'calibration-after')} (after)")
        med = statistics.median(times)
        print(
            f"run-monthly, {args.accounts} accounts, {args.workers} workers, "
            f"processor {args.processor}: median wall {med:.2f} s "
            f"({args.accounts / med:,.0f} accounts/s), median cpu (all processes) "
            f"{statistics.median(sum(c) for c in cpus):.2f} s (of which system "
            f"{statistics.median(c[1] for c in cpus):.2f} s); "
            f"target 10 s: ratio {med / 10:.2f}; "
            f"rerun of a done period: median {statistics.median(rerun_times):.2f} s; "
            f"load average before: {LOAD}"
        )


if __name__ == "__main__":
    main()

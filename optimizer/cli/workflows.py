"""Workflow commands: ``run-monthly`` (the unattended monthly rebalance job).

Heavy imports (SQLAlchemy, exchange_calendars, pandas, the pipeline) happen inside the
command functions so ``capalloc --help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import click

from optimizer.cli.output import (
    FiniteRange,
    GivenPath,
    emit,
    format_option,
    max_price_age_option,
    note,
    table,
)
from optimizer.errors import PartialFailure

_DEFAULT_PROCESSOR = "optimizer.workflows:process_account"


class _Period(click.ParamType):
    """``--period YYYY-MM``: a malformed month is a bad option value (exit 2); a
    well-formed one outside the accepted range is refused later (exit 3)."""

    name = "YYYY-MM"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from optimizer.errors import ConfigError
        from optimizer.jobs.calendar import split_period

        try:
            split_period(str(value))
        except ConfigError:
            self.fail(f"{value!r} is not a month as YYYY-MM (e.g. 2026-01)", param, ctx)
        return str(value).strip()


PERIOD = _Period()


@click.command("run-monthly")
@click.option(
    "--accounts",
    "accounts_dir",
    required=True,
    type=GivenPath(file_okay=False, path_type=Path),
    help="Folder of accounts: one sub-folder each (account.toml, holdings.csv), "
    "or an accounts.csv listing account, config, holdings.",
)
@click.option(
    "--db", required=True, metavar="URL", help="Ledger: a SQLAlchemy URL or a SQLite file path."
)
@click.option(
    "--period",
    default=None,
    type=PERIOD,
    help="Month to rebalance (default: this month); from 1990-01 to the current month.",
)
@click.option(
    "--allow-future",
    is_flag=True,
    help="Accept a --period after the current month (at most 12 months ahead).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Compute and report; write nothing (no orders, no ledger row, no file created).",
)
@click.option(
    "--allow-stale",
    is_flag=True,
    help="Trade even when an account's last price is older than --max-price-age "
    "(reported as a warning); without it such a run is refused before anything is written.",
)
@max_price_age_option
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Worker processes; each prepares the pipeline once and re-uses it.",
)
@click.option(
    "--dask",
    "dask",
    default=None,
    metavar="local[:N]|tcp://HOST:PORT",
    help="Run the pipeline on a Dask cluster: a local one of N (default --workers) "
    "processes, or a running scheduler. The ledger and order files stay with this process.",
)
@click.option(
    "--chunk-size",
    default=None,
    type=click.IntRange(1, 100_000),
    help="Accounts per chunk (one ledger transaction each). Default: automatic.",
)
@click.option(
    "--orders-dir",
    default=Path("orders"),
    show_default=True,
    type=GivenPath(file_okay=False, path_type=Path),
    help="Order files go to ORDERS_DIR/<period>/<account>.csv.",
)
@click.option(
    "--fallback",
    type=click.Choice(["none", "keep-holdings"]),
    default="none",
    show_default=True,
    help="When an account's pipeline fails: record the failure, or keep its holdings "
    "(trade nothing) and record a fallback. accounts.csv may set it per account.",
)
@click.option(
    "--processor",
    default=_DEFAULT_PROCESSOR,
    show_default=True,
    metavar="MODULE:FUNC",
    help="Extension point: the per-account pipeline (module may define prepare_worker()).",
)
@click.option(
    "--lock-timeout",
    default=15.0,
    show_default=True,
    type=FiniteRange(0.1),
    help="Minutes without heartbeat after which another host's lock is stale.",
)
@click.option(
    "--accounts-table",
    is_flag=True,
    help="Also print one line per account (status, orders, reason) in the table output; "
    "the JSON output always has them under 'accounts'.",
)
@format_option
def run_monthly(
    accounts_dir: Path,
    db: str,
    period: str | None,
    allow_future: bool,
    dry_run: bool,
    allow_stale: bool,
    max_price_age: int,
    workers: int,
    dask: str | None,
    chunk_size: int | None,
    orders_dir: Path,
    fallback: str,
    processor: str,
    lock_timeout: float,
    accounts_table: bool,
    fmt: str,
) -> None:
    """Rebalance every account for one month, exactly once, with a ledger.

    Exit code 0 when every account is done or skipped as already done, 10 when some
    failed (each is recorded with its reason), 9 when the ledger cannot be used or
    another run holds the period, 3 when prices are stale (without --allow-stale).
    """
    import datetime as dt

    from optimizer.jobs.calendar import parse_period
    from optimizer.jobs.model import FallbackPolicy
    from optimizer.jobs.runner import RunOptions
    from optimizer.jobs.runner import run_monthly as run

    options = RunOptions(
        accounts_dir=accounts_dir,
        db=db,
        period=parse_period(period, allow_future=allow_future, look_up=False),
        orders_dir=orders_dir,
        dry_run=dry_run,
        workers=workers,
        chunk_size=chunk_size,
        processor=processor,
        fallback=FallbackPolicy(fallback),
        stale_after=dt.timedelta(minutes=lock_timeout),
        max_price_age=max_price_age,
        allow_stale=allow_stale,
        dask=dask,
    )
    with _terminate_as_interrupt(), _progress(enabled=fmt != "json" and sys.stderr.isatty()) as bar:
        summary = run(options, on_start=bar.start, progress=bar.advance)
    doc = summary.to_dict()
    counts = doc.pop("counts")
    emit(fmt, {"metrics": counts, "provenance": _provenance(doc, processor), **doc},
         lambda: _render(doc, counts, per_account=accounts_table))  # fmt: skip
    failed = counts["n_failed"]
    if failed and doc["dry_run"]:  # nothing recorded: the errors are in the summary
        raise PartialFailure(
            f"{failed} of {counts['n_accounts']} accounts failed (dry run: nothing recorded)",
            hint="fix them and run again; each account's error is in the summary",
        )
    if failed:
        raise PartialFailure(
            f"{failed} of {counts['n_accounts']} accounts failed; each is recorded "
            f"in the ledger (run {doc['run_id']})",
            hint="fix them and run again: done accounts are skipped",
        )


class Terminated(KeyboardInterrupt):
    """SIGTERM, stopping the run as Ctrl-C does (the ledger says which it was)."""

    def __repr__(self) -> str:
        return "SIGTERM"


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler's timeout, ``kill``) stops the run like Ctrl-C: the chunks in
    flight finish, the run is recorded as failed and its lock released (exit 130)."""
    import signal

    def interrupt(signum: int, frame: Any) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _provenance(doc: dict[str, Any], processor: str) -> dict[str, Any]:
    return {
        "run_id": doc["run_id"],
        "period": doc["period"],
        "rebalance_date": doc["rebalance_date"],
        "processor": processor,
    }


def _render(doc: dict[str, Any], c: dict[str, int], *, per_account: bool = False) -> None:
    title = f"run-monthly {doc['period']} (rebalance date {doc['rebalance_date']})"
    if doc["dry_run"]:
        title += " — dry run, nothing written"
    rows = [
        ("traded", c["n_traded"]),
        ("no trade needed", c["n_no_trade"]),
        ("fallback (kept holdings)", c["n_fallback"]),
        ("failed", c["n_failed"]),
        ("skipped: already done", c["n_skipped"]),
        ("changed after done (not re-traded)", c["n_changed"]),
        ("accounts", c["n_accounts"]),
    ]
    caption = f"run {doc['run_id']}: {doc['status']}"
    if doc["dry_run"]:
        caption = "dry run: nothing recorded"
    table(title, ["outcome", "accounts"], rows, caption=caption)
    if per_account:
        table("accounts", ["account", "status", "orders", "kind", "reason"],
              [(a["account"], a["status"], a["n_orders"], a["error_kind"] or "",
                a["error"] or "") for a in doc["accounts"]])  # fmt: skip
    problems = [a for a in doc["accounts"] if a["error"]]
    if problems:
        table("accounts needing attention", ["account", "status", "kind", "reason"],
              [(a["account"], a["status"], a["error_kind"], a["error"])
               for a in problems[:50]])  # fmt: skip
        if len(problems) > 50:
            note(f"... and {len(problems) - 50} more (see the ledger, run {doc['run_id']})")
    for w in doc["warnings"][:50]:
        note(f"warning: {w}")
    if len(doc["warnings"]) > 50:
        note(f"... and {len(doc['warnings']) - 50} more warnings (see the ledger)")
    rec = doc["reconciled"]
    if rec["rewritten"] or rec["orphaned"] or rec["removed_temp"]:
        note(
            f"reconciled the order folder: {len(rec['rewritten'])} rewritten from the ledger, "
            f"{len(rec['orphaned'])} unrecorded renamed *.orphan, "
            f"{len(rec['removed_temp'])} temporary removed"
        )
    if doc["taken_over"]:
        note(f"took over the lock of run {doc['taken_over']}, which had died (marked crashed)")
    if not doc["dry_run"] and c["n_traded"]:
        note(f"orders: {doc['orders_dir']}")


class _Bar:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, progress: Any = None, label: str = "accounts") -> None:
        self.progress = progress
        self.label = label
        self.task: Any = None

    def start(self, total: int) -> None:
        if self.progress is not None:
            self.task = self.progress.add_task(self.label, total=total)

    def advance(self, n: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task, n)


class _BarContext(AbstractContextManager):
    def __init__(self, label: str = "accounts") -> None:
        self.label = label
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self.progress = Progress(
            "{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )

    def __enter__(self) -> _Bar:
        self.progress.__enter__()
        return _Bar(self.progress, self.label)

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)


def _progress(*, enabled: bool, label: str = "accounts") -> AbstractContextManager:
    """A progress bar on stderr (``enabled``: stderr is a terminal and the output a table)."""
    return _BarContext(label) if enabled else nullcontext(_Bar())

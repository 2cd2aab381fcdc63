"""The unattended monthly run: accounts → pipeline (in worker processes) → ledger + orders.

Order of events in a run (see docs/monthly-job.md):

1. load the pipeline, list the accounts, check the age of the prices each account will
   use (refused when stale, unless allowed), open the ledger and insert the run's row (a
   dry run only reads the ledger: it writes no file and no row);
2. take the period lock (not in a dry run); reconcile the order folder with the ledger;
3. hash every account's inputs: an account already done with the same hash is skipped, one
   done with another hash is recorded as ``changed-after-done`` (never re-traded), one whose
   inputs cannot be read is recorded as failed;
4. send the rest, in chunks, to the workers; commit each chunk's results in one
   transaction and publish its order files (see :mod:`optimizer.jobs.orders`);
5. record the counts and release the lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from optimizer.data.freshness import DEFAULT_MAX_PRICE_AGE, LastPrice, Staleness, staleness
from optimizer.errors import CapallocError, ConfigError
from optimizer.jobs.accounts import discover_accounts, with_hash
from optimizer.jobs.ledger import DEFAULT_STALE_AFTER, Ledger, RunStatus
from optimizer.jobs.model import AccountResult, AccountSpec, FallbackPolicy, Period
from optimizer.jobs.orders import OrderFiles, Reconciliation, check_folder, prepare_folder
from optimizer.jobs.pool import WorkerPool, fork_context, stop_signals_ignored
from optimizer.jobs.processor import (
    DEFAULT_PROCESSOR,
    Pipeline,
    init_worker,
    preload,
    process_chunk,
)
from optimizer.jobs.records import Attempt, AttemptStatus, Claim

MAX_CHUNK = 100
CHUNKS_PER_WORKER = 16  # small enough for a progress bar that moves, large for few commits


@dataclass(frozen=True)
class RunOptions:
    """Everything a monthly run needs; the CLI builds it from its options."""

    accounts_dir: Path
    db: str  # SQLAlchemy URL or SQLite file path
    period: Period
    orders_dir: Path
    dry_run: bool = False
    workers: int = 1
    chunk_size: int | None = None  # None: CHUNKS_PER_WORKER, at most MAX_CHUNK
    processor: str = DEFAULT_PROCESSOR
    fallback: FallbackPolicy = FallbackPolicy.NONE
    stale_after: dt.timedelta = DEFAULT_STALE_AFTER
    max_price_age: int = DEFAULT_MAX_PRICE_AGE  # business days before the rebalance date
    allow_stale: bool = False  # older prices are reported, not refused
    dask: str | None = None  # "local", "local:N" or a scheduler address (optimizer.jobs.cluster)


@dataclass(frozen=True)
class AccountLine:
    """One account in the run summary."""

    account: str
    status: str  # an AttemptStatus value, or "skipped" (already done, same inputs)
    n_orders: int = 0
    error_kind: str | None = None  # e.g. "InfeasibleError", "ChangedAfterDone"
    error: str | None = None
    warnings: tuple[str, ...] = ()  # the pipeline's warnings (solver and planner fallbacks)


@dataclass(frozen=True)
class RunSummary:
    run_id: int | None  # None in a dry run (nothing recorded)
    period: Period
    dry_run: bool
    status: RunStatus
    counts: dict[str, int]  # n_accounts, n_traded, n_no_trade, n_fallback, n_failed, ...
    accounts: tuple[AccountLine, ...]
    reconciled: Reconciliation = field(default_factory=Reconciliation)
    taken_over: int | None = None  # id of a stale run whose lock this run took over
    orders_dir: Path | None = None
    notices: tuple[str, ...] = ()  # run-wide warnings, e.g. stale prices allowed

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "period": self.period.label,
            "rebalance_date": self.period.rebalance_date.isoformat(),
            "dry_run": self.dry_run,
            "status": self.status.value,
            "counts": self.counts,
            "accounts": [vars(line) | {"warnings": list(line.warnings)} for line in self.accounts],
            "warnings": [
                *self.notices,
                *(f"{line.account}: {w}" for line in self.accounts for w in line.warnings),
            ],
            "reconciled": vars(self.reconciled),
            "taken_over": self.taken_over,
            "orders_dir": str(self.orders_dir / self.period.label) if self.orders_dir else None,
        }


Progress = Callable[[int], None]  # advance by n accounts


def run_monthly(
    options: RunOptions,
    *,
    on_start: Callable[[int], None] | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """Run the monthly rebalance for every account of ``options.accounts_dir``.

    Parameters
    ----------
    options:
        The run's settings.
    on_start:
        Called with the number of accounts to process once they are known.
    progress:
        Called with the number of accounts just finished, after each chunk.

    Returns
    -------
    RunSummary
        Counts and per-account lines. Failed accounts do not raise: the caller decides
        (the CLI exits with ``PartialFailure``).

    Raises
    ------
    ConfigError
        The pipeline or the accounts folder cannot be loaded, or an account's prices are
        older than ``max_price_age`` business days on the rebalance date (unless
        ``allow_stale``): all before anything is written.
    LedgerError
        The ledger cannot be used, or another live run holds the period lock.
    """
    pipeline = Pipeline(options.processor)
    pipeline.load()  # fail early on a bad pipeline name
    specs = discover_accounts(options.accounts_dir, fallback=options.fallback)
    claimed, recorded = _recorded(options)  # done accounts trade nothing: prices not checked
    options = replace(options, period=_dated(options.period, recorded))
    unclaimed = [s for s in specs if s.account_id not in claimed]
    with contextlib.ExitStack() as stack:
        cluster = pool = None
        if options.dask is not None:  # connected before anything is recorded
            from optimizer.jobs.cluster import DaskPool, DaskTarget

            cluster = DaskPool(DaskTarget.parse(options.dask, options.workers), options.processor)
            stack.callback(cluster.close)
        elif options.workers > 1 and len(unclaimed) > 1:
            if fork_context() is not None:  # the workers fork with the pipeline warm
                preload(options.processor, unclaimed[:1], options.period)
            pool = WorkerPool(options.processor, min(options.workers, len(unclaimed)))
            stack.callback(pool.close)
        notices = check_prices(options, unclaimed, pipeline, pool)
        if not options.dry_run:  # refusals that need no ledger come before it is made
            check_folder(options.orders_dir.resolve(), options.period)
            Ledger.check_writable(options.db)
        ledger = Ledger.open_to_read(options.db) if options.dry_run else Ledger.open(options.db)
        if ledger is not None:
            stack.callback(ledger.close)
        run = _Run(options, ledger, specs, notices, cluster or pool)
        summary = run.execute(on_start or (lambda n: None), progress or (lambda n: None))
        with stop_signals_ignored():  # recorded: a Ctrl-C now would only hide the summary
            stack.close()
        return summary


def _recorded(options: RunOptions) -> tuple[set[str], dt.date | None]:
    """The accounts already done for the period and the rebalance date its first run
    recorded, read without writing anything (an unusable ledger reads as empty here;
    opening it for the run reports why)."""
    try:
        reader = Ledger.open_to_read(options.db)
    except CapallocError:
        return set(), None
    if reader is None:
        return set(), None
    try:
        return set(reader.claims(options.period)), reader.recorded_date(options.period)
    finally:
        reader.close()


def _dated(period: Period, recorded: dt.date | None) -> Period:
    """The period with its rebalance date known before anything is written: the date its
    first run recorded (a done period's date never moves, even if a later calendar release
    adds a holiday), else the given or the calendar's (a month it lacks is refused here; a
    given date other than the recorded one, by :meth:`_Run._check_date`)."""
    if recorded is None or period.known_date is not None:
        period.rebalance_date  # noqa: B018  (looked up now: raises ConfigError)
        return period
    return Period(period.year, period.month, recorded)


def check_prices(
    options: RunOptions,
    specs: Sequence[AccountSpec],
    pipeline: Pipeline,
    pool: WorkerPool | None = None,
) -> tuple[str, ...]:
    """Refuse a run whose prices are stale on the rebalance date (the first stale account
    named, with its source, series and date), or with ``allow_stale`` return one notice
    per stale price. Pipelines without a ``last_price_dates`` hook are not checked; with
    a ``pool`` the hook runs in its workers."""
    hook = pipeline.price_dates()
    if hook is None or not specs:
        return ()
    found: dict[tuple[str, str, dt.date], tuple[Staleness, list[str]]] = {}
    dates = pool.price_dates(specs, options.period) if pool else hook(specs, options.period)
    seen: dict[LastPrice, Staleness | None] = {}  # accounts on one policy share their prices
    for account, last in dates:
        if last not in seen:
            seen[last] = staleness(
                last, options.period.rebalance_date, options.max_price_age, "the rebalance date"
            )
        if (finding := seen[last]) is None:
            continue
        if not options.allow_stale:
            raise ConfigError(
                f"account {account}: last price {finding.age:,} business days before the "
                f"rebalance date {finding.used_on.isoformat()} (limit {finding.limit})",
                file=last.source,
                key=last.series,
                value=last.date.isoformat(),
                hint="update the data, or rerun with --allow-stale to trade on these prices",
            )
        found.setdefault((last.source, last.series, last.date), (finding, []))[1].append(account)
    return tuple(
        f"{finding.message()}; allowed by --allow-stale for {len(accounts)} account(s): "
        + ", ".join(accounts[:5])
        + (", ..." if len(accounts) > 5 else "")
        for finding, accounts in found.values()
    )


class _Run:
    """One run's state; ``execute`` is the whole job, each step a small method."""

    def __init__(
        self,
        options: RunOptions,
        ledger: Ledger | None,
        specs: list[AccountSpec],
        notices: tuple[str, ...] = (),
        pool: Any = None,  # a WorkerPool, or a cluster.DaskPool: the pipeline runs there
    ) -> None:
        self.options = options
        self.pool = pool
        self.ledger = ledger  # None: a dry run without a ledger file (nothing recorded yet)
        self.specs = specs
        self.notices = notices
        self.period = options.period
        self.lines: dict[str, AccountLine] = {}
        self.run_id = 0
        self.files: OrderFiles | None = None

    def execute(self, on_start: Callable[[int], None], progress: Progress) -> RunSummary:
        o = self.options
        if o.dry_run:  # reads the ledger, writes nothing at all
            claims = self.ledger.claims(self.period) if self.ledger is not None else {}
            todo = self._triage(claims)
            on_start(len(todo))
            self._process(todo, progress)
            return self._summary(RunStatus.DRY_RUN, None, Reconciliation(), None)
        assert self.ledger is not None
        self._check_orders_dir()  # refused before the run is recorded
        self._check_date()
        prepare_folder(o.orders_dir.resolve(), self.period)
        self.run_id = self.ledger.start_run(
            self.period,
            dry_run=False,
            processor=o.processor,
            orders_dir=o.orders_dir.resolve(),
            n_accounts=len(self.specs),
        )
        self.files = OrderFiles(o.orders_dir.resolve(), self.period, self.run_id)
        try:
            taken_over = self.ledger.acquire_lock(
                self.period, self.run_id, stale_after=o.stale_after
            )
            claims = self.ledger.claims(self.period)  # held by this run's lock from here
            reconciled = self.files.reconcile(claims, self.ledger)  # files only, not claims
            todo = self._triage(claims)
            on_start(len(todo))
            self._process(todo, progress)
        except BaseException as exc:
            message = exc.render() if isinstance(exc, CapallocError) else repr(exc)
            if type(exc) is KeyboardInterrupt:
                message = "Ctrl-C (SIGINT)"
            self._finish(RunStatus.FAILED, f"stopped: {message}"[:2000])
            raise
        status = RunStatus.PARTIAL if self._counts()["n_failed"] else RunStatus.SUCCEEDED
        self._finish(status, "; ".join(self.notices)[:2000])
        return self._summary(status, self.run_id, reconciled, taken_over)

    def _summary(
        self,
        status: RunStatus,
        run_id: int | None,
        reconciled: Reconciliation,
        taken_over: int | None,
    ) -> RunSummary:
        lines = tuple(self.lines[s.account_id] for s in self.specs)
        return RunSummary(
            run_id, self.period, self.options.dry_run, status, self._counts(), lines,
            reconciled, taken_over, self.options.orders_dir.resolve(), self.notices,
        )  # fmt: skip

    def _check_date(self) -> None:
        """The period's date is the one its first run recorded: a run that dated it
        otherwise (the ledger was not readable when it looked, or another run recorded the
        period meanwhile) is refused before it is recorded."""
        assert self.ledger is not None
        recorded = self.ledger.recorded_date(self.period)
        if recorded is not None and recorded != self.period.rebalance_date:
            raise ConfigError(
                f"period {self.period.label} was recorded with rebalance date "
                f"{recorded.isoformat()}, this run dated it otherwise",
                key="period",
                value=self.period.rebalance_date.isoformat(),
                hint="run again: the recorded date is used",
            )

    def _check_orders_dir(self) -> None:
        """A period's orders stay where they were recorded: another folder is refused,
        never "repaired" (the recorded files are not moved, orphaned or rewritten)."""
        assert self.ledger is not None
        here = str(self.options.orders_dir.resolve())
        elsewhere = {d: r for d, r in self.ledger.claimed_orders_dirs(self.period).items()
                     if d != here}  # fmt: skip
        if elsewhere:
            folder, run_id = min(elsewhere.items(), key=lambda item: item[1])
            raise ConfigError(
                f"period {self.period.label} was recorded with its orders in {folder} "
                f"(run {run_id}); a done period's orders never move",
                key="--orders-dir",
                value=here,
                hint=f"rerun with --orders-dir {folder}",
            )

    def _finish(self, status: RunStatus, message: str) -> None:
        assert self.ledger is not None
        self.ledger.finish_run(self.run_id, self.period, status, self._counts(), message)

    # -- step 3: what is left to do ------------------------------------------------------
    def _triage(self, claims: dict[str, Claim]) -> list[AccountSpec]:
        """Accounts without a claim go to the workers as they are (each worker hashes its
        accounts' inputs as it reads them); a claimed one is hashed here, to be skipped or
        reported as changed."""
        todo, pre = [], []
        for spec in self.specs:
            claim = claims.get(spec.account_id)
            if claim is None:
                todo.append(spec)
                continue
            try:
                spec = with_hash(spec, self.period, done_with=claim.inputs_hash)
            except CapallocError as exc:  # unreadable inputs: a failure, unless already done
                pre.append(Attempt(spec.account_id, None, AttemptStatus.CHANGED_AFTER_DONE, None,
                                   type(exc).__name__, exc.render()))  # fmt: skip
                continue
            if claim.inputs_hash == spec.inputs_hash:
                self.lines[spec.account_id] = AccountLine(spec.account_id, "skipped", 0)
            else:
                message = (
                    f"inputs changed after the period was done by run {claim.run_id} "
                    f"(hash {claim.inputs_hash[:12]} then, {spec.inputs_hash[:12]} now); "
                    "not re-traded"
                )
                pre.append(
                    Attempt(spec.account_id, spec.inputs_hash, AttemptStatus.CHANGED_AFTER_DONE,
                            None, "ChangedAfterDone", message)
                )  # fmt: skip
        self._record(pre, {})
        return todo

    # -- step 4: workers -----------------------------------------------------------------
    def _chunks(self, todo: Sequence[AccountSpec]) -> list[list[AccountSpec]]:
        workers = self.pool.workers if self.pool is not None else self.options.workers
        size = self.options.chunk_size or max(
            1, min(MAX_CHUNK, math.ceil(len(todo) / (CHUNKS_PER_WORKER * max(1, workers))))
        )
        return [list(todo[i : i + size]) for i in range(0, len(todo), size)]

    def _process(self, todo: Sequence[AccountSpec], progress: Progress) -> None:
        """Results from the workers, committed in order on one background thread so the
        file and database I/O overlaps the workers' computing (at most two chunks wait)."""
        from concurrent.futures import ThreadPoolExecutor

        by_id = {s.account_id: s for s in todo}
        pending: deque = deque()
        with ThreadPoolExecutor(1, thread_name_prefix="ledger") as committer:
            try:
                with contextlib.closing(self._dispatch(todo)) as chunks:
                    for results in chunks:
                        pending.append((committer.submit(self._commit, results, by_id), results))
                        while len(pending) > 2 or (pending and pending[0][0].done()):
                            fut, done = pending.popleft()
                            fut.result()
                            progress(len(done))
                while pending:
                    fut, done = pending.popleft()
                    fut.result()
                    progress(len(done))
            finally:
                for fut, _ in pending:
                    fut.cancel()

    def _dispatch(self, todo: Sequence[AccountSpec]) -> Iterator[list[AccountResult]]:
        chunks = self._chunks(todo)
        if not chunks:
            return
        files = None if self.options.dry_run else self.files
        if self.pool is not None:  # on Dask: order files written here (_commit)
            yield from self.pool.map_chunks(chunks, self.period, files)
            return
        if self.options.workers <= 1:
            init_worker(self.options.processor)
            for chunk in chunks:
                yield process_chunk(chunk, self.period, files)
            return
        pool = WorkerPool(self.options.processor, min(self.options.workers, len(chunks)))
        try:
            yield from pool.map_chunks(chunks, self.period, files)
        finally:
            pool.close()

    # -- step 4: ledger and files --------------------------------------------------------
    def _commit(self, results: Sequence[AccountResult], by_id: dict[str, AccountSpec]) -> None:
        attempts, temps = [], {}
        for res in results:
            digest = res.inputs_hash or by_id[res.account_id].inputs_hash or None
            if res.outcome is None:
                attempts.append(Attempt(res.account_id, digest, AttemptStatus.FAILED, res))
                continue
            path = None
            if res.outcome.orders and self.files is not None:
                temps[res.account_id] = res.temp_path or self.files.write_temp(
                    res.account_id, res.outcome.orders, sync=False
                )
                path = self.files.final_path(res.account_id)
            status = AttemptStatus(res.outcome.status.value)
            attempts.append(Attempt(res.account_id, digest, status, res, orders_path=path))
        self._record(attempts, temps)

    def _record(self, attempts: Sequence[Attempt], temps: dict[str, Path]) -> None:
        for a in attempts:
            n_orders = len(a.result.outcome.orders) if a.result and a.result.outcome else 0
            kind = a.error_kind or (a.result.error_kind if a.result else None)
            error = a.error or (a.result.error if a.result else None)
            outcome = a.result.outcome if a.result else None
            if error is None and outcome is not None and outcome.fallback_reason:
                # kept its holdings: why is what the operations team must read
                kind, _, error = outcome.fallback_reason.partition(": ")
            self.lines[a.account] = AccountLine(
                a.account, a.status.value, n_orders, kind, error,
                outcome.warnings if outcome else (),
            )  # fmt: skip
        if self.options.dry_run or not attempts:
            return
        assert self.files is not None and self.ledger is not None
        try:
            self.files.sync(temps)
            self.ledger.record(self.run_id, self.period, attempts)
        except BaseException:
            self.files.discard(temps)
            raise
        self.files.publish(temps)

    def _counts(self) -> dict[str, int]:
        statuses = [line.status for line in self.lines.values()]
        return {
            "n_accounts": len(self.specs),
            "n_traded": statuses.count(AttemptStatus.TRADED.value),
            "n_no_trade": statuses.count(AttemptStatus.NO_TRADE.value),
            "n_fallback": statuses.count(AttemptStatus.FALLBACK.value),
            "n_failed": statuses.count(AttemptStatus.FAILED.value),
            "n_skipped": statuses.count("skipped"),
            "n_changed": statuses.count(AttemptStatus.CHANGED_AFTER_DONE.value),
        }


__all__ = ["AccountLine", "RunOptions", "RunSummary", "run_monthly"]

"""The run ledger: runs, the period lock, per-account claims, attempts and orders.

Any SQLAlchemy URL works (SQLite file by default, PostgreSQL by URL). Two database-level
guards keep a month from being traded twice:

1. the **run lock**: one ``run_locks`` row per period (primary key). A second run of the
   same period fails with ``LedgerError`` unless the holder is stale: on the same host, its
   process is gone (pid dead, zombie, or reused by another process); on another host, its
   heartbeat is older than ``stale_after``. Every chunk commit refreshes the heartbeat and
   checks the lock is still held, in the same transaction;
2. the **claims**: one ``claims`` row per (account, period) (primary key), inserted in
   the same transaction as the account's attempt row and its orders. A second final
   outcome for the same account and month violates the key and the transaction rolls back.

Every SQLAlchemy failure surfaces as one ``LedgerError`` line naming the database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import operator
import os
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from optimizer.errors import LedgerError
from optimizer.jobs import schema as s
from optimizer.jobs.model import AccountOutcome, AccountResult, Order, Period, Side

DEFAULT_STALE_AFTER = dt.timedelta(minutes=15)


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # every account done or skipped
    PARTIAL = "partial"  # some accounts failed (each recorded)
    FAILED = "failed"  # the run stopped on an error (message says which)
    CRASHED = "crashed"  # the process died; found stale by a later run
    DRY_RUN = "dry-run"  # computed and reported only


class AttemptStatus(StrEnum):
    TRADED = "traded"
    NO_TRADE = "no-trade"
    FALLBACK = "fallback"
    FAILED = "failed"
    CHANGED_AFTER_DONE = "changed-after-done"


FINAL = frozenset({AttemptStatus.TRADED, AttemptStatus.NO_TRADE, AttemptStatus.FALLBACK})


@dataclass(frozen=True)
class Attempt:
    """One account's attempt in a run, as it is recorded."""

    account: str
    inputs_hash: str | None
    status: AttemptStatus
    result: AccountResult | None = None  # None for attempts decided before the pipeline
    error_kind: str | None = None
    error: str | None = None
    orders_path: Path | None = None  # final order file, when the outcome has orders


@dataclass(frozen=True)
class Claim:
    """The final outcome already recorded for an account and period."""

    account: str
    run_id: int
    inputs_hash: str
    status: str
    n_orders: int
    orders_path: str | None


@dataclass(frozen=True)
class LockHolder:
    run_id: int
    host: str
    pid: int
    proc_start: str
    heartbeat: dt.datetime


def utcnow() -> dt.datetime:
    """Naive UTC timestamp (portable across SQLite and PostgreSQL columns)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def normalize_url(db: str) -> str:
    """A SQLAlchemy URL as given, or ``sqlite:///<absolute path>`` for a plain path."""
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


class Ledger:
    """Connection to the run ledger. ``Ledger.open(url)`` creates the schema if needed."""

    def __init__(self, url: str, engine: Any) -> None:
        self.url = url
        self.engine = engine

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, db: str) -> Ledger:
        """Connect to ``db`` (URL or SQLite path) and make sure the schema exists.

        Raises
        ------
        LedgerError
            The URL is invalid, the database cannot be opened, or its schema is another
            version.
        """
        url = normalize_url(db)
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            folder = Path(url.removeprefix("sqlite:///")).parent
            if not folder.is_dir():
                raise LedgerError("the database folder does not exist", key="--db", value=db)
        ledger = cls(url, _make_engine(url, db))
        ledger._ensure_schema()
        return ledger

    def _ensure_schema(self) -> None:
        from sqlalchemy import exc, insert, select

        for attempt in range(5):  # two runs creating the schema at once: retry
            try:
                with self._guard():
                    s.metadata.create_all(self.engine)
                break
            except LedgerError:
                if attempt == 4:
                    raise
        with self._guard(), self.engine.begin() as conn:
            row = conn.execute(select(s.meta.c.value).where(s.meta.c.key == "schema")).first()
            if row is None:
                with contextlib.suppress(exc.IntegrityError), conn.begin_nested():
                    conn.execute(insert(s.meta).values(key="schema", value="1"))
            elif row[0] != str(s.SCHEMA_VERSION):
                raise LedgerError(
                    f"ledger schema version {row[0]} is not {s.SCHEMA_VERSION}",
                    key="--db",
                    value=_masked(self.url),
                )

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            yield
        except SQLAlchemyError as exc:
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:160]
            raise LedgerError(
                "the ledger database failed", key="--db", value=_masked(self.url), hint=reason
            ) from exc

    def close(self) -> None:
        self.engine.dispose()

    # -- runs ----------------------------------------------------------------------------
    def start_run(
        self, period: Period, *, dry_run: bool, processor: str, orders_dir: Path, n_accounts: int
    ) -> int:
        """Insert the run's row (status running or dry-run); returns its id."""
        from sqlalchemy import insert

        status = RunStatus.DRY_RUN if dry_run else RunStatus.RUNNING
        values = {
            "period": period.label,
            "rebalance_date": period.rebalance_date.isoformat(),
            "started": utcnow(),
            "status": status.value,
            "dry_run": dry_run,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "processor": processor,
            "orders_dir": str(orders_dir),
            "n_accounts": n_accounts,
        }
        with self._guard(), self.engine.begin() as conn:
            return int(conn.execute(insert(s.runs).values(**values)).inserted_primary_key[0])

    def finish_run(
        self, run_id: int, period: Period, status: RunStatus, counts: dict[str, int], message: str
    ) -> None:
        """Record the run's end and counts, and release its lock, in one transaction."""
        from sqlalchemy import delete, update

        with self._guard(), self.engine.begin() as conn:
            conn.execute(
                update(s.runs)
                .where(s.runs.c.id == run_id)
                .values(status=status.value, finished=utcnow(), message=message, **counts)
            )
            conn.execute(
                delete(s.run_locks).where(
                    s.run_locks.c.period == period.label, s.run_locks.c.run_id == run_id
                )
            )

    # -- the period lock -----------------------------------------------------------------
    def acquire_lock(
        self, period: Period, run_id: int, *, stale_after: dt.timedelta = DEFAULT_STALE_AFTER
    ) -> int | None:
        """Take the period's run lock; returns the id of a stale run taken over, if any.

        Raises
        ------
        LedgerError
            Another live run holds the lock.
        """
        from sqlalchemy import exc, insert

        taken_over = None
        for _ in range(5):
            now = utcnow()
            row = {
                "period": period.label,
                "run_id": run_id,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "proc_start": process_start_token(os.getpid()),
                "acquired": now,
                "heartbeat": now,
            }
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(s.run_locks).values(**row))
                return taken_over
            except exc.IntegrityError:
                holder = self.lock_holder(period)
                if holder is None:
                    continue  # released in between: try again
                if not is_stale(holder, stale_after):
                    raise LedgerError(
                        f"period is being run by run {holder.run_id} (host {holder.host}, "
                        f"pid {holder.pid}, heartbeat {holder.heartbeat:%Y-%m-%d %H:%M:%S} UTC)",
                        key="--period",
                        value=period.label,
                        hint="wait for it to finish; a dead run's lock is taken over",
                    ) from None
                if self._take_over(period, holder):
                    taken_over = holder.run_id
            except exc.SQLAlchemyError:
                with self._guard():
                    raise
        raise LedgerError("could not acquire the run lock", key="--period", value=period.label)

    def lock_holder(self, period: Period) -> LockHolder | None:
        from sqlalchemy import select

        t = s.run_locks.c
        query = select(t.run_id, t.host, t.pid, t.proc_start, t.heartbeat).where(
            t.period == period.label
        )
        with self._guard(), self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else LockHolder(*row)

    def _take_over(self, period: Period, holder: LockHolder) -> bool:
        """Delete a stale lock (compare-and-swap on its heartbeat); mark its run crashed."""
        from sqlalchemy import delete, update

        t = s.run_locks.c
        with self._guard(), self.engine.begin() as conn:
            gone = conn.execute(
                delete(s.run_locks).where(
                    t.period == period.label,
                    t.run_id == holder.run_id,
                    t.heartbeat == holder.heartbeat,
                )
            ).rowcount
            if gone == 1:
                conn.execute(
                    update(s.runs)
                    .where(s.runs.c.id == holder.run_id, s.runs.c.status == RunStatus.RUNNING)
                    .values(
                        status=RunStatus.CRASHED.value,
                        finished=utcnow(),
                        message="found stale; its lock was taken over",
                    )
                )
        return gone == 1

    # -- claims, attempts, orders --------------------------------------------------------
    def claims(self, period: Period) -> dict[str, Claim]:
        """Final outcomes already recorded for ``period``, by account."""
        from sqlalchemy import select

        c = s.claims.c
        query = select(
            c.account, c.run_id, c.inputs_hash, c.status, c.n_orders, c.orders_path
        ).where(c.period == period.label)
        with self._guard(), self.engine.connect() as conn:
            return {row[0]: Claim(*row) for row in conn.execute(query)}

    def record(self, run_id: int, period: Period, attempts: Sequence[Attempt]) -> None:
        """Record a chunk of attempts in one transaction, checking the lock is still held.

        Final attempts insert their claim and orders; a claim that already exists rolls
        the whole chunk back with ``LedgerError`` (another run recorded that account).
        """
        from sqlalchemy import exc, update

        now = utcnow()
        attempt_rows, claim_rows, order_rows = _rows(run_id, period, attempts, now)
        lk = s.run_locks.c
        try:
            with self.engine.begin() as conn:
                held = conn.execute(
                    update(s.run_locks)
                    .where(lk.period == period.label, lk.run_id == run_id)
                    .values(heartbeat=now)
                ).rowcount
                if held != 1:
                    raise LedgerError(
                        "this run no longer holds the period lock; stopping",
                        key="--period",
                        value=period.label,
                    )
                for table, rows in (
                    (s.claims, claim_rows),
                    (s.account_runs, attempt_rows),
                    (s.orders, order_rows),
                ):
                    _bulk_insert(conn, table, rows)
        except exc.IntegrityError as error:
            raise LedgerError(
                "an account of this chunk was already recorded for the period by another run",
                key="--period",
                value=period.label,
                hint=" ".join(str(error.orig).split())[:120],
            ) from error
        except exc.SQLAlchemyError:
            with self._guard():
                raise

    def orders_of(self, period: Period, account: str) -> list[Order]:
        """The recorded orders of ``account`` for ``period``, in file order."""
        from sqlalchemy import select

        o = s.orders.c
        query = (
            select(o.ticker, o.side, o.shares, o.est_price, o.notional, o.est_cost, o.reason)
            .where(o.period == period.label, o.account == account)
            .order_by(o.seq)
        )
        with self._guard(), self.engine.connect() as conn:
            return [
                Order(r[0], Side(r[1]), r[2], r[3], r[4], r[5], r[6] or "")
                for r in conn.execute(query)
            ]

    def record_dry_run(self, run_id: int, counts: dict[str, int], message: str) -> None:
        from sqlalchemy import update

        with self._guard(), self.engine.begin() as conn:
            conn.execute(
                update(s.runs)
                .where(s.runs.c.id == run_id)
                .values(finished=utcnow(), message=message, **counts)
            )


def _bulk_insert(conn: Any, table: Any, rows: list[dict]) -> None:
    """One ``executemany`` of ``rows`` (dicts with the same keys) with the driver's own
    parameter style: the statement is compiled once and each column's bind processor
    (e.g. SQLite's DateTime to text) applied directly, which is several times faster than
    per-row parameter construction for the 100,000 order rows of a large run."""
    if not rows:
        return
    from sqlalchemy import insert

    keys = list(rows[0])
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=keys)
    for key in keys:
        process = table.c[key].type.bind_processor(conn.dialect)
        if process is not None:
            rows = [{**r, key: process(r[key])} for r in rows]
    params: list[Any] = rows
    if conn.dialect.positional:
        get = operator.itemgetter(*compiled.positiontup)
        params = [get(r) for r in rows] if len(keys) > 1 else [(get(r),) for r in rows]
    conn.exec_driver_sql(str(compiled), params)


def _rows(
    run_id: int, period: Period, attempts: Sequence[Attempt], now: dt.datetime
) -> tuple[list[dict], list[dict], list[dict]]:
    attempt_rows, claim_rows, order_rows = [], [], []
    label = period.label
    for a in attempts:
        res = a.result
        outcome = res.outcome if res is not None else None
        attempt_rows.append(
            {
                "run_id": run_id,
                "account": a.account,
                "period": label,
                "inputs_hash": a.inputs_hash,
                "status": a.status.value,
                "error_kind": a.error_kind or (res.error_kind if res else None),
                "error": a.error or (res.error if res else None),
                **_outcome_columns(res, outcome),
                "seconds": res.seconds if res else None,
                "recorded": now,
            }
        )
        if a.status not in FINAL or outcome is None:
            continue
        claim_rows.append(
            {
                "account": a.account,
                "period": label,
                "run_id": run_id,
                "inputs_hash": a.inputs_hash,
                "status": a.status.value,
                "n_orders": len(outcome.orders),
                "orders_path": str(a.orders_path) if a.orders_path else None,
                "recorded": now,
            }
        )
        assert res is not None
        rows = res.order_rows or tuple(order_columns(o) for o in outcome.orders)
        order_rows.extend(
            {"run_id": run_id, "account": a.account, "period": label, "seq": i, **row}
            for i, row in enumerate(rows)
        )
    return attempt_rows, claim_rows, order_rows


def _outcome_columns(res: AccountResult | None, outcome: AccountOutcome | None) -> dict:
    if res is not None and res.columns is not None:
        return dict(res.columns)
    return outcome_columns(outcome)


def outcome_columns(outcome: AccountOutcome | None) -> dict[str, str | None]:
    """The ``account_runs`` columns that describe an outcome (JSON text)."""
    if outcome is None:
        return dict.fromkeys(("fallback", "provenance_json", "allocation_json", "warnings_json"))
    return {
        "fallback": outcome.fallback_reason,
        "provenance_json": _json(outcome.provenance),
        "allocation_json": _json(outcome.allocation),
        "warnings_json": _json(list(outcome.warnings)),
    }


def order_columns(o: Order) -> dict[str, Any]:
    """The ``orders`` columns of one order (without run, account, period and seq)."""
    return {
        "ticker": o.ticker,
        "side": o.side.value,
        "shares": o.shares,
        "est_price": o.est_price,
        "notional": o.notional,
        "est_cost": o.est_cost,
        "reason": o.reason,
        "extra_json": _json(o.extra) if o.extra else None,
    }


def _json(value: Any) -> str:
    """Strict JSON; plain dicts take the fast path, anything else goes through
    ``to_jsonable`` (numpy, dates, dataclasses; NaN becomes null)."""
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        from optimizer.cli.output import to_jsonable

        return json.dumps(to_jsonable(value), sort_keys=True, allow_nan=False)


def _make_engine(url: str, raw: str) -> Any:
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 60})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
        raise LedgerError(
            "invalid database URL", key="--db", value=raw, hint=" ".join(str(exc).split())[:120]
        ) from None
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; FULL sync keeps each chunk commit durable
    (one fsync per chunk, not per account); a long busy timeout queues concurrent writers."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


# -- process liveness (same host) ------------------------------------------------------
def process_start_token(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or ``""``."""
    stat = _proc_stat(pid)
    return stat[19] if stat and len(stat) > 19 else ""


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()  # fields from 3 (state) on


def pid_alive(pid: int, proc_start: str = "") -> bool:
    """Whether ``pid`` is a live (not zombie) process started at ``proc_start``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    stat = _proc_stat(pid)
    if stat is None:
        return Path("/proc").is_dir() is False  # no procfs: trust os.kill
    if stat[0] in ("Z", "X"):
        return False
    return not proc_start or process_start_token(pid) == proc_start


def is_stale(holder: LockHolder, stale_after: dt.timedelta) -> bool:
    """A lock is stale when its process is gone (same host) or its heartbeat expired."""
    if holder.host == socket.gethostname():
        return not pid_alive(holder.pid, holder.proc_start)
    return utcnow() - holder.heartbeat > stale_after

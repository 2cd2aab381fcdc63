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
import os
import re
import socket
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

from optimizer import __version__
from optimizer.errors import LedgerError
from optimizer.jobs import schema as s
from optimizer.jobs.liveness import LockHolder, is_stale, process_start_token, utcnow
from optimizer.jobs.model import Order, Period, Side
from optimizer.jobs.records import Attempt, Claim, bulk_insert, rows_of

DEFAULT_STALE_AFTER = dt.timedelta(minutes=15)


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # every account done or skipped
    PARTIAL = "partial"  # some accounts failed (each recorded)
    FAILED = "failed"  # the run stopped on an error (message says which)
    CRASHED = "crashed"  # the process died; found stale by a later run
    DRY_RUN = "dry-run"  # computed and reported only


def normalize_url(db: str) -> str:
    """A SQLAlchemy URL as given, or ``sqlite:///<absolute path>`` for a plain path."""
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


_SECRET = re.compile(r"pass|pwd|secret|token|key", re.IGNORECASE)  # query keys to hide


def _masked(url: str) -> str:
    """The URL without its password, in ``user:password@`` or as a query parameter
    (``?password=...``, ``sslpassword``, a token)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
        query = {k: ("***" if _SECRET.search(k) else v) for k, v in parsed.query.items()}
        shown = parsed.set(query=query).render_as_string(hide_password=True)
        return shown.replace("%2A%2A%2A", "***")
    except Exception:  # unparsable: still never echo a password
        masked = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
        return re.sub(r"([?&][^=&]*(?:pass|pwd|secret|token|key)[^=&]*=)[^&]*", r"\1***",
                      masked, flags=re.IGNORECASE)  # fmt: skip


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
        _check_file(url, db)
        ledger = cls(url, _make_engine(url, db))
        ledger._ensure_schema()
        return ledger

    @staticmethod
    def check_writable(db: str) -> None:
        """Refuse, before anything is written anywhere, a SQLite ledger this process cannot
        write: a read-only file, or a folder where its journal cannot be made."""
        path = _sqlite_path(normalize_url(db))
        if path is None:
            return
        for target, what in ((path, "file"), (path.parent, "folder")):
            if target.exists() and not os.access(target, os.W_OK):
                raise LedgerError(
                    f"the ledger's {what} is read-only", key="--db", value=db,
                    hint="give a ledger this user can write",
                )  # fmt: skip

    @classmethod
    def open_to_read(cls, db: str) -> Ledger | None:
        """Connect to ``db`` to read it only (a dry run): nothing is created or written, a
        SQLite file is left byte for byte as it was (its ``-wal``/``-shm`` files go when
        the connection closes). None when there is no ledger yet (no file, no tables).

        Raises
        ------
        LedgerError
            As :meth:`open`, for an unusable URL or database.
        """
        from sqlalchemy import event, inspect

        url = normalize_url(db)
        path = _check_file(url, db)
        if path is not None and (not path.is_file() or path.stat().st_size == 0):
            return None
        ledger = cls(url, _make_engine(url, db, pragmas=False))
        if url.startswith("sqlite"):
            event.listen(ledger.engine, "connect", _sqlite_read_only)
        with ledger._guard():
            exists = inspect(ledger.engine).has_table(s.meta.name)
        if not exists:
            ledger.close()
            return None
        ledger._check_version()
        return ledger

    def _ensure_schema(self) -> None:
        """Bring the schema to the newest revision (Alembic, optimizer/jobs/migrations): a new
        database is created, an older ledger upgraded, a newer one refused."""
        from sqlalchemy import exc, insert, select

        with self._guard():
            if _revision(self.engine) != s.HEAD_REVISION:
                with self._migration_lock():
                    _migrate(self.engine, self.url)
        with self._guard(), self.engine.begin() as conn:
            row = conn.execute(select(s.meta.c.value).where(s.meta.c.key == "schema")).first()
            if row is None:
                with contextlib.suppress(exc.IntegrityError), conn.begin_nested():
                    conn.execute(insert(s.meta).values(key="schema", value=str(s.SCHEMA_VERSION)))
            elif row[0] != str(s.SCHEMA_VERSION):
                raise LedgerError(
                    f"ledger schema version {row[0]} is not {s.SCHEMA_VERSION}",
                    key="--db",
                    value=_masked(self.url),
                    hint="a newer capalloc made this ledger: upgrade capalloc",
                )

    def _check_version(self) -> None:
        """For reading only (a dry run): a ledger from a newer capalloc is refused; an older
        one is readable as it is (the tables a dry run reads exist since revision 0001)."""
        from sqlalchemy import select

        with self._guard(), self.engine.connect() as conn:
            row = conn.execute(select(s.meta.c.value).where(s.meta.c.key == "schema")).first()
        if row is not None and row[0].isdigit() and int(row[0]) > s.SCHEMA_VERSION:
            raise LedgerError(
                f"ledger schema version {row[0]} is not {s.SCHEMA_VERSION}",
                key="--db",
                value=_masked(self.url),
                hint="a newer capalloc made this ledger: upgrade capalloc",
            )

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """One migrating process at a time: an exclusive ``flock`` on the SQLite file (it
        does not touch SQLite's own locks); PostgreSQL's lock is taken in the migration's
        transaction (``_migrate``)."""
        path = _sqlite_path(self.url)
        if path is None:
            yield
            return
        import fcntl

        with open(path, "ab") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

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
            "version": __version__,
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
            return {row[0]: Claim(*row) for row in conn.execute(query).all()}

    def recorded_date(self, period: Period) -> dt.date | None:
        """The rebalance date the period's first run recorded (None: no run yet)."""
        from sqlalchemy import select

        r = s.runs.c
        query = select(r.rebalance_date).where(r.period == period.label).order_by(r.id).limit(1)
        with self._guard(), self.engine.connect() as conn:
            text = conn.execute(query).scalar()
        if text is None:
            return None
        try:
            return dt.date.fromisoformat(text)
        except (TypeError, ValueError):
            raise LedgerError(
                f"run of period {period.label} recorded a rebalance date that is not a date",
                key="runs.rebalance_date",
                value=str(text)[:40],
            ) from None

    def claimed_orders_dirs(self, period: Period) -> dict[str, int]:
        """Orders folder of every run that recorded a claim for ``period`` -> its first run
        id (one folder in a consistent ledger: a done period's orders never move)."""
        from sqlalchemy import func, select

        r, c = s.runs.c, s.claims.c
        query = (
            select(r.orders_dir, func.min(r.id))
            .select_from(s.claims.join(s.runs, c.run_id == r.id))
            .where(c.period == period.label)
            .group_by(r.orders_dir)
        )
        with self._guard(), self.engine.connect() as conn:
            return {row[0]: int(row[1]) for row in conn.execute(query)}

    def record(self, run_id: int, period: Period, attempts: Sequence[Attempt]) -> None:
        """Record a chunk of attempts in one transaction, checking the lock is still held.

        Final attempts insert their claim and orders; a claim that already exists rolls
        the whole chunk back with ``LedgerError`` (another run recorded that account).
        """
        from sqlalchemy import exc, update

        now = utcnow()
        attempt_rows, claim_rows, order_rows = rows_of(run_id, period, attempts, now)
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
                    bulk_insert(conn, table, rows)
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
            select(
                o.ticker,
                o.side,
                o.shares,
                o.est_price,
                o.notional,
                o.est_cost,
                o.reason,
                o.extra_json,
            )
            .where(o.period == period.label, o.account == account)
            .order_by(o.seq)
        )
        with self._guard(), self.engine.connect() as conn:
            return [
                Order(
                    r[0],
                    Side(r[1]),
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    r[6] or "",
                    json.loads(r[7]) if r[7] else {},
                )
                for r in conn.execute(query)
            ]


def _sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (normalised, ``sqlite:///PATH``); None for a server URL."""
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def _check_file(url: str, raw: str) -> Path | None:
    """Refuse an in-memory database, a missing folder or someone else's SQLite file; the
    SQLite file's path (None for a server URL)."""
    _refuse_in_memory(url, raw)
    path = _sqlite_path(url)
    if path is None:
        return None
    if not path.parent.is_dir():
        raise LedgerError(
            "the database folder does not exist", key="--db", value=raw, hint="create it first"
        )
    _refuse_foreign(path, raw)
    return path


def _refuse_in_memory(url: str, raw: str) -> None:
    """An in-memory SQLite database vanishes with the process (and each worker would get
    its own): it cannot be a ledger."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return  # reported by _make_engine
    if parsed.get_backend_name() != "sqlite":
        return
    database = parsed.database or ""
    if (
        database in ("", ":memory:")
        or database.startswith("file::memory:")
        or (parsed.query.get("mode") == "memory")
    ):
        raise LedgerError(
            "an in-memory SQLite database cannot hold the ledger (it vanishes with the run)",
            key="--db",
            value=raw,
            hint="give a file path, e.g. --db ledger.db",
        )


_PG_MIGRATION_LOCK = 7_305_115_001  # pg_advisory_xact_lock key shared by capalloc processes


def _revision(engine: Any) -> str | None:
    """The ledger's Alembic revision, or None when it has none (new, or made before
    migrations existed)."""
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("select version_num from alembic_version")).scalar()


def _migrate(engine: Any, url: str) -> None:
    """Upgrade to the newest revision in one transaction; a ledger made before migrations
    (its tables and ``ledger_meta`` schema 1, no ``alembic_version``) is first stamped with
    revision 0001, the schema it has."""
    from alembic import command
    from alembic.config import Config
    from alembic.util.exc import CommandError
    from sqlalchemy import inspect, text

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # held until this transaction ends
            conn.execute(text(f"select pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
        elif conn.dialect.name == "sqlite":  # the driver begins no transaction before DDL
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        cfg.attributes["connection"] = conn
        tables = set(inspect(conn).get_table_names())
        if "alembic_version" not in tables and "runs" in tables:
            made = (
                "ledger_meta" in tables
                and conn.execute(
                    text("select value from ledger_meta where key = 'schema'")
                ).scalar()
            )
            if made != "1":
                raise LedgerError(
                    "the ledger's first setup did not finish (tables without a schema version)",
                    key="--db",
                    value=_masked(url),
                    hint="it holds no run yet: remove it and run again",
                )
            command.stamp(cfg, "0001")
        try:
            command.upgrade(cfg, "head")
        except CommandError as error:  # e.g. a revision this capalloc does not know
            raise LedgerError(
                f"cannot upgrade the ledger schema: {error}",
                key="--db",
                value=_masked(url),
                hint="a newer capalloc made this ledger: upgrade capalloc",
            ) from None


def _refuse_foreign(path: Path, raw: str) -> None:
    """A SQLite file holding tables that are not the ledger's, or tables without the
    ledger's ``ledger_meta`` (another program's ``orders``), is someone else's database:
    refused after a read-only look, before anything (a table, the journal mode) changes."""
    import sqlite3

    if path.exists() and not path.is_file():
        raise LedgerError(
            "not a regular file (a folder, FIFO or device)", key="--db", value=raw,
            hint="give the path of a SQLite file (created if missing)",
        )  # fmt: skip
    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as conn:
            names = {row[0] for row in conn.execute("select name from sqlite_master "
                                                    "where type = 'table'")}  # fmt: skip
    except sqlite3.Error as error:
        raise LedgerError(
            "the ledger database failed", key="--db", value=raw, hint=" ".join(str(error).split())
        ) from None
    ours = {*s.metadata.tables, "alembic_version"}
    tables = sorted(n for n in names if not n.startswith("sqlite_"))
    foreign = [n for n in tables if n not in ours]
    if tables and s.meta.name not in names:  # tables named like ours, without our marker
        foreign = tables
    if foreign:
        raise LedgerError(
            "not a capalloc ledger: the database holds other tables "
            f"({', '.join(foreign[:5])}{', ...' if len(foreign) > 5 else ''})",
            key="--db",
            value=raw,
            hint="give a new file for the ledger",
        )


def _make_engine(url: str, raw: str, *, pragmas: bool = True) -> Any:
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 60})
            if pragmas:
                event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
        hint = " ".join(str(exc).split())[:120]
        if isinstance(exc, ImportError):
            hint += (
                "; pip install 'capalloc[postgres]'"
                if url.startswith("postgresql")
                else "; install the database driver"
            )
        raise LedgerError(
            "cannot use this database URL", key="--db", value=_masked(raw), hint=hint
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


def _sqlite_read_only(dbapi_conn: Any, _record: Any) -> None:
    """A reader that cannot write, even by mistake (the journal mode is left as it is)."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=ON")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()

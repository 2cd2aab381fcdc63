"""Ledger schema migrations (Alembic, optimizer/jobs/migrations) on SQLite and PostgreSQL.

``tests/fixtures/ledger-v0.1.db`` is a real ledger written by capalloc 0.1 (before
migrations existed): ``capalloc run-monthly --accounts examples/monthly --period 2017-03``,
one run, three traded accounts, eleven orders.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from optimizer.errors import LedgerError
from optimizer.jobs import schema as s
from optimizer.jobs.ledger import Ledger
from optimizer.jobs.records import TAX_COLUMNS
from tests.jobs_support.accounts import query
from tests.jobs_support.backends import BACKENDS, ledger_url, use_backend

V01 = Path(__file__).parent / "fixtures" / "ledger-v0.1.db"


@pytest.fixture(params=BACKENDS)
def folder(request, tmp_path):
    for _ in use_backend(request.param, tmp_path):
        yield tmp_path


def test_a_new_ledger_is_migrated_to_exactly_the_declared_schema(folder):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    ledger = Ledger.open(ledger_url(folder))
    with ledger.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), s.metadata)
    assert diff == []
    db = folder / "ledger.db"
    assert query(db, "select version_num from alembic_version") == [(s.HEAD_REVISION,)]
    assert query(db, "select value from ledger_meta where key = 'schema'") == [
        (str(s.SCHEMA_VERSION),)
    ]
    Ledger.open(ledger_url(folder))  # opening again changes nothing
    assert query(db, "select count(*) from alembic_version") == [(1,)]


def test_a_ledger_written_by_capalloc_0_1_is_upgraded_with_its_history(tmp_path):
    db = tmp_path / "ledger.db"
    shutil.copy(V01, db)
    before = {t: query(db, f"select * from {t} order by 1") for t in ("runs", "orders", "claims")}
    ledger = Ledger.open(str(db))
    assert query(db, "select version_num from alembic_version") == [(s.HEAD_REVISION,)]
    assert query(db, "select value from ledger_meta") == [(str(s.SCHEMA_VERSION),)]
    runs = query(db, "select * from runs order by 1")
    assert [r[:-1] for r in runs] == before["runs"] and runs[0][-1] is None  # version unknown
    for table in ("orders", "claims"):
        assert query(db, f"select * from {table} order by 1") == before[table]
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with ledger.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), s.metadata) == []
    # revision 0003: the old attempts have no tax figures
    tax = ", ".join(TAX_COLUMNS)
    rows = query(db, f"select {tax} from account_runs")
    assert len(rows) == 3 and all(r == (None,) * len(TAX_COLUMNS) for r in rows)


def test_a_version_2_ledger_is_upgraded_to_head_with_its_rows(folder):
    """A ledger at revision 0002 (as the release before tax figures left it), with a run
    and an attempt in it, is upgraded in place: rows kept, tax figures NULL, schema 3."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from optimizer.jobs import ledger as ledger_module

    url = ledger_module.normalize_url(ledger_url(folder))
    engine = create_engine(url)
    cfg = Config()
    migrations = Path(ledger_module.__file__).with_name("migrations")
    cfg.set_main_option("script_location", str(migrations))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.execute(text("insert into ledger_meta (key, value) values ('schema', '2')"))
        conn.execute(text(
            "insert into runs (id, period, rebalance_date, started, status, dry_run, host, pid, "
            "processor, orders_dir, n_accounts, n_traded, n_no_trade, n_fallback, n_failed, "
            "n_skipped, n_changed, version) values (1, '2017-03', '2017-03-01', "
            "'2017-03-01 10:00:00', 'succeeded', false, 'h', 1, 'p', '/o', 1, 1, 0, 0, 0, 0, 0, "
            "'0.2')"
        ))  # fmt: skip
        conn.execute(text(
            "insert into account_runs (run_id, account, period, status, allocation_json, "
            "recorded) values (1, 'a1', '2017-03', 'traded', '{\"X\": 1.0}', "
            "'2017-03-01 10:00:01')"
        ))  # fmt: skip
    engine.dispose()
    db = folder / "ledger.db"
    assert query(db, "select version_num from alembic_version") == [("0002",)]
    ledger = Ledger.open(ledger_url(folder))
    assert query(db, "select version_num from alembic_version") == [(s.HEAD_REVISION,)]
    assert s.HEAD_REVISION == "0003" and s.SCHEMA_VERSION == 3
    assert query(db, "select value from ledger_meta where key = 'schema'") == [("3",)]
    tax = ", ".join(TAX_COLUMNS)
    assert query(db, f"select account, allocation_json, {tax} from account_runs") == [
        ("a1", '{"X": 1.0}', *(None,) * len(TAX_COLUMNS))
    ]
    assert query(db, "select version from runs") == [("0.2",)]
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with ledger.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), s.metadata) == []
    ledger.close()


def test_the_upgraded_ledger_keeps_its_history_in_force(tmp_path):
    """The 0.1 run's claims still bind: a rerun of its period elsewhere is refused, nothing
    is recorded or traded."""
    from tests.conftest import ROOT, run_cli

    db = tmp_path / "ledger.db"
    shutil.copy(V01, db)
    accounts = tmp_path / "accounts"
    shutil.copytree(ROOT / "examples" / "monthly", accounts)
    args = ["run-monthly", "--accounts", str(accounts), "--db", str(db), "--orders-dir",
            str(tmp_path / "orders"), "--period", "2017-03", "--format", "json"]  # fmt: skip
    res = run_cli(*args, timeout=180)
    assert res.returncode == 3, res.stderr
    assert "recorded with its orders in /tmp/v1orders (run 1)" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and res.stdout == ""
    assert query(db, "select count(*) from runs") == [(1,)]
    assert query(db, "select count(*) from orders") == [(11,)]
    assert not (tmp_path / "orders").exists()


def test_a_ledger_from_a_newer_capalloc_is_refused(folder):
    Ledger.open(ledger_url(folder))
    db = folder / "ledger.db"
    if (folder / ".ledger-url").is_file():
        import psycopg

        from tests.jobs_support.backends import postgres_of

        with psycopg.connect(postgres_of(folder)) as conn:
            conn.execute("update alembic_version set version_num = '9999'")
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("update alembic_version set version_num = '9999'")
    with pytest.raises(LedgerError) as info:
        Ledger.open(ledger_url(folder))
    assert "newer capalloc" in str(info.value) and "\n" not in str(info.value)

"""Bad arguments, ledgers and account folders of ``capalloc run-monthly``."""

from __future__ import annotations

from tests.corpus import FIFO, FOLDER, Case, Special, sparse

JOB_ACCOUNT = {
    "accounts/a1/account.toml": "[targets]\nSPY = 1.0\n",
    "accounts/a1/holdings.csv": "ticker,shares,price\nSPY,10,500\nCASH,100,\n",
}
INDEX_HEAD = "account,config,holdings\n"


def monthly(id: str, exit: int, expect: tuple[str, ...], *extra: str, files=None) -> Case:
    options = {
        "--db": "{tmp}/ledger.db",
        "--orders-dir": "{tmp}/orders",
        "--period": "2026-01",
        "--processor": "tests.jobs_support.pipeline:process_account",
    }
    args = ["run-monthly", "--accounts", "{tmp}/accounts"]
    for key, value in options.items():
        if key not in extra:
            args += [key, value]
    return Case(
        f"monthly-{id}", (*args, *extra), exit, expect, JOB_ACCOUNT if files is None else files
    )


def index(text: str | Special, **more: str) -> dict:
    return {**JOB_ACCOUNT, "accounts/accounts.csv": text, **more}


def cases() -> list[Case]:
    cases = [
        monthly(f"period-{p or 'empty'}", 2, ("--period",), "--period", p)
        for p in (
            "2017/04",
            "2017-13",
            "17-04",
            "2017-4",
            "",
            "2017-00",
            "abcd-ef",
            "2017-04-01",
            "٢٠١٧-٠٤",
        )
    ]
    cases += [
        monthly(f"period-{p}", 3, ("--period", p, text), "--period", p)
        for p, text in (
            ("1700-01", "before 1990-01"),
            ("0000-01", "before 1990-01"),
            ("1989-12", "before 1990-01"),
            ("9999-12", "after the current"),
            ("2999-01", "after the current"),
        )
    ]
    cases.append(
        monthly(
            "period-far-future",
            3,
            ("more than 12 months",),
            "--period",
            "9999-12",
            "--allow-future",
        )
    )
    db = b"not a ledger" * 100
    cases += [
        monthly("db-memory", 9, ("in-memory",), "--db", "sqlite://"),
        monthly("db-memory-path", 9, ("in-memory",), "--db", "sqlite:///:memory:"),
        monthly("db-memory-uri", 9, ("in-memory",), "--db", "sqlite:///file::memory:?uri=true"),
        monthly(
            "db-junk",
            9,
            ("ledger database failed",),
            "--db",
            "{tmp}/junk.db",
            files={**JOB_ACCOUNT, "junk.db": db},
        ),
        monthly(
            "db-foreign",
            9,
            ("not a capalloc ledger", "customers"),
            "--db",
            "{tmp}/crm.db",
            files={**JOB_ACCOUNT, "crm.db": foreign_sqlite()},
        ),
        monthly(
            "db-fifo",
            9,
            ("--db", "not a regular file"),
            "--db",
            "{tmp}/f.db",
            files={**JOB_ACCOUNT, "f.db": FIFO},
        ),
        monthly(
            "db-folder",
            9,
            ("--db", "not a regular file"),
            "--db",
            "{tmp}/d.db",
            files={**JOB_ACCOUNT, "d.db": FOLDER},
        ),
        monthly("db-no-folder", 9, ("folder does not exist",), "--db", "{tmp}/nope/ledger.db"),
        monthly("db-scheme", 9, ("cannot use this database URL",), "--db", "nosuchdb://x/y"),
        monthly(
            "orders-period-is-file",
            3,
            ("--orders-dir", "taken by a file"),
            files={**JOB_ACCOUNT, "orders/2026-01": "a file"},
        ),
        monthly(
            "orders-dir-is-file",
            2,
            ("--orders-dir",),
            "--orders-dir",
            "{tmp}/o.txt",
            files={**JOB_ACCOUNT, "o.txt": "x"},
        ),
        monthly("workers-0", 2, ("--workers",), "--workers", "0"),
        monthly("chunk-0", 2, ("--chunk-size",), "--chunk-size", "0"),
        monthly("lock-timeout-0", 2, ("--lock-timeout",), "--lock-timeout", "0"),
        monthly("lock-timeout-nan", 2, ("--lock-timeout",), "--lock-timeout", "nan"),
        monthly("fallback", 2, ("--fallback",), "--fallback", "retry"),
        monthly("processor-module", 3, ("--processor",), "--processor", "no_such_module:f"),
        monthly("processor-colon", 3, ("MODULE:FUNCTION",), "--processor", "tests.jobs_support"),
        monthly("accounts-missing", 3, ("accounts folder not found",), files={}),
        monthly("accounts-empty", 3, ("no accounts found",), files={"accounts/.keep": ""}),
        monthly(
            "accounts-bad-id",
            3,
            ("invalid account id",),
            files={**JOB_ACCOUNT, "accounts/bad id!/account.toml": ""},
        ),
        monthly(
            "index-columns",
            3,
            ("accounts.csv", "missing columns"),
            files=index("account,config\na1,a1/account.toml\n"),
        ),
        monthly(
            "index-twice",
            3,
            ("accounts.csv", "listed twice"),
            files=index(INDEX_HEAD + "a1,a1/account.toml,a1/holdings.csv\n" * 2),
        ),
        monthly(
            "index-empty-config",
            3,
            ("accounts.csv", "required column is empty"),
            files=index(INDEX_HEAD + "a1,,a1/holdings.csv\n"),
        ),
        monthly(
            "index-fallback",
            3,
            ("accounts.csv", "unknown fallback"),
            files=index(
                INDEX_HEAD.strip() + ",fallback\na1,a1/account.toml,a1/holdings.csv,maybe\n"
            ),
        ),
        monthly(
            "index-bad-id",
            3,
            ("accounts.csv", "invalid account id"),
            files=index(INDEX_HEAD + "../a1,a1/account.toml,a1/holdings.csv\n"),
        ),
        monthly("index-fifo", 3, ("accounts.csv", "not a regular file"), files=index(FIFO)),
        monthly(
            "index-oversize", 3, ("accounts.csv", "above the limit"), files=index(sparse(1 << 30))
        ),
        monthly(
            "index-not-utf8",
            3,
            ("accounts.csv", "not a UTF-8"),
            files=index((INDEX_HEAD + "a1,\xe9.toml,h.csv\n").encode("latin-1")),
        ),
        monthly(
            "index-nul",
            3,
            ("accounts.csv", "control character"),
            files=index(INDEX_HEAD + "a1,a1/acc\0ount.toml,a1/holdings.csv\n"),
        ),
    ]
    return cases


def foreign_sqlite() -> bytes:
    """The bytes of someone else's SQLite database (one table, one row)."""
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("create table customers (id integer primary key, name text)")
    conn.execute("insert into customers (name) values ('Ada')")
    conn.commit()
    data = conn.serialize()
    conn.close()
    return data

"""Build account folders for the monthly-job tests."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from tests.jobs_support.backends import postgres_of
from tests.jobs_support.pipeline import read_holdings, target_orders

TARGETS = {"SPY": 0.5, "IWM": 0.3, "BND": 0.2}


def make_accounts(
    folder: Path, n: int, *, infeasible=(), bad_holdings=(), no_trade=()
) -> list[str]:
    """``n`` accounts ``a000..``; some infeasible, some with a non-numeric share count,
    some already at target (no trade). Returns the account ids."""
    ids = []
    for i in range(n):
        account = f"a{i:03d}"
        d = folder / account
        d.mkdir(parents=True)
        lines = ['fail = "infeasible"'] if i in infeasible else []
        lines += ["[targets]", *(f"{t} = {w}" for t, w in TARGETS.items())]
        (d / "account.toml").write_text("\n".join(lines) + "\n")
        if i in no_trade:
            rows = ["SPY,10,500", "IWM,15,200", "BND,20,100", "CASH,0,"]
        else:
            rows = [f"SPY,{10 + i},500", f"IWM,{'x' if i in bad_holdings else 5},200",
                    f"CASH,{1000 * (i % 7)},"]  # fmt: skip
        (d / "holdings.csv").write_text("ticker,shares,price\n" + "\n".join(rows) + "\n")
        ids.append(account)
    return ids


def expected_orders(folder: Path, account: str) -> list[dict]:
    """The orders the test pipeline must produce for ``account``, from its files."""
    import tomllib

    config = tomllib.loads((folder / account / "account.toml").read_text())
    positions, cash = read_holdings(folder / account / "holdings.csv")
    return target_orders(config, positions, cash)


def read_order_file(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def query(db: Path, sql: str, *args) -> list[tuple]:
    """Read the ledger with the plain driver (sqlite3, or psycopg when the test folder uses
    PostgreSQL), not through the product's code. ``db`` is the folder's ``ledger.db``."""
    pg = postgres_of(Path(db).parent)
    if pg is not None:
        import psycopg

        with psycopg.connect(pg) as conn:
            return [tuple(r) for r in conn.execute(sql.replace("?", "%s"), args).fetchall()]
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()

"""The ledger's two databases in tests: a SQLite file, and PostgreSQL when a server is given.

``CAPALLOC_TEST_POSTGRES_URL`` names a PostgreSQL server the tests may create databases on
(``.ci/run`` starts a throwaway one with ``scripts/throwaway-postgres.sh``); without it the
PostgreSQL cases skip. Each PostgreSQL case gets a database of its own, dropped afterwards.
The test folder remembers which database it uses (a ``.ledger-url`` file), so helpers that
take the folder (:func:`ledger_url`, :func:`tests.jobs_support.accounts.query`) follow it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get("CAPALLOC_TEST_POSTGRES_URL", "")
BACKENDS = ("sqlite", "postgresql")
_MARK = ".ledger-url"


def ledger_url(folder: Path) -> str:
    """What ``--db`` gets for the test folder: its PostgreSQL database, else ledger.db."""
    mark = folder / _MARK
    return mark.read_text() if mark.is_file() else str(folder / "ledger.db")


def postgres_of(folder: Path) -> str | None:
    """The plain libpq URL of the folder's PostgreSQL database, or None for SQLite."""
    mark = folder / _MARK
    if not mark.is_file():
        return None
    return mark.read_text().replace("postgresql+psycopg://", "postgresql://")


def _admin() -> str:
    return POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")


def use_backend(kind: str, folder: Path) -> Iterator[str]:
    """Point ``folder`` at a fresh database of ``kind``; yields ``kind``."""
    if kind == "sqlite":
        yield kind
        return
    if not POSTGRES_URL:
        pytest.skip("no PostgreSQL server: set CAPALLOC_TEST_POSTGRES_URL "
                    "(scripts/throwaway-postgres.sh start DIR prints one)")  # fmt: skip
    import psycopg

    name = f"ledger_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_admin(), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    (folder / _MARK).write_text(f"{base}/{name}")
    try:
        yield kind
    finally:
        with psycopg.connect(_admin(), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')

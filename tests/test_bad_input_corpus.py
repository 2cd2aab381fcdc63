"""The bad-input corpus, one parametrised test: every malformed file, argument or folder
gives its documented exit code, exactly one non-empty stderr line with the expected text,
no traceback, nothing on stdout, no output file and no ledger row (cases: tests/corpus/).

286 subprocesses of 0.1 to 2 s each (75 to 110 s in all on a shared 2-core machine);
``-m "not slow"`` leaves them out.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.corpus import BAD, Case, Special, all_cases

CASES = all_cases()
LEDGER_FILES = {"ledger.db", "ledger.db-wal", "ledger.db-shm", "ledger.db-journal"}
pytestmark = pytest.mark.slow


def test_corpus_is_large_and_ids_are_unique():
    assert len(CASES) >= 200
    assert len({c.id for c in CASES}) == len(CASES)
    assert all(c.exit not in (0, 1) for c in CASES)  # refused, and never as a bug


def _make(folder: Path, files: dict) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Special):
            if content.kind == "fifo":
                os.mkfifo(path)
            elif content.kind == "folder":
                path.mkdir()
            else:
                with open(path, "wb") as fh:  # sparse: no disk space used
                    fh.truncate(content.size)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _snapshot(folder: Path) -> dict[str, str]:
    """Every path under ``folder``, with a digest of each small regular file."""
    out = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_file() and not path.is_symlink() and path.stat().st_size < (64 << 20):
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[key] = "dir" if path.is_dir() else "special"
    return out


def _ledger_rows(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = {n for (n,) in conn.execute("select name from sqlite_master where type='table'")}
        return sum(
            conn.execute(f"select count(*) from {t}").fetchone()[0]
            for t in ("runs", "claims", "orders", "account_runs")
            if t in tables
        )
    finally:
        conn.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path):
    _make(tmp_path, case.files)
    before = _snapshot(tmp_path)
    places = {"{tmp}": str(tmp_path), "{bad}": str(BAD), "{ex}": str(ROOT / "examples")}
    args = [a for a in case.args]
    for key, value in places.items():
        args = [a.replace(key, value) for a in args]
    res = run_cli(*args, timeout=120)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == case.exit, res.stderr
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for text in case.expect:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    assert res.stdout == ""
    after = _snapshot(tmp_path)
    appeared = sorted(set(after) - set(before) - LEDGER_FILES)
    assert appeared == [], "an output file or folder appeared"
    assert {k: v for k, v in after.items() if k in before} == before, "an input changed"
    assert _ledger_rows(tmp_path / "ledger.db") == 0

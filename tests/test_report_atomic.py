"""write_atomic: whole files or nothing, readers never see half a file."""

from __future__ import annotations

import os
import threading

import pytest

from optimizer.errors import ConfigError
from optimizer.report import write_atomic


def test_writes_and_replaces_without_leftovers(tmp_path):
    target = tmp_path / "sub" / "report.html"
    assert write_atomic(target, "first ✓") == target
    assert target.read_text(encoding="utf-8") == "first ✓"
    write_atomic(target, "second")
    assert target.read_text(encoding="utf-8") == "second"
    assert os.listdir(target.parent) == ["report.html"]


def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "report.csv"
    write_atomic(target, "old")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "x" * 10_000 + "é", encoding="ascii")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["report.csv"]


def test_unwritable_destination_is_one_config_error_naming_the_file(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(ConfigError) as info:
        write_atomic(blocker / "report.html", "x")
    message = str(info.value)
    assert "not-a-folder/report.html" in message and "\n" not in message


def test_new_file_gets_umask_permissions_and_existing_keeps_its_mode(tmp_path):
    old = os.umask(0o022)
    try:
        fresh = write_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert fresh.stat().st_mode & 0o777 == 0o644
    fresh.chmod(0o600)
    write_atomic(fresh, "y")
    assert fresh.stat().st_mode & 0o777 == 0o600


def test_concurrent_reader_sees_only_whole_versions(tmp_path):
    target = tmp_path / "doc.txt"
    versions = ["A" * 200_000, "B" * 300_000]
    write_atomic(target, versions[0])
    seen: set[str] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.add(target.read_text())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(60):
            write_atomic(target, versions[i % 2])
    finally:
        done.set()
        reader.join()
    assert seen <= set(versions)


def test_report_layer_imports_no_heavy_libraries():
    import subprocess
    import sys

    code = (
        "import sys, optimizer.report; "
        "print(sorted(m for m in ('numpy', 'pandas', 'cvxpy', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_write_proposal_keeps_hostile_account_ids_inside_the_folder(tmp_path):
    from optimizer.report import proposal_filename, render_proposal, write_proposal
    from tests.test_report_support import proposal_doc

    doc = proposal_doc()
    assert proposal_filename(doc) == "proposal-smith-family-2026-11-21.html"
    doc["account"]["id"] = "../../etc/passwd\x00 <x>"
    path = write_proposal(doc, tmp_path / "out")
    assert path.parent == tmp_path / "out"
    assert path.name.startswith("proposal-etc-passwd") and "/" not in path.name
    assert path.read_text(encoding="utf-8") == render_proposal(doc)
    assert list(tmp_path.rglob("*")) == [tmp_path / "out", path]

"""Reading input files: every byte, whatever the size, and nothing past the limit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from optimizer.errors import ConfigError
from optimizer.files import _CHUNK, read_bytes


@pytest.mark.parametrize("size", [0, 1, 4095, _CHUNK - 1, _CHUNK, 3 * _CHUNK + 17])
def test_every_byte_of_a_file_of_any_size(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "f.csv").write_bytes(data)
    assert read_bytes(tmp_path / "f.csv") == data


def test_a_file_at_the_limit_is_read_one_byte_over_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_bytes(b"x" * 100)
    assert read_bytes(tmp_path / "f.csv", limit=100) == b"x" * 100
    with pytest.raises(ConfigError, match="100 bytes, above the limit of 99"):
        read_bytes(tmp_path / "f.csv", limit=99)


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
def test_a_file_longer_than_its_stat_size_is_read_to_its_end_and_its_limit() -> None:
    """Files of /proc say 0 bytes to ``stat`` and hold more: what a file that grew between
    the size check and the read looks like."""
    path = Path("/proc/self/cmdline")
    assert os.stat(path).st_size == 0
    whole = path.read_bytes()
    assert len(whole) > 10
    assert read_bytes(path, limit=len(whole)) == whole
    with pytest.raises(ConfigError, match="above the limit"):
        read_bytes(path, limit=len(whole) - 1)

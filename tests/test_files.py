"""Reading input files: every byte, whatever the size, and nothing past the limit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from optimizer.errors import ConfigError
from optimizer.files import _CHUNK, read_bytes, read_text, reading_once


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


def test_reading_once_gives_one_reading_of_each_file_within_the_block(tmp_path):
    # the monthly job hashes an account's files and then parses them: both must see the
    # same bytes even if a file is replaced in between
    f, g = tmp_path / "h.csv", tmp_path / "g.csv"
    f.write_bytes(b"first")
    g.write_bytes(b"other")
    with reading_once():
        assert read_bytes(f) == b"first"
        f.write_bytes(b"replaced, longer")
        assert read_bytes(str(f)) == b"first"  # the same path however it is spelled
        assert read_text(f) == "first"
        assert read_bytes(g) == b"other"  # other files are read as usual
        with pytest.raises(ConfigError, match="above the limit of 3"):
            read_bytes(f, limit=3)  # a smaller limit still holds for the bytes kept
    assert read_bytes(f) == b"replaced, longer"  # outside the block: read again
    with reading_once():
        assert read_bytes(f) == b"replaced, longer"  # a new block starts empty

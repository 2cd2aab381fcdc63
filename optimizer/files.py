"""Reading input files safely: regular files only, never blocking, never too large.

Every input the product reads (account and scenario TOML, holdings, prices, targets,
weights, price histories, the monthly job's account folders) goes through
:func:`read_bytes`: a FIFO, device or socket named like an input is refused instead of
hanging the run (with its lock held); a file above its documented size limit
(:mod:`optimizer.limits`) is refused before a byte of it is parsed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TextIO

from optimizer.errors import CapallocError, ConfigError
from optimizer.limits import MAX_CSV_BYTES

_CHUNK = 1 << 20


def read_bytes(
    path: str | os.PathLike[str],
    *,
    limit: int = MAX_CSV_BYTES,
    error: type[CapallocError] = ConfigError,
) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes.

    The file is opened with ``O_NONBLOCK`` and checked with ``fstat`` after opening (so a
    file swapped for a FIFO between the check and the open cannot block either).

    Raises
    ------
    ConfigError (or ``error``)
        The file is missing, not a regular file, larger than ``limit``, or unreadable.
    """
    p = path if isinstance(path, Path) else Path(path)
    fd, size = _open(p, limit, error)
    try:
        # the first read asks for one byte more than fstat said: a file that did not grow
        # is read in one call (a 1 MiB buffer allocated and shrunk per file cost twice as much)
        chunks, want, size = [], size + 1, 0
        while size <= limit:
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            size, want = size + len(chunk), _CHUNK
    except OSError as exc:
        raise error("cannot read the file", file=str(p), hint=exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    if size > limit:  # grew while being read
        raise _too_large(p, size, limit, error)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def read_text(
    path: str | os.PathLike[str],
    *,
    limit: int = MAX_CSV_BYTES,
    error: type[CapallocError] = ConfigError,
) -> str:
    """The UTF-8 text of ``path`` (a byte-order mark is dropped); see :func:`read_bytes`."""
    data = read_bytes(path, limit=limit, error=error)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise error("not a UTF-8 text file", file=str(path)) from None


def open_text(
    path: str | os.PathLike[str],
    *,
    limit: int = MAX_CSV_BYTES,
    error: type[CapallocError] = ConfigError,
) -> TextIO:
    """``path`` opened for reading UTF-8 text (after the checks of :func:`read_bytes`), for
    readers that need only its first lines."""
    p = Path(path)
    return open(_open(p, limit, error)[0], encoding="utf-8-sig", newline="")


def _open(p: Path, limit: int, error: type[CapallocError]) -> tuple[int, int]:
    """A read-only, non-blocking descriptor of ``p``, a regular file within ``limit``, and
    its size when opened."""
    try:
        _check(p, os.stat(p), limit, error)
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error("file not found", file=str(p)) from None
    except OSError as exc:
        raise error("cannot read the file", file=str(p), hint=exc.strerror or str(exc)) from None
    except ValueError:  # a NUL byte in the path
        raise error("not a valid file path", file=repr(str(p))) from None
    try:
        st = os.fstat(fd)
        _check(p, st, limit, error)  # the file may have been swapped meanwhile
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def _check(p: Path, st: os.stat_result, limit: int, error: type[CapallocError]) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise error("is a folder, not a file", file=str(p))
    if not stat.S_ISREG(st.st_mode):
        raise error(
            "not a regular file (a FIFO, device or socket)",
            file=str(p),
            hint="give the path of an ordinary file",
        )
    if st.st_size > limit:
        raise _too_large(p, st.st_size, limit, error)


def _too_large(p: Path, size: int, limit: int, error: type[CapallocError]) -> CapallocError:
    return error(
        f"file is {size:,} bytes, above the limit of {limit:,}",
        file=str(p),
        hint="see docs/limits.md",
    )

"""Keep large temporary arrays in the process's heap (glibc's ``malloc`` tunables).

Compiling a 500-asset problem makes cvxpy build and drop tensors of several megabytes. glibc
serves each block above its mmap threshold (128 KiB at first) with a fresh ``mmap`` and
returns it with ``munmap``, so every compilation pays for page faults on memory it just gave
back: about a quarter of a cold 500-asset solve (0.064 s against 0.047 s with the tunables
below; benchmarks/bench_optimize.py, docs/optimizer.md). Raising the mmap threshold to 64 MiB
and the trim threshold to 256 MiB keeps that memory in the heap for the next use, at the
price of a process holding on to up to 256 MiB it no longer uses.

Applied once per process when the first problem is built; never where the user set glibc's
own environment variables (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``), and a
no-op outside glibc (macOS, musl, Windows).
"""

from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 256 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
_done = False


def keep_large_blocks() -> bool:
    """Set the tunables (once); True when they were set by this call."""
    global _done
    if _done:
        return False
    _done = True
    if not sys.platform.startswith("linux") or any(
        k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
    ):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )

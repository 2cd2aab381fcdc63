"""The one place HiGHS instances are made and run (the optimizer's LPs, row generation and
the planner's MILP all come through here).

Three promises, each one a way HiGHS broke output or results before:

- **Silent.** highspy prints a banner on the process's stdout (file descriptor 1, from C++)
  the first time a ``Highs`` is constructed, before any option can silence it. The first
  construction in a process therefore runs with descriptors 1 and 2 pointed at
  ``/dev/null``; every instance then gets ``output_flag = False``. Later constructions print
  nothing (a test in tests/test_highs.py checks this on the installed version, so a release
  that prints on every construction fails loudly instead of corrupting ``--format json``).
- **No per-instance option that breaks later instances.** ``threads`` sizes HiGHS's global
  task scheduler, which exists once per process: an instance asking for another count than
  the scheduler was first made with fails every solve with status "Not Set". It is never
  set here (:func:`new` refuses it).
- **Every status checked.** :func:`run` raises :class:`HighsFailure` when ``run()`` itself
  reports an error, and returns the model status in words; callers decide what each status
  means and never read a solution that HiGHS did not mark valid.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Any

_FORBIDDEN = frozenset({"threads"})  # process-wide in HiGHS: see the module docstring
_lock = threading.Lock()
_banner_done = False


class HighsFailure(RuntimeError):
    """HiGHS reported an error (bad option, failed run): an expected solver failure that the
    caller turns into a recorded fallback, never a crash of the command."""


def _construct() -> Any:
    """A ``highspy.Highs``; the first in this process with stdout and stderr silenced."""
    global _banner_done
    import highspy

    if _banner_done:
        return highspy.Highs()
    with _lock:
        if _banner_done:
            return highspy.Highs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):  # closed or None
                stream.flush()
        saved = [os.dup(1), os.dup(2)]
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            os.dup2(null, 2)
            h = highspy.Highs()
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in (*saved, null):
                os.close(fd)
        _banner_done = True
        return h


def new(**options: float | int | str | bool) -> Any:
    """A silent HiGHS instance with ``options`` set (each one checked)."""
    import highspy

    if bad := _FORBIDDEN & options.keys():
        raise ValueError(f"HiGHS option(s) {sorted(bad)} are process-wide; never set them")
    h = _construct()
    for name, value in {"output_flag": False, **options}.items():
        if h.setOptionValue(name, value) != highspy.HighsStatus.kOk:
            raise HighsFailure(f"HiGHS refused option {name}={value!r}")
    return h


def check(status: Any, what: str) -> None:
    """Raise :class:`HighsFailure` unless a HiGHS call returned ``kOk`` (or only a warning)."""
    import highspy

    if status == highspy.HighsStatus.kError:
        raise HighsFailure(f"HiGHS {what} failed")


def run(h: Any) -> str:
    """Run ``h`` and return its model status in HiGHS's words ("Optimal", "Infeasible", ...).

    Raises :class:`HighsFailure` when the run itself reports an error.
    """
    import highspy

    if h.run() == highspy.HighsStatus.kError:
        raise HighsFailure(f"HiGHS run failed: {h.modelStatusToString(h.getModelStatus())}")
    return h.modelStatusToString(h.getModelStatus())

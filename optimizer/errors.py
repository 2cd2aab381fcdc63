"""One exception root, split by failure mode.

Every error carries a one-line message that says what is wrong and, where it helps, how
to fix it. The CLI prints ``capalloc: <Kind>: <message>`` on stderr and exits with the
class's ``exit_code``; ``--debug`` shows the traceback instead.

Exit codes (also in docs/cli.md):

====  ==================  ==================================================
code  exception           meaning
====  ==================  ==================================================
0     –                   success
1     (unexpected)        a bug: please report it with ``--debug`` output
2     (usage)             bad command-line usage (unknown option, ...)
3     ConfigError         a configuration or input file is invalid
4     DataError           market data missing, malformed or inconsistent
5     ScenarioError       a scenario file is invalid or cannot be propagated
6     InfeasibleError     the constraints admit no portfolio / no plan
7     SolverError         the solver failed on a feasible-looking problem
8     PlanError           holdings, prices or rules make a trade plan impossible
9     LedgerError         the run ledger is unavailable, locked or inconsistent
10    PartialFailure      a batch finished but some accounts failed
====  ==================  ==================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MAX_MESSAGE = 1000  # characters of a rendered error (a 100,000-character path in a file)


def _shortened(text: str, most: int) -> str:
    """``text`` with its middle cut to ``most`` characters (both ends say the most)."""
    if len(text) <= most:
        return text
    head = most * 2 // 3
    return f"{text[:head]}...{text[-(most - head - 3) :]}"


def _fmt_value(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return _shortened(text, 120)  # a path keeps its file name


class CapallocError(Exception):
    """Root of every error the product raises on purpose.

    Parameters
    ----------
    message:
        What is wrong, in one line.
    file, key, value:
        Where: the file (or source), the field or key inside it, and the offending value.
        Each is optional; given ones are prefixed to the message as ``file: key=value:``.
    hint:
        How to fix it, appended after the message.
    """

    exit_code = 1
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        value: Any = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.key = key
        self.value = value
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        parts: list[str] = []
        if self.file:
            parts.append(_shortened(str(self.file), 240))
        if self.key is not None:
            where = str(self.key)
            if self.value is not None:
                where += f"={_fmt_value(self.value)}"
            parts.append(where)
        elif self.value is not None:
            parts.append(f"value {_fmt_value(self.value)}")
        text = ": ".join([*parts, self.message])
        if self.hint:
            text += f" ({self.hint})"
        return _shortened(" ".join(text.split()), MAX_MESSAGE)  # always one line

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": type(self).__name__,
            "message": self.message,
            "file": self.file,
            "key": self.key,
            "value": None if self.value is None else _fmt_value(self.value),
            "hint": self.hint,
            "exit_code": self.exit_code,
        }


class ConfigError(CapallocError):
    """A configuration or input file (TOML, CSV of holdings or weights) is invalid."""

    exit_code = 3
    kind = "config error"


class DataError(CapallocError):
    """Market data is missing, malformed, stale or inconsistent."""

    exit_code = 4
    kind = "data error"


class ScenarioError(CapallocError):
    """A scenario file is invalid, or its shocks cannot be propagated."""

    exit_code = 5
    kind = "scenario error"


class UnsupportedScenario(ScenarioError):
    """The data cannot carry a valid scenario: a factor without a series, a replay or a
    pinned window outside the data, too little of it. Running every scenario (``stress``
    without ``--scenario``) skips these, naming the reason; other errors still fail."""


class InfeasibleError(CapallocError):
    """The constraints admit no solution. ``diagnosis`` lists the conflicting ones."""

    exit_code = 6
    kind = "infeasible"

    def __init__(self, message: str, *, diagnosis: Any = None, **kwargs: Any) -> None:
        self.diagnosis = diagnosis
        super().__init__(message, **kwargs)


class SolverError(CapallocError):
    """The solver failed (numerical trouble, unbounded, time limit) after all fallbacks."""

    exit_code = 7
    kind = "solver error"


class PlanError(CapallocError):
    """Holdings, prices, targets or rules make a rebalancing plan impossible."""

    exit_code = 8
    kind = "plan error"


class LedgerError(CapallocError):
    """The run ledger is unavailable, locked by another run, or inconsistent."""

    exit_code = 9
    kind = "ledger error"


class PartialFailure(CapallocError):
    """A batch completed but some of its items failed (each is recorded)."""

    exit_code = 10
    kind = "partial failure"


@contextmanager
def naming_file(file: str | Path | None, *kinds: type[CapallocError]) -> Iterator[None]:
    """Errors of ``kinds`` (default: ConfigError) raised inside that name no file are
    about ``file`` (an account file, say): the message gains its path."""
    caught = kinds or (ConfigError,)
    try:
        yield
    except caught as exc:
        if file is not None and exc.file is None:
            exc.file = str(file)
            exc.args = (exc.render(),)
        raise

"""The bad-input corpus as data: one :class:`Case` per malformed input, built from small
tables, one module per kind of input (run by ``tests/test_bad_input_corpus.py``).

A case states the command line (after ``capalloc``), the files to create in a fresh folder
(``{tmp}``), the exit code and texts the one stderr line must contain. ``{bad}`` is
``tests/bad_input``, ``{ex}`` the ``examples`` folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "bad_input"


class Special:
    """A file that is not plain text: a FIFO, a folder, or a sparse file of ``size`` bytes."""

    def __init__(self, kind: str, size: int = 0) -> None:
        self.kind, self.size = kind, size


FIFO, FOLDER = Special("fifo"), Special("folder")


def sparse(size: int) -> Special:
    return Special("sparse", size)


FINITE = "not a finite number"
BOUNDS = "outside the documented bounds"
MONEY_OPTIONS = ["nan", "inf", "-inf", "1e308", "-5", "abc", "1e13", "", "0x10"]


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    exit: int
    expect: tuple[str, ...]
    files: dict[str, str | bytes | Special] = field(default_factory=dict)

    def __post_init__(self) -> None:  # a readable test id: no spaces, quotes or newlines
        object.__setattr__(self, "id", re.sub(r"[^A-Za-z0-9._+-]+", "_", self.id).strip("_"))


def all_cases() -> list[Case]:
    from tests.corpus import accounts, data, harvest, monthly, planner, scenarios

    return [*planner.cases(), *data.cases(), *scenarios.cases(), *accounts.cases(),
            *monthly.cases(), *harvest.cases()]  # fmt: skip

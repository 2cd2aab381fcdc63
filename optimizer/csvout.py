"""The one CSV writer: every CSV the product writes (orders of ``rebalance``, ``propose``
and the monthly job, the what-if table) goes through :func:`csv_text`.

Formula-safe, by the convention spreadsheet tools follow (OWASP "CSV injection"): a text
cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
single quote, so a ticker ``=1+1`` or a lot id ``=HYPERLINK(...)`` is shown as text and
never evaluated. Numbers stay numbers: a float or int cell, or a text cell that is a plain
decimal number (``-10.5``, ``1e-05``), is written as is.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def quantity(x: float) -> str:
    """A share count or cost basis as text, every digit it has: ``1087435``, ``1234.5678``,
    ``12.345678`` (``:g`` kept six digits: 1,087,435 shares were written 1087440 and
    3,187,858 as ``3.18786e+06``); float noise beyond 15 digits is dropped."""
    return f"{x:.15g}"


def price_text(x: float) -> str:
    """A price in an order file: four decimals (``84.9242``)."""
    return f"{x:.4f}"


def money_text(x: float) -> str:
    """An amount of money in an order file: cents (``31846.57``)."""
    return f"{x:.2f}"


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell that a spreadsheet cannot evaluate as a formula."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(_TRIGGERS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """The CSV text of ``header`` and ``rows`` (``\\n`` line ends, every cell made safe)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([safe_cell(c) for c in header])
    writer.writerows([safe_cell(c) for c in row] for row in rows)
    return buf.getvalue()

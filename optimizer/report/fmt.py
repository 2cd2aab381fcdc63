"""Number coercion and formatting for the report layer.

Every value in a proposal or what-if document may be absent, ``None``, NaN or of an
unexpected type; the helpers here turn such values into ``None`` (and an en dash when
formatted) instead of raising, so one missing number never breaks a whole report.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

DASH = "–"
MINUS = "−"  # U+2212: the one minus sign of every report


def _minus(text: str) -> str:
    return text.replace("-", MINUS)


def minus_signs(text: Any) -> str:
    """Free text (a trade's reason) with a true minus before numbers: ``drift -19.31%`` ->
    ``drift −19.31%``; hyphens inside words, ids and dates (``2017-03-31``) stay."""
    return re.sub(r"(?<![\w.\-−])-(?=\.?\d)", MINUS, "" if text is None else str(text))


def num(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` (absent, NaN, infinite, not a number)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def pct(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.0123 -> '1.2%'``, ``-0.005 -> '−0.5%'``."""
    x = num(value)
    return DASH if x is None else _minus(f"{100 * x:.{digits}f}%")


def signed_pct(value: Any, digits: int = 1) -> str:
    """A fraction as a signed percentage: ``-0.08 -> '−8.0%'`` (true minus sign)."""
    x = num(value)
    if x is None:
        return DASH
    return _minus(f"{100 * x:+.{digits}f}%")


def pp(value: Any, digits: int = 1) -> str:
    """A difference of two fractions in percentage points: ``0.07 -> '+7.0 pp'``."""
    x = num(value)
    if x is None:
        return DASH
    shown = round(100 * x, digits) + 0.0  # -3e-12 is "+0.0 pp", not "−0.0 pp"
    return _minus(f"{shown:+.{digits}f} pp")


def money(value: Any, currency: str | None = "USD", digits: int = 0) -> str:
    """An amount with thousands separators and its currency: ``'$1,250,000'``."""
    x = num(value)
    if x is None:
        return DASH
    sign = MINUS if x < 0 else ""
    body = f"{abs(x):,.{digits}f}"
    if currency in (None, "", "USD"):
        return f"{sign}${body}"
    return f"{sign}{body} {currency}"


def decimal(value: Any, digits: int = 2) -> str:
    """A plain number with ``digits`` decimals: ``2.104 -> '2.10'``, ``-0.07 -> '−0.07'``."""
    x = num(value)
    return DASH if x is None else _minus(f"{x:,.{digits}f}")


def plain(value: Any) -> str:
    """A number as an exact plain decimal (no exponent), or ``''`` when absent.

    ``1e-05 -> '0.00001'``; the text parses back to the same float.
    """
    x = num(value)
    if x is None:
        return ""
    text = format(Decimal(repr(x)), "f")
    return "0" if text in ("-0", "-0.0") else text

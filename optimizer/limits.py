"""Documented bounds on every money, share and price input (docs/limits.md).

Inputs are checked once, where they are read (the shared CSV loaders, the price-data
validation, the command-line options), so every command inherits the same bounds. A value
outside them is far more likely a typo or a unit slip than a real portfolio, and would
otherwise overflow into NaN weights or orders of 10**300 shares.
"""

from __future__ import annotations

import math
import re

from optimizer.errors import CapallocError, ConfigError

MAX_MONEY = 1e12  # cash, deposits, withdrawals, portfolio values, cost bases, gains
MAX_SHARES = 1e10  # shares of one lot, position or order
MIN_PRICE = 1e-6  # a price (or index level) in the account's currency
MAX_PRICE = 1e7
MAX_RATE_PCT = 1e3  # a rate series, in percent (|rate| at most this)
MIN_HELD = 1e-6  # a weight below this is a solver's residue, not a holding


def share_of(part: float, whole: float) -> float | None:
    """``part / whole`` (the small-cap share of equity), or None when ``whole`` is no
    holding at all: a ratio of two solver residues (1e-9 / 3e-8) is no share of anything."""
    return part / whole if whole >= MIN_HELD else None


MAX_TOML_BYTES = 1 << 20  # account, scenario and rules files: 1 MiB
MAX_CSV_BYTES = 256 << 20  # holdings, prices, targets, price histories: 256 MiB
MAX_LOGO_BYTES = 512 << 10  # [advisor] logo, embedded in every report: 512 KiB
MAX_TOML_DEPTH = 32  # tables and arrays nested inside each other

_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def parse_number(
    text: str | None, *, file: str | None, key: str, error: type[CapallocError] = ConfigError
) -> float:
    """A finite float from a CSV cell, written as a plain decimal (``-12.5``, ``1e3``).

    Text, NaN and infinities are one ``error`` line; so are the spellings Python's
    ``float`` would also take (``1_000``, non-ASCII digits), which no CSV writer produces.
    """
    raw = (text or "").strip()
    if _DECIMAL.fullmatch(raw):
        value = float(raw)
        if math.isfinite(value):
            return value
        raise error("not a finite number (beyond the float range)", file=file, key=key,
                    value=raw)  # fmt: skip
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not math.isfinite(value):
        raise error("not a finite number", file=file, key=key, value=raw)
    hint = None
    if _DECIMAL.fullmatch(raw.replace(",", "").lstrip("$€£")):  # 1,234.5  12,5  $80
        hint = "write a plain number: a decimal point, no thousands separator or currency sign"
    raise error("not a number", file=file, key=key, value=raw, hint=hint)


def check_range(
    value: float,
    low: float,
    high: float,
    *,
    what: str,
    file: str | None = None,
    key: str,
    error: type[CapallocError] = ConfigError,
) -> float:
    """``value`` if finite and in ``[low, high]``, else one ``error`` line naming the bound."""
    if not math.isfinite(value):
        raise error(f"{what} must be a finite number", file=file, key=key, value=value)
    if not low <= value <= high:
        raise error(
            f"{what} outside the documented bounds [{low:g}, {high:g}]",
            file=file,
            key=key,
            value=value,
            hint="see docs/limits.md",
        )
    return value


def check_money(
    value: float,
    *,
    file: str | None = None,
    key: str,
    signed: bool = False,
    error: type[CapallocError] = ConfigError,
) -> float:
    """An amount of money: finite, ``0 <= value <= MAX_MONEY`` (``|value|`` if ``signed``)."""
    low = -MAX_MONEY if signed else 0.0
    return check_range(value, low, MAX_MONEY, what="amount", file=file, key=key, error=error)


def check_shares(
    value: float, *, file: str | None = None, key: str, error: type[CapallocError] = ConfigError
) -> float:
    """A number of shares: finite and ``|value| <= MAX_SHARES`` (the sign is checked by
    the caller, which knows whether a negative count means a short or a typo)."""
    return check_range(
        value, -MAX_SHARES, MAX_SHARES, what="shares", file=file, key=key, error=error
    )


def check_price(
    value: float, *, file: str | None = None, key: str, error: type[CapallocError] = ConfigError
) -> float:
    """A price: finite and in ``[MIN_PRICE, MAX_PRICE]``."""
    return check_range(value, MIN_PRICE, MAX_PRICE, what="price", file=file, key=key, error=error)

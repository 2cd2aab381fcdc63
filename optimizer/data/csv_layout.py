"""Which layout a CSV file is in, from its header lines: where the dates and each ticker are.

One-line headers: **yahoo** (``Date,Close,High,...``, one ticker named by the file),
**fred** (``observation_date,SERIES``) and **wide** (``date,AAA,BBB,...``). Headers of
several lines are what yfinance and its users write (**yahoo-multi**): a row of price
fields (``Close``, ``Adj Close``, ``Open``, ...) and a row of tickers, in either order, with
or without a ``Price``/``Ticker`` label in the first cell and an extra ``Date,,,`` row::

    Price,Close,Close,High,...        Date,Close,High,Low,...      Ticker,SPY,SPY,IWM,...
    Ticker,SPY,IWM,SPY,...            ,XLE,XLE,XLE,...             Price,Close,Open,Close,...
    Date,,,,...                       2024-01-02,...               Date,,,,...

A header of fields without a ticker row (``Price,Close,High,...`` over ``Date,,,``: one
ticker's frame with the ticker level dropped) is one ticker named by the file, as **yahoo**.

The adjusted close (``Adj Close``) is used when a file has one, else ``Close``. Field names
are matched without regard to case, spaces and punctuation, with the spellings other
vendors use (``Adj. Close``, ``adjClose``, ``adjusted_close``: the adjusted close; Tiingo's
``adjOpen``, Alpha Vantage's ``dividend_amount``, ...: other fields).
"""

from __future__ import annotations

import csv
import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from optimizer.errors import DataError

# the date column's name, in English and as European spreadsheets write it
DATE_NAMES = frozenset({"date", "datetime", "timestamp", "time", "day", "datum", "fecha", "data"})
_CLOSES = ("Adj Close", "Close")  # preferred first
_OTHER_FIELDS = (
    "Open", "High", "Low", "Volume", "Dividends", "Stock Splits", "Capital Gains", "Repaired?",
    "adjOpen", "adjHigh", "adjLow", "adjVolume", "divCash", "splitFactor", "dividend_amount",
    "split_coefficient", "Change", "Trades", "VWAP", "OpenInt",
)  # fmt: skip
_FIELDS = {
    **{re.sub(r"[^a-z]", "", f.lower()): f for f in (*_CLOSES, *_OTHER_FIELDS)},
    "adjustedclose": "Adj Close",
    "closelast": "Close",  # Nasdaq.com's download: Date,Close/Last,Volume,Open,High,Low
    "last": "Close",
    "price": "Close",  # Investing.com's: Date,Price,Open,High,Low,Vol.,Change %
    "vol": "Volume",
    # Investing.com's and spreadsheets' headers in German, French, Spanish and Italian
    # (accents dropped: "Eröffn." is eroffn)
    **dict.fromkeys(("zuletzt", "schluss", "schlusskurs", "dernier", "cloture"), "Close"),
    **dict.fromkeys(("ultimo", "cierre", "chiusura"), "Close"),
    **dict.fromkeys(("eroffn", "eroffnung", "ouv", "ouverture", "apertura"), "Open"),
    **dict.fromkeys(("hoch", "plushaut", "maximo", "massimo"), "High"),
    **dict.fromkeys(("tief", "plusbas", "minimo"), "Low"),
    **dict.fromkeys(("volumen", "volumes"), "Volume"),
    **dict.fromkeys(("variation", "cambio", "variazione"), "Change"),
}
_LABELS = frozenset({"price", "ticker", "symbol", "field", "attributes", "symbols"})
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$", re.ASCII)
MAX_HEADER_LINES = 6


class Layout(Enum):
    YAHOO = "yahoo"
    YAHOO_MULTI = "yahoo-multi"
    FRED = "fred"
    WIDE = "wide"


@dataclass(frozen=True)
class FileLayout:
    """A file's layout: header lines to skip and, per ticker, the column of its values."""

    layout: Layout
    header_lines: int
    date_name: str  # how the date column is named (for error messages)
    columns: dict[str, int]  # ticker (or "" for the file-stem ticker) -> column position
    header: tuple[str, ...]  # the first header line, for messages


def _letters(cell: str) -> str:
    """A header cell's letters, lower case, accents dropped (``Eröffn.`` -> ``eroffn``)."""
    plain = unicodedata.normalize("NFKD", cell.lower())
    return re.sub(r"[^a-z]", "", plain)


def field(cell: str) -> str | None:
    """The price field a header cell names (``Close``, ``Adj Close``, ``Open``, ...), or None."""
    return _FIELDS.get(_letters(cell)) if cell else None


_ALIASES = frozenset({"closelast", "last", "price", "vol"})  # words that name tickers too


def _fields(cells: list[str]) -> list[str | None]:
    """The fields of a row of cells; ``LAST`` or ``PRICE`` in capitals with no other field
    beside them are tickers (``date,SPY,LAST`` is a wide file), as ``LOW`` and ``OPEN``."""
    names = [field(c) for c in cells]
    keys = [_letters(c) for c in cells]
    plain = any(n is not None and k not in _ALIASES for n, k in zip(names, keys, strict=True))
    return [
        None if n is not None and k in _ALIASES and c.isupper() and not plain else n
        for n, k, c in zip(names, keys, cells, strict=True)
    ]


def _close_column(cells: list[str]) -> int | None:
    """Position of the preferred close among ``cells`` after the first (the date's, or a
    label such as yfinance's ``Price``), the adjusted one first; None without one."""
    names = [None, *_fields(cells[1:])]
    return next((names.index(c) for c in _CLOSES if c in names), None)


SEPARATORS = (",", ";", "\t", "|")


def separators(lines: list[str]) -> list[str]:
    """The separators a file's first ``lines`` may use, most likely first: of comma,
    semicolon, tab and bar, those splitting most lines into the same number of cells (at
    least two), the header line among them first; a comma when none does. A file written
    where the comma is the decimal mark (``Date;Close`` over ``2024-01-02;475,31``) splits
    on semicolons; the caller takes the first whose header it can read (a title line with
    a comma above such a file splits on commas too)."""
    body = [ln for ln in lines if ln.strip()]
    scored = []
    for rank, sep in enumerate(SEPARATORS):
        try:
            widths = [len(row) for row in csv.reader(body, delimiter=sep)]
        except csv.Error:
            continue
        if not widths:
            continue
        width = max(set(widths), key=widths.count)
        if width < 2:
            continue
        header = next((w for w in widths if w > 1), 0) == width  # a title line: one cell
        scored.append(((not header, -widths.count(width), rank), sep))
    return [sep for _, sep in sorted(scored)] or [","]


def split_rows(lines: list[str], origin: str = "", sep: str = ",") -> list[list[str]]:
    """CSV lines -> stripped cells; a line that is not CSV (a cell past the csv module's
    128 KiB, an HTML page saved as .csv) is a DataError naming ``origin``."""
    try:
        rows = csv.reader((ln for ln in lines if ln.strip()), delimiter=sep)
        return [[c.strip() for c in row] for row in rows]
    except csv.Error as exc:
        raise DataError(
            "not a CSV file of prices", file=origin or None, key="header", hint=str(exc)
        ) from None


def detect_rows(rows: list[list[str]], origin: str) -> FileLayout:
    """The layout of a file whose first lines are ``rows`` (already split into cells)."""
    if not rows or rows[0] == [""]:
        raise DataError("empty file", file=origin, hint="expected a header line and rows")
    title = [c for c in rows[0] if c]
    if len(rows) > 2 and len(title) == 1 and len(rows[1]) > 1 and _is_header_row(rows[1]):
        # a title line above the header ("SPDR S&P 500 ETF Trust daily prices")
        found = detect_rows(rows[1:], origin)
        return dataclasses.replace(found, header_lines=found.header_lines + 1)
    n = _header_count(rows)
    if n > 1:
        return _multi(rows[:n], origin)
    return _single(rows[0], origin)


def _header_count(rows: list[list[str]]) -> int:
    """How many of the leading rows are header rows (at least one)."""
    n = 1
    while n < min(len(rows), MAX_HEADER_LINES) and _is_header_row(rows[n]):
        n += 1
    return n


def _is_header_row(row: list[str]) -> bool:
    first, rest = row[0], [c for c in row[1:] if c]
    if first.lower() in _LABELS:
        return True
    if first.lower() in DATE_NAMES or first == "":
        # ``Date,,,`` (yfinance's index-name row) or ``,XLE,XLE`` (a ticker row)
        return not rest or any(not _NUMBER.match(c) for c in rest)
    return False


def _multi(rows: list[list[str]], origin: str) -> FileLayout:
    header = tuple(rows[0])
    fields = next((r for r in rows if _is_field_row(r)), None)
    tickers = next((r for r in rows if r is not fields and _is_ticker_row(r)), None)
    date_row = next((r for r in rows if r[0].lower() in DATE_NAMES), None)
    date_name = date_row[0] if date_row else "Date"
    if fields is not None and tickers is None:  # one ticker's fields, named by the file
        column = _close_column(fields)  # (a title line above them is no column)
        assert column is not None  # a field row names a close
        return FileLayout(Layout.YAHOO, len(rows), date_name, {"": column}, tuple(fields))
    if fields is None or tickers is None:
        raise DataError(
            "a header of several lines needs a row of price fields (Close, ...) and a row of "
            "tickers, as yfinance writes",
            file=origin,
            key="header",
            value=" / ".join(",".join(r) for r in rows),
        )
    found: dict[str, dict[str, int]] = {}
    names = _fields(fields)
    for j in range(1, len(fields)):
        ticker = tickers[j] if j < len(tickers) else ""
        if ticker and names[j] in _CLOSES:
            found.setdefault(ticker, {})[names[j]] = j
    if not found:
        raise DataError("no Close columns", file=origin, key="header", value=",".join(header))
    columns = {t: next(cols[c] for c in _CLOSES if c in cols) for t, cols in found.items()}
    return FileLayout(Layout.YAHOO_MULTI, len(rows), date_name, columns, header)


def _is_field_row(row: list[str]) -> bool:
    rest = _fields([c for c in row[1:] if c])
    return bool(rest) and None not in rest and any(c in _CLOSES for c in rest)


def _is_ticker_row(row: list[str]) -> bool:
    # fields as yfinance spells them: tickers such as LOW (Lowe's) or OPEN are tickers
    rest = row[1:]
    return bool(rest) and all(rest) and not set(rest) <= set(_FIELDS.values())


def _single(header: list[str], origin: str) -> FileLayout:
    first = header[0]
    shown = ",".join(header)
    # FRED's download: observation_date,SERIES (before 2024: DATE,SERIES, in capitals)
    # only in a file named for its series: DGS10.csv (DATE,Close is one ticker's closes,
    # DATE,SPY in prices.csv a wide file of one column)
    fred_date = (
        first == "DATE" and len(header) == 2 and header[1].upper() == Path(origin).stem.upper()
    )
    if first == "observation_date" or fred_date:
        if len(header) != 2 or not header[1]:
            raise DataError(
                "FRED layout needs exactly two columns: observation_date,SERIES",
                file=origin,
                key="header",
                value=shown,
            )
        return FileLayout(Layout.FRED, 1, first, {header[1]: 1}, tuple(header))
    # a date column by name, or unnamed (what pandas writes for an index without a name)
    if (first.lower() in DATE_NAMES or first == "") and len(header) >= 2:
        names = header[1:]
        close = _close_column(header)
        if close is not None and close > 0:
            if _fields(header).count(_fields(header)[close]) > 1:  # which of two is the close?
                raise DataError(
                    f"the close is named twice ({header[close]})",
                    file=origin,
                    key="header",
                    value=shown,
                )
            return FileLayout(Layout.YAHOO, 1, first or "date", {"": close}, tuple(header))
        # fields only and none a close; in capitals they may be tickers (LOW, OPEN)
        if all(field(n) for n in names) and not all(n.isupper() for n in names):
            raise DataError(
                "yahoo layout without a Close column",
                file=origin,
                key="header",
                value=shown,
                hint="expected Date,Close,High,Low,Open,Volume",
            )
        if any(not n for n in names) or len(set(names)) != len(names):
            raise DataError("empty or repeated column name", file=origin, key="header", value=shown)
        columns = {n: j for j, n in enumerate(header) if j}
        return FileLayout(Layout.WIDE, 1, first or "date", columns, tuple(header))
    raise DataError(
        "no known layout (yahoo Date,Close,...; FRED observation_date,SERIES; "
        "or wide date,TICKER,...)",
        file=origin,
        key="header",
        value=shown,
    )

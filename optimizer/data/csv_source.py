"""``csv:PATH`` — prices and rates from CSV files, layout detected per file.

Layouts (detected from the header):

* **yahoo** — ``Date,Close,High,Low,Open,Volume`` (one ticker, the file stem): ``Close``
  is used (yfinance's ``auto_adjust=True`` close, already adjusted).
* **yahoo-multi** — what ``yfinance.download(...).to_csv()`` writes: a ``Price`` header
  row, a ``Ticker`` row and a ``Date`` row; one ``Close`` column per ticker.
* **fred** — ``observation_date,SERIES``: blanks (holidays) are dropped; rates in percent.
* **wide** — a date column (``date``, ``Date``, ``DATE``, ``timestamp``) and one column
  per ticker. Files whose stem starts with ``rates`` hold rates in percent.

``PATH`` is a file or a folder of ``*.csv`` files; several are joined with commas
(``csv:prices_dir,rates_dir``). Yield tickers (``^TNX``, ``^FVX``, ``^IRX``, ``^TYX``) and
FRED files are rates; every other column is a price.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import pandas as pd

from optimizer.data.align import Request, assemble
from optimizer.data.base import PriceData, ServedBy
from optimizer.data.validate import (
    RawSeries,
    SeriesKind,
    ValidationPolicy,
    parse_dates,
    parse_numbers,
)
from optimizer.errors import DataError
from optimizer.files import open_text, read_text

YIELD_TICKERS = frozenset({"^TNX", "^FVX", "^IRX", "^TYX"})
_DATE_NAMES = frozenset({"date", "datetime", "timestamp", "time", "day"})
_OHLC = frozenset({"Open", "High", "Low", "Volume", "Adj Close"})


class Layout(Enum):
    YAHOO = "yahoo"
    YAHOO_MULTI = "yahoo-multi"
    FRED = "fred"
    WIDE = "wide"


@dataclass(frozen=True)
class Entry:
    """Where one ticker lives: file, layout and column (or ticker level) to read."""

    ticker: str
    path: Path
    layout: Layout
    kind: SeriesKind


def read_header(path: Path) -> list[list[str]]:
    """The first three lines of a CSV file, split on commas (empty file: DataError)."""
    try:
        with open_text(path, error=DataError) as fh:
            lines = [fh.readline() for _ in range(3)]
    except UnicodeDecodeError:
        raise DataError("not a UTF-8 text file", file=str(path)) from None
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", file=str(path)) from None
    rows = [[c.strip() for c in row] for row in csv.reader(ln for ln in lines if ln)]
    if not rows or rows[0] == [""]:
        raise DataError("empty file", file=str(path), hint="expected a header line and rows")
    return rows


def detect(path: Path) -> tuple[Layout, list[str]]:
    """The layout of a file and its column names; no layout matching is a DataError."""
    rows = read_header(path)
    header = rows[0]
    first = header[0]
    if first == "Price" and len(rows) > 1 and rows[1][0] == "Ticker":
        return Layout.YAHOO_MULTI, header
    if first == "observation_date":
        if len(header) != 2 or not header[1]:
            raise DataError(
                "FRED layout needs exactly two columns: observation_date,SERIES",
                file=str(path),
                key="header",
                value=",".join(header),
            )
        return Layout.FRED, header
    if first.lower() in _DATE_NAMES and len(header) >= 2:
        names = set(header[1:])
        if "Close" in names:
            return Layout.YAHOO, header
        if names & _OHLC:
            raise DataError(
                "yahoo layout without a Close column",
                file=str(path),
                key="header",
                value=",".join(header),
                hint="expected Date,Close,High,Low,Open,Volume",
            )
        if any(not n for n in header[1:]) or len(names) != len(header) - 1:
            raise DataError(
                "empty or repeated column name",
                file=str(path),
                key="header",
                value=",".join(header),
            )
        return Layout.WIDE, header
    raise DataError(
        "no known layout (yahoo Date,Close,...; FRED observation_date,SERIES; "
        "or wide date,TICKER,...)",
        file=str(path),
        key="header",
        value=",".join(header),
    )


def catalog(paths: Sequence[Path]) -> dict[str, Entry]:
    """Every ticker the files under ``paths`` offer (headers only are read)."""
    entries: dict[str, Entry] = {}
    for path in paths:
        for file in _csv_files(path):
            for entry in _entries(file):
                if entry.ticker in entries:
                    other = entries[entry.ticker].path
                    raise DataError(
                        f"ticker found in two files ({other} and {file})",
                        file=str(file),
                        key=entry.ticker,
                    )
                entries[entry.ticker] = entry
    return entries


def _csv_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
        if not files:
            raise DataError("folder holds no .csv files", file=str(path))
        return files
    if path.exists():
        return [path]  # read_header refuses what is not a regular file
    raise DataError("no such file or folder", file=str(path))


def _entries(file: Path) -> list[Entry]:
    layout, header = detect(file)
    if layout is Layout.YAHOO:
        return [Entry(file.stem, file, layout, _kind_of(file.stem))]
    if layout is Layout.FRED:
        return [Entry(file.stem, file, layout, SeriesKind.RATE)]
    if layout is Layout.YAHOO_MULTI:
        tickers = read_header(file)[1]
        closes = [t for c, t in zip(header, tickers, strict=False) if c == "Close"]
        if not closes:
            raise DataError(
                "no Close columns", file=str(file), key="header", value=",".join(header)
            )
        return [Entry(t, file, layout, _kind_of(t)) for t in closes]
    rates = file.stem.lower().startswith("rates")
    return [
        Entry(name, file, layout, SeriesKind.RATE if rates else _kind_of(name))
        for name in header[1:]
    ]


def _listing(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in all)"


def _kind_of(ticker: str) -> SeriesKind:
    return SeriesKind.RATE if ticker.upper() in YIELD_TICKERS else SeriesKind.PRICE


def read_series(entry: Entry) -> RawSeries:
    """Read one ticker's observations from its file (dates and numbers checked)."""
    origin = str(entry.path)
    try:
        if entry.layout is Layout.YAHOO_MULTI:
            table = pd.read_csv(
                io.StringIO(read_text(entry.path, error=DataError)),
                header=[0, 1],
                skiprows=[2],
                dtype=str,
                keep_default_na=False,
            )
            dates, column = table.iloc[:, 0], table[("Close", entry.ticker)]
            date_name, header_lines = "Date", 3
        else:
            text = io.StringIO(read_text(entry.path, error=DataError))
            table = pd.read_csv(text, dtype=str, keep_default_na=False)
            table.columns = [str(c).strip() for c in table.columns]
            value_col = "Close" if entry.layout is Layout.YAHOO else entry.ticker
            dates, column = table.iloc[:, 0], table[value_col]
            date_name, header_lines = str(table.columns[0]), 1
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"malformed CSV: {' '.join(str(exc).split())}", file=origin) from None
    except KeyError:
        raise DataError("column not found in the file", file=origin, key=entry.ticker) from None
    if table.empty:
        raise DataError("no data rows under the header", file=origin, key=entry.ticker)
    index = parse_dates(dates, origin=origin, column=date_name, header_lines=header_lines)
    values = parse_numbers(column, index, origin=origin, ticker=entry.ticker)
    if entry.layout is Layout.FRED:
        values = values.dropna()
    return RawSeries(entry.ticker, values, origin, entry.kind)


class CsvProvider(ServedBy):
    """Prices and rates from CSV files (see the module docstring for the layouts)."""

    name = "csv"

    def __init__(self, paths: Sequence[str | Path], *, policy: ValidationPolicy | None = None):
        self.paths = tuple(Path(p).expanduser() for p in paths)
        self.policy = policy or ValidationPolicy()
        self.source = "csv:" + ",".join(str(p) for p in paths)
        self._catalog: dict[str, Entry] | None = None

    @property
    def entries(self) -> dict[str, Entry]:
        if self._catalog is None:
            self._catalog = catalog(self.paths)
        return self._catalog

    def available(self) -> list[str]:
        return sorted(self.entries)

    def available_rates(self) -> list[str]:
        """The subset of :meth:`available` that are rate series (percent)."""
        return sorted(t for t, e in self.entries.items() if e.kind is SeriesKind.RATE)

    def _serve(
        self,
        tickers: Sequence[str],
        start: dt.date | None,
        end: dt.date | None,
        kind: SeriesKind,
    ) -> PriceData:
        request = Request(tuple(tickers), start, end)
        request.check(self.source)
        raws = [read_series(self._entry(t, kind)) for t in request.tickers]
        return assemble(raws, request, self.policy, source=self.source)

    def _entry(self, ticker: str, kind: SeriesKind) -> Entry:
        entry = self.entries.get(ticker)
        if entry is None:
            folded = {t.upper(): e for t, e in self.entries.items()}
            entry = folded.get(ticker.upper())
        if entry is None:
            raise DataError(
                f"no file or column for this ticker; available: {_listing(self.available())}",
                file=self.source,
                key="ticker",
                value=ticker,
            )
        if entry.kind is not kind:
            use = "rates" if entry.kind is SeriesKind.RATE else "prices"
            raise DataError(
                f"is a {entry.kind.value} series; ask for it among the {use}",
                file=str(entry.path),
                key="ticker",
                value=ticker,
            )
        return entry

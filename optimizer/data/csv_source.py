"""``csv:PATH`` — prices and rates from CSV files, layout detected per file.

Layouts (detected from the header):

* **yahoo** — ``Date,Close,High,Low,Open,Volume`` (one ticker, the file stem): ``Close``
  is used (yfinance's ``auto_adjust=True`` close, already adjusted; ``Adj Close`` when the
  file has one).
* **yahoo-multi** — what yfinance and its users write: header lines of price fields and of
  tickers, in any order, with or without ``Price``/``Ticker`` labels and a ``Date`` row
  (:mod:`optimizer.data.csv_layout`); one close column per ticker.
* **fred** — ``observation_date,SERIES``: blanks (holidays) are dropped; rates in percent.
* **wide** — a date column (``date``, ``Date``, ``DATE``, ``timestamp``) and one column
  per ticker. Files whose stem starts with ``rates`` hold rates in percent.

Each file is read and parsed once per process while it is unchanged (its dates once, each
column once), however many tickers and providers ask for it.

``PATH`` is a file or a folder of ``*.csv`` files; several are joined with commas
(``csv:prices_dir,rates_dir``). Yield tickers (``^TNX``, ``^FVX``, ``^IRX``, ``^TYX``) and
FRED files are rates; every other column is a price.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from optimizer.data.align import Request, assemble
from optimizer.data.base import PriceData, ServedBy
from optimizer.data.csv_layout import (
    MAX_HEADER_LINES,
    FileLayout,
    Layout,
    detect_rows,
    field,
    separators,
    split_rows,
)
from optimizer.data.validate import (
    BLANKS,
    RawSeries,
    SeriesKind,
    ValidationPolicy,
    parse_dates,
    parse_numbers,
)
from optimizer.errors import DataError
from optimizer.files import read_text

YIELD_TICKERS = frozenset({"^TNX", "^FVX", "^IRX", "^TYX"})
MAX_FILES = 256  # parsed files kept per process (least recently used dropped first)


@dataclass(frozen=True)
class Entry:
    """Where one ticker lives: file, layout and the column of its values."""

    ticker: str
    path: Path
    layout: Layout
    kind: SeriesKind
    column: int = 1  # position of the value column in each row


class _ParsedFile:
    """One file, read once: its text, layout, cell table, dates and the series asked for."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        lines = text.splitlines()[: MAX_HEADER_LINES + 8]
        self.sep, self.layout = _layout(lines, str(path))
        # physical lines down to the last header line (blank lines before it count)
        seen, self.skip = 0, 0
        while seen < self.layout.header_lines and self.skip < len(lines):
            seen += bool(lines[self.skip].strip())
            self.skip += 1
        self._table: pd.DataFrame | None = None
        self._dates: pd.DatetimeIndex | None = None
        self.series: dict[int, pd.Series] = {}

    def table(self) -> pd.DataFrame:
        if self._table is None:
            try:
                # dates as text; numbers by the C parser (a column with text stays text
                # and is checked, with its line, by parse_numbers)
                table = pd.read_csv(
                    io.StringIO(self.text),
                    sep=self.sep,
                    header=None,
                    skiprows=self.skip,
                    # beside anything but commas, 2.466 may be 2466: numbers read as text
                    dtype={0: str} if self.sep == "," else str,
                    na_values=list(BLANKS),
                    keep_default_na=False,
                    skip_blank_lines=True,
                )
            except pd.errors.EmptyDataError:
                table = pd.DataFrame()
            except (pd.errors.ParserError, ValueError) as exc:
                text = " ".join(str(exc).split())
                raise DataError(f"malformed CSV: {text}", file=str(self.path)) from None
            table = table.dropna(how="all")  # rows of commas only (a spreadsheet's tail)
            self._check_width(table)
            self._table = table
            self.text = ""  # parsed: the table is all that is needed from now on
        return self._table

    def _check_width(self, table: pd.DataFrame) -> None:
        """Every row as wide as the header: a row with more values is misread whatever
        column is taken (``2024-01-02,4,638.93`` under ``date,SPX``: a thousands separator)."""
        width = len(self.layout.header)
        if table.shape[1] <= width:
            return
        extra = table.iloc[:, width:].notna().any(axis=1).to_numpy()
        if not extra.any():
            return
        row = table.iloc[int(extra.argmax())]
        cells = self.sep.join("" if pd.isna(c) else str(c) for c in row.to_numpy())
        raise DataError(
            f"a row has more values than the header's {width} columns",
            file=str(self.path),
            key=f"row {row.iloc[0]}",
            value=cells.rstrip(self.sep),
            hint='quote values with commas (1,234.5 as "1,234.5"), or drop thousands separators',
        )

    def dates(self) -> pd.DatetimeIndex:
        if self._dates is None:
            dates = parse_dates(
                self.table().iloc[:, 0],
                origin=str(self.path),
                column=self.layout.date_name,
                header_lines=self.skip,
            )
            if len(dates) > 1 and dates.is_monotonic_decreasing and dates.is_unique:
                # newest first, as Nasdaq.com and Investing.com write: the same rows, reversed
                self._table = self.table().iloc[::-1]
                dates = dates[::-1]
            self._dates = dates
        return self._dates

    def values(self, column: int, ticker: str) -> pd.Series:
        """The numbers of one column (parsed once), NaN for blanks."""
        if column not in self.series:
            table = self.table()
            if table.empty:
                raise DataError("no data rows under the header", file=str(self.path), key=ticker)
            index = self.dates()
            table = self.table()  # in date order
            raw = table.iloc[:, column] if column < table.shape[1] else None
            if raw is None:
                raise DataError("column not found in the file", file=str(self.path), key=ticker)
            self.series[column] = parse_numbers(
                raw, index, origin=str(self.path), ticker=ticker, sep=self.sep
            )
        return self.series[column]


def _layout(lines: list[str], origin: str) -> tuple[str, FileLayout]:
    """The separator and layout of a file whose first lines are ``lines``: the first
    separator (most likely first) under which the header is a known layout; else the
    most likely one's error."""
    failed: list[DataError] = []
    for sep in separators(lines):
        try:
            return sep, detect_rows(split_rows(lines, origin, sep), origin)
        except DataError as exc:
            failed.append(exc)
    raise failed[0]


_FILES: OrderedDict[tuple[str, int, int], _ParsedFile] = OrderedDict()


def parsed(path: Path) -> _ParsedFile:
    """The file at ``path``, read and parsed once per process while it is unchanged."""
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", file=str(path)) from None
    hit = _FILES.get(key)
    if hit is not None:
        _FILES.move_to_end(key)
        return hit
    got = _ParsedFile(path, read_text(path, error=DataError))  # regular files, size-limited
    _FILES[key] = got
    while len(_FILES) > MAX_FILES:
        _FILES.popitem(last=False)
    return got


def detect(path: Path) -> tuple[Layout, list[str]]:
    """The layout of a file and its first header line; no layout matching is a DataError."""
    layout = parsed(path).layout
    return layout.layout, list(layout.header)


def catalog(paths: Sequence[Path]) -> dict[str, Entry]:
    """Every ticker the files under ``paths`` offer."""
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
        return [path]  # read_text refuses what is not a regular file
    raise DataError("no such file or folder", file=str(path))


def _entries(file: Path) -> list[Entry]:
    found = parsed(file).layout
    layout = found.layout
    if layout is Layout.FRED:
        return [
            Entry(file.stem, file, layout, SeriesKind.RATE, found.columns[t]) for t in found.columns
        ]
    rates = layout is Layout.WIDE and file.stem.lower().startswith("rates")
    out = []
    for name, column in found.columns.items():
        ticker = name or file.stem  # one-ticker yahoo files are named by their stem
        kind = SeriesKind.RATE if rates else _kind_of(ticker)
        out.append(Entry(ticker, file, layout, kind, column))
    return out


def _listing(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in all)"


def _kind_of(ticker: str) -> SeriesKind:
    return SeriesKind.RATE if ticker.upper() in YIELD_TICKERS else SeriesKind.PRICE


def read_series(entry: Entry) -> RawSeries:
    """One ticker's observations from its file (dates and numbers checked; the file is
    read and its dates parsed once per process, each column once)."""
    file = parsed(entry.path)
    values = file.values(entry.column, entry.ticker)
    if entry.layout is Layout.YAHOO and values.isna().all():  # an Adj Close left empty
        names = [field(c) for c in file.layout.header]
        if "Close" in names[1:] and names.index("Close", 1) != entry.column:
            values = file.values(names.index("Close", 1), entry.ticker)
    values = values.rename(entry.ticker)
    if entry.layout is Layout.FRED:
        values = values.dropna()
    return RawSeries(entry.ticker, values, str(entry.path), entry.kind)


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
            if entry is not None:  # the series is named as asked (a file's "spy" is SPY)
                entry = dataclasses.replace(entry, ticker=ticker)
        if entry is None:
            raise DataError(
                f"no file or column for this ticker; available: {_listing(self.available())}",
                file=self.source,
                key="ticker",
                value=ticker,
            )
        if entry.kind is not kind:
            use = "rates" if entry.kind is SeriesKind.RATE else "prices"
            header = parsed(entry.path).layout.header
            hint = None
            if header[0] == "DATE" and entry.layout is Layout.FRED:
                hint = "a file headed DATE,SERIES is FRED's layout (a rate in percent); "
                hint += "head the date column Date for prices"
            elif header[0] == "DATE" and len(header) == 2 and kind is SeriesKind.RATE:
                hint = f"a FRED download (DATE,{header[1]}) is read as FRED's in a file "
                hint += f"named for its series: rename it {header[1]}.csv"
            raise DataError(
                f"is a {entry.kind.value} series; ask for it among the {use}",
                file=str(entry.path),
                key="ticker",
                value=ticker,
                hint=hint,
            )
        return entry

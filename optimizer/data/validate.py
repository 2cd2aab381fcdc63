"""Checks every series passes before it reaches the pipeline.

Each failure is a one-line ``DataError`` naming the file (or source), the ticker and the
dates involved. Parsing checks (dates, numbers) run when a file is read; the checks that
need a policy (forward-fill bound, staleness, future dates) run when series are aligned
(:mod:`optimizer.data.align`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd

from optimizer.data.frequency import Frequency
from optimizer.errors import DataError
from optimizer.limits import MAX_PRICE, MAX_RATE_PCT, MIN_PRICE

_ISO_DAY = r"^(\d{4}-\d{2}-\d{2})(?:[ T].*)?$"
# a blank cell, or a marker of a missing observation: a gap the forward-fill may bridge.
# A literal ``nan`` is not among them: like ``inf`` it is a number gone wrong, an error.
BLANKS = ("", ".", "NA", "N/A", "null", "None")


class SeriesKind(Enum):
    """Prices must be positive; rates (percent) may be zero or negative."""

    PRICE = "price"
    RATE = "rate"


@dataclass(frozen=True)
class RawSeries:
    """One ticker's observations as read from its source, before alignment.

    ``values`` is a float Series on a sorted, unique DatetimeIndex; NaN marks a blank.
    """

    ticker: str
    values: pd.Series  # (n_obs,) float, DatetimeIndex
    origin: str  # the file or source it came from
    kind: SeriesKind = SeriesKind.PRICE


@dataclass(frozen=True)
class ValidationPolicy:
    """How strict alignment is: forward-fill bound, staleness limit, the date of today."""

    max_ffill: int = 5  # consecutive missing observations a forward-fill may bridge
    stale_after_days: int = 30  # a series ending this long before the others is stale
    today: dt.date | None = None  # None: today's date (UTC); dates after it are errors

    def today_or_now(self) -> dt.date:
        return self.today or dt.datetime.now(dt.UTC).date()


def parse_dates(
    raw: pd.Series, *, origin: str, column: str, header_lines: int = 1
) -> pd.DatetimeIndex:
    """``YYYY-MM-DD`` date strings -> DatetimeIndex (midnight); sorted and unique, or
    all newest first (the caller reverses the rows).

    A time or UTC offset after the date (``2024-03-01 00:00:00-05:00``, as pandas writes
    tz-aware indexes) is ignored: the date as written is the trading day. A column written
    in one other order throughout (``03/01/2024``, ``01.03.2024``, ``2024/03/01``,
    ``20240301``) is read when one order alone gives valid dates in sequence: month/day or
    day/month is decided by the whole column (a 13th or later day, or the rows' order),
    and a column both read alike is an error. Anything else (``2024-13-01``) raises
    DataError naming the file, the column and the line; duplicated or out-of-order dates
    too.
    """
    text = raw.astype("string").str.strip()
    day = text.str.extract(_ISO_DAY, expand=False)
    parsed = pd.to_datetime(day, errors="coerce", format="%Y-%m-%d")
    bad = parsed.isna().to_numpy()
    if bad.any():
        written, miss = _written_dates(text, origin=origin, column=column)
        if written is not None:
            parsed, bad = written, np.zeros(len(text), dtype=bool)
        elif miss is not None:  # the line the column's own order cannot read
            bad = np.arange(len(text)) == miss
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        value = text.iloc[pos]
        other = _a_date(str(value)) if value is not pd.NA else False
        raise DataError(
            f"{'a date written another way than the column' if other else 'not a date'} on "
            f"line {pos + 1 + header_lines}",
            file=origin,
            key=column,
            value="" if value is pd.NA else str(value),
            hint="write every date of the column one way, best YYYY-MM-DD"
            if other
            else "use YYYY-MM-DD",
        )
    index = pd.DatetimeIndex(parsed)
    if not (len(index) > 1 and index.is_monotonic_decreasing and index.is_unique):
        check_dates(index, origin=origin, ticker=column)  # newest first: the caller reverses
    return index


_DATE_ORDERS = (
    ("%m/%d/%Y", "month/day/year"),
    ("%d/%m/%Y", "day/month/year"),
    ("%d.%m.%Y", "day.month.year"),
    ("%Y/%m/%d", "year/month/day"),
    ("%d-%m-%Y", "day-month-year"),
    ("%m-%d-%Y", "month-day-year"),
    ("%Y%m%d", "yearmonthday"),
)


def _written_dates(
    text: pd.Series, *, origin: str, column: str
) -> tuple[pd.Series | None, int | None]:
    """The column read in the one date order of :data:`_DATE_ORDERS` that gives valid,
    distinct dates in sequence (oldest or newest first), else None; and, when no order
    reads it all, the first cell the order reading most of it (more than ``YYYY-MM-DD``
    does) cannot read."""
    token = text.str.extract(r"^(\S+?)(?:[ T].*)?$", expand=False)
    reads, best = [], (int(text.str.match(_ISO_DAY).fillna(False).sum()), None)
    for fmt, words in _DATE_ORDERS:
        got = pd.to_datetime(token, errors="coerce", format=fmt)
        missed = got.isna().to_numpy()
        if missed.any():
            if len(text) - missed.sum() > best[0]:
                best = (len(text) - int(missed.sum()), int(np.flatnonzero(missed)[0]))
            continue
        reads.append((got, words))
    # of the orders that read every cell, those that keep the rows in sequence; one order
    # alone reading every cell is the column's, rows repeated or out of order (reported
    # as such by the caller's checks)
    fits = [(got, words) for got, words in reads if _in_sequence(pd.DatetimeIndex(got))]
    if len(reads) == 1:
        fits = reads
    if len(fits) > 1 or (not fits and len(reads) > 1):
        both = fits if len(fits) > 1 else reads
        raise DataError(
            f"dates read alike as {both[0][1]} and as {both[1][1]}",
            file=origin,
            key=column,
            value=str(text.iloc[0]),
            hint="use YYYY-MM-DD",
        )
    return (fits[0][0] if fits else None), best[1]


def _a_date(cell: str) -> bool:
    """Whether ``cell`` is a date in one of the ways :func:`parse_dates` reads."""
    token = cell.strip().split(" ")[0].split("T")[0]
    formats = ("%Y-%m-%d", *(fmt for fmt, _ in _DATE_ORDERS))
    return any(not pd.isna(pd.to_datetime(token, errors="coerce", format=f)) for f in formats)


def _in_sequence(index: pd.DatetimeIndex) -> bool:
    return index.is_unique and (index.is_monotonic_increasing or index.is_monotonic_decreasing)


def check_dates(index: pd.DatetimeIndex, *, origin: str, ticker: str) -> None:
    """Duplicate or unsorted dates are errors naming the first offending date."""
    dup = index.duplicated()
    if dup.any():
        raise DataError(
            "duplicated date",
            file=origin,
            key=ticker,
            value=_iso(index[dup][0]),
            hint="each date must appear once",
        )
    if not index.is_monotonic_increasing:
        pos = int(np.flatnonzero(np.diff(index.values.astype(np.int64)) < 0)[0]) + 1
        raise DataError(
            f"dates not sorted: {_iso(index[pos])} comes after {_iso(index[pos - 1])}",
            file=origin,
            key=ticker,
            value=_iso(index[pos]),
            hint="sort the rows by date",
        )


def parse_numbers(
    raw: pd.Series, index: pd.DatetimeIndex, *, origin: str, ticker: str, sep: str = ","
) -> pd.Series:
    """Numeric column -> float Series on ``index``; blanks become NaN, text is an error.

    Numbers as sites and spreadsheets write them are read too: a currency sign before or
    after (``$683.39``, ``683,39 €``) and thousands separators, by the one convention
    every cell of the column fits: ``4,638.93`` (comma groups, point decimal) or
    ``4.638,93`` / ``4 638,93`` (point or space groups, comma decimal). When both fit every
    cell (``1.000`` or ``24.380``: a thousand or one point something) and read it
    differently, the reading without a jump of ten times decides (``991``, ``1.000``,
    ``1.012`` is 991, 1000, 1012); when neither has one, a comma beside semicolons is a
    decimal comma (``3,950`` is 3.95), and otherwise (``24.380`` throughout: 24.38 or
    24380 move alike) the column is refused, naming a cell and both readings. Percent
    signs and cells no convention reads are errors naming the first one. Beside anything
    but commas every column is read this way (``2.466`` may be 2466 there)."""
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        return pd.Series(raw.to_numpy(dtype=float), index=index, name=ticker)
    text = raw.astype("string").str.strip()
    blank = text.isna() | text.isin(BLANKS)
    numbers = pd.to_numeric(text.where(~blank), errors="coerce") if sep == "," else None
    if numbers is None or (numbers.isna() & ~blank).any():
        numbers, both = _written_numbers(text, blank, sep)
        if both is not None:
            raise DataError(
                f"numbers such as {both[0]} read as {both[1]:g} or as {both[2]:g}",
                file=origin,
                key=ticker,
                value=both[0],
                hint="write them without thousands separators, or with a decimal part that "
                "is not three digits long (2466.00, 2.466,00 or 24.38)",
            )
    bad = numbers.isna() & ~blank
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        value = str(text.iloc[pos])
        raise DataError(
            f"not a number on {_iso(index[pos])}",
            file=origin,
            key=ticker,
            value=value,
            hint=_number_hint(value),
        )
    return pd.Series(numbers.to_numpy(dtype=float), index=index, name=ticker)


_GROUPED_POINT = r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$"
_GROUPED_COMMA = r"^[-+]?(?:\d{1,3}(?:\.\d{3})+|\d*)(?:,\d+)?$"


def _written_numbers(
    text: pd.Series, blank: pd.Series, sep: str
) -> tuple[pd.Series, tuple[str, float, float] | None]:
    """The cells of ``text`` read by the convention they all fit (see
    :func:`parse_numbers`), else by the one most fit; NaN where a cell does not fit it.
    Second: when both conventions read every cell, differently, and the column's own
    moves do not tell them apart, the first such cell and its two readings (the caller
    refuses the column rather than guess)."""
    cells = text.where(~blank).str.strip("$€£¥ ").str.replace(r"[ \u00a0\u202f]", "", regex=True)
    cells = cells.where(cells.str.contains(r"\d", regex=True))  # "$" alone is no number
    point = cells.str.match(_GROUPED_POINT).fillna(False).astype(bool)
    comma = cells.str.match(_GROUPED_COMMA).fillna(False).astype(bool)
    as_point = pd.to_numeric(cells.where(point).str.replace(",", "", regex=False), errors="coerce")
    as_comma = cells.where(comma).str.replace(".", "", regex=False)
    as_comma = pd.to_numeric(as_comma.str.replace(",", ".", regex=False), errors="coerce")
    n_point, n_comma, n = int(point.sum()), int(comma.sum()), int(cells.notna().sum())
    if n_point == n_comma == n:  # every cell reads both ways
        differ = (as_point != as_comma) & cells.notna()
        if not differ.any():
            return as_point, None
        smoother = _smoother(as_point, as_comma)
        if smoother is not None:
            return smoother, None
        if sep == ";" and not cells[differ].str.contains(".", regex=False).any():
            return as_comma, None  # 3,950 beside semicolons: a decimal comma, by custom
        i = int(np.flatnonzero(differ.to_numpy())[0])
        return as_point, (str(text.iloc[i]), float(as_point.iloc[i]), float(as_comma.iloc[i]))
    return (as_comma if n_comma > n_point else as_point), None


def _smoother(a: pd.Series, b: pd.Series) -> pd.Series | None:
    """Of two readings of one column, the one whose largest step is at least ten times
    smaller (``991``, ``1.000``, ``1.012``: 991, 1000, 1012 rather than 991, 1.0, 1.012);
    None when neither is (``24.380`` throughout: 24.38 or 24380, the same moves)."""
    steps = []
    for x in (a.dropna().to_numpy(), b.dropna().to_numpy()):
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.abs(np.diff(np.log(x))) if len(x) > 1 and (x > 0).all() else np.array([])
        steps.append(float(r.max()) if r.size and np.isfinite(r).all() else None)
    if steps[0] is None or steps[1] is None:
        return None
    if steps[0] + np.log(10) <= steps[1]:
        return a
    if steps[1] + np.log(10) <= steps[0]:
        return b
    return None


def _number_hint(value: str) -> str | None:
    if "%" in value:
        return "write plain numbers: no percent signs"
    if any(c in value for c in "$€£¥,."):
        return (
            "write plain numbers: one decimal mark, thousands grouped the same way in every "
            "cell of the column"
        )
    if value.strip("-–—#/ ").upper() in ("", "N/A", "NA", "NAN"):
        return "leave a missing value blank"
    return None


def check_values(series: RawSeries) -> None:
    """Prices finite and within ``[MIN_PRICE, MAX_PRICE]``; rates finite and within
    ``±MAX_RATE_PCT`` percent (docs/limits.md)."""
    v = series.values.dropna()
    x = v.to_numpy()
    finite = np.isfinite(x)
    with np.errstate(invalid="ignore"):
        if series.kind is SeriesKind.PRICE:
            outside = finite & (x > 0) & ((x < MIN_PRICE) | (x > MAX_PRICE))
            bad = ~finite | (x <= 0) | outside
        else:
            outside = finite & (np.abs(x) > MAX_RATE_PCT)
            bad = ~finite | outside
    if not bad.any():
        return
    pos = int(np.flatnonzero(bad)[0])
    if not finite[pos]:
        what = "non-finite value"
    elif outside[pos]:
        low, high = (MIN_PRICE, MAX_PRICE) if series.kind is SeriesKind.PRICE else (
            -MAX_RATE_PCT, MAX_RATE_PCT)  # fmt: skip
        what = f"{series.kind.value} outside the documented bounds [{low:g}, {high:g}]"
    else:
        what = "non-positive price"
    raise DataError(
        f"{what} on {_iso(v.index[pos])}",
        file=series.origin,
        key=series.ticker,
        value=float(x[pos]),
        hint="see docs/limits.md" if outside[pos] else None,
    )


def check_not_future(series: RawSeries, today: dt.date) -> None:
    """A date after today is an error (a typo or a clock problem)."""
    last = series.values.index.max()
    if pd.notna(last) and last.date() > today:
        raise DataError(
            f"date in the future (today is {today.isoformat()})",
            file=series.origin,
            key=series.ticker,
            value=_iso(last),
        )


def missing_periods(index: pd.DatetimeIndex, freq: Frequency) -> np.ndarray:
    """Missing observations between consecutive dates, on the series' own calendar.

    Business days for daily data, weeks for weekly, months for monthly. Returns an int
    array of shape (len(index) - 1,).
    """
    if len(index) < 2:
        return np.zeros(0, dtype=int)
    days = index.values.astype("datetime64[D]")
    if freq is Frequency.DAILY:
        steps = np.busday_count(days[:-1], days[1:])
    elif freq is Frequency.WEEKLY:
        steps = np.rint(np.diff(days.astype(np.int64)) / 7.0).astype(int)
    else:
        months = days.astype("datetime64[M]").astype(np.int64)
        steps = np.diff(months)
    return np.maximum(steps - 1, 0)


def check_gaps(series: RawSeries, freq: Frequency, max_ffill: int) -> tuple[int, int]:
    """Gaps (blank values or absent periods) beyond ``max_ffill`` are errors.

    Returns ``(missing, longest)``: total missing observations and the longest run.
    """
    valid = series.values.dropna().index
    gaps = missing_periods(valid, freq)
    if gaps.size == 0:
        return 0, 0
    worst = int(np.argmax(gaps))
    if gaps[worst] > max_ffill:
        raise DataError(
            f"{int(gaps[worst])} missing {freq.value} observations between "
            f"{_iso(valid[worst])} and {_iso(valid[worst + 1])}",
            file=series.origin,
            key=series.ticker,
            value=int(gaps[worst]),
            hint=f"forward-fill bridges at most {max_ffill}; raise [data] max_ffill to allow "
            "more (an exchange closed longer, as for Golden Week or Lunar New Year, needs it)",
        )
    return int(gaps.sum()), int(gaps[worst])


def require_history(frame: pd.DataFrame, periods: int, what: str) -> None:
    """Raise DataError unless ``frame`` has at least ``periods`` rows of data.

    Parameters
    ----------
    frame:
        DataFrame of shape (n_dates, n_tickers), e.g. ``PriceData.frame`` or returns.
    periods:
        Observations needed (at the frame's own frequency).
    what:
        What needs them, for the message ("a 60-month factor regression").
    """
    rows = frame.dropna(how="all")
    if len(rows) >= periods:
        return
    span = f"{_iso(rows.index[0])}..{_iso(rows.index[-1])}" if len(rows) else "no dates"
    tickers = ",".join(str(c) for c in frame.columns)
    raise DataError(
        f"history too short for {what}: needs {periods} observations, has {len(rows)} ({span})",
        key=tickers or None,
        hint="choose an earlier start date or a shorter window",
    )


SPLIT_RATIOS = (2, 3, 4, 5, 6, 7, 8, 10, 15, 20, 25, 30, 40, 50, 100)
# p-for-q splits of whole shares that are not k-for-1: (p, q)
FRACTIONAL_SPLITS = ((3, 2), (4, 3), (5, 4), (5, 3), (7, 4), (5, 2), (7, 2))
_CALM = 0.03  # a day's move of the other series, in absolute value, below which it is calm
_HUGE = 20.0  # a step of this many robust standard deviations and at least -44 % or +80 %


def split_suspects(
    series: RawSeries,
    tolerance: float = 0.02,
    *,
    moves: pd.DataFrame | None = None,
    within: tuple[pd.Timestamp, pd.Timestamp] | None = None,
) -> list[str]:
    """Warnings for one-step moves of a price series that look like a split the closes
    are not adjusted for: the price divided (a k-for-1 split) or multiplied (a 1-for-k
    reverse split) by a usual ratio k, within ``tolerance``. Such a step turns into a
    -90 % return in every estimate, yet each value is a valid price.

    A p-for-q split (3-for-2: -33.3 %, 5-for-4: -20 %) is a move a market can also make,
    so it is flagged only as a step of at least ten times the series' own typical move
    (a robust standard deviation of its other returns within 125 steps), on a day the
    other price series were calm (their median absolute return under 3 %; ``moves``: the
    absolute returns of every price series, from :func:`daily_moves`), within 2 % of the
    ratio; a series alone, whose market is unknown, within 0.5 %. A step of -44 % or
    less, or +80 % or more, of at least twenty typical moves is flagged whatever its ratio
    (named as the split within 15 %, else as a split or a wrong price). ``within``: only steps
    on these dates (first, last) are reported; the typical move is the whole series'."""
    if series.kind is not SeriesKind.PRICE:
        return []
    v = series.values.dropna()
    x = v.to_numpy(dtype=float)
    if len(x) < 2:
        return []
    q = x[1:] / x[:-1]
    out = []
    for i in np.flatnonzero((q <= 0.86) | (q >= 1.8)):
        if within is not None and not within[0] <= v.index[i + 1] <= within[1]:
            continue
        kind = _split_kind(float(q[i]), tolerance)
        if kind is None and q[i] <= 0.86 and _outlier(q, i):
            calm = _calm(moves, series.ticker, v.index[i + 1])
            if calm is not False:
                kind = _split_kind(float(q[i]), tolerance if calm else 0.005, FRACTIONAL_SPLITS)
        if kind is None and (q[i] <= 1 / 1.8 or q[i] >= 1.8) and _outlier(q, i, times=_HUGE):
            # a split on a day the market moved too (1-for-10 on a +3 % day: x10.3), or a
            # move no fund makes in a day, whatever the ratio
            kind = _split_kind(float(q[i]), 0.15) or "a split or a wrong price"
        if kind is None:
            continue
        out.append(
            f"{series.ticker}: the close goes from {x[i]:,.4g} to {x[i + 1]:,.4g} on "
            f"{_iso(v.index[i + 1])} ({q[i] - 1:+.1%}), like {kind} the prices are not "
            "adjusted for: every return and risk estimate takes it as a real move; use "
            "split-adjusted closes (Adj Close)"
        )
    return out


def rate_suspects(series: RawSeries) -> list[str]:
    """A warning for a rate series (read in percent) whose every value over a year or more
    lies within +-0.25: most likely fractions (0.0405 for 4.05 %), which read as rates, and
    rate moves, a hundred times too small. Yields of such a size for years on end happened
    only for short bills near zero (2009-2015), so this is a warning, not an error."""
    if series.kind is not SeriesKind.RATE:
        return []
    v = series.values.dropna()
    if len(v) < 2 or (v.index[-1] - v.index[0]).days < 365:
        return []
    top = float(v.abs().max())
    if top >= 0.25:
        return []
    return [
        f"{series.ticker}: every value from {_iso(v.index[0])} to {_iso(v.index[-1])} lies "
        f"within +-{top:.3g}: rates are read in percent (4.05 = 4.05 %); if the file holds "
        "fractions (0.0405), every rate and rate move is 100 times too small: multiply it "
        "by 100"
    ]


def _split_kind(
    q: float, tolerance: float, splits: Sequence[tuple[int, int]] | None = None
) -> str | None:
    """The split that turns a close into ``q`` times itself (within ``tolerance``): one of
    ``splits`` (p-for-q), or by default a k-for-1 or 1-for-k of :data:`SPLIT_RATIOS`."""
    if splits is not None:
        for new, old in splits:
            if abs(q * new / old - 1.0) <= tolerance:
                return f"a {new}-for-{old} split"
        return None
    for k in SPLIT_RATIOS:
        if abs(q * k - 1.0) <= tolerance:
            return f"a {k}-for-1 split"
        if abs(q / k - 1.0) <= tolerance:
            return f"a 1-for-{k} reverse split"
    return None


def _outlier(q: np.ndarray, i: int, reach: int = 125, times: float = 10.0) -> bool:
    """Whether step ``i`` of the price ratios ``q`` is at least ``times`` the series' own
    robust standard deviation (median absolute log return / 0.6745) of the other steps
    within ``reach`` (at least 60 of them: a few calm weeks are no measure of a series)."""
    near = np.log(np.concatenate([q[max(i - reach, 0) : i], q[i + 1 : i + 1 + reach]]))
    near = near[np.isfinite(near)]
    if near.size < 60:
        return False
    sigma = float(np.median(np.abs(near))) / 0.6745
    return abs(float(np.log(q[i]))) >= times * max(sigma, 1e-6)


def _calm(moves: pd.DataFrame | None, ticker: str, day: pd.Timestamp) -> bool | None:
    """Whether the other price series were calm on ``day``; None when unknown (a series
    alone, or a day none of the others has)."""
    if moves is None or day not in moves.index:
        return None
    others = moves.loc[day].drop(labels=[ticker], errors="ignore").dropna()
    return None if others.empty else float(others.median()) < _CALM


def daily_moves(raws: Sequence[RawSeries]) -> pd.DataFrame | None:
    """The absolute one-step returns of every price series of ``raws`` (dates x tickers,
    each on its own dates), for :func:`split_suspects`; None with fewer than two."""
    prices = {r.ticker: r.values.dropna() for r in raws if r.kind is SeriesKind.PRICE}
    if len(prices) < 2:
        return None
    return pd.concat({t: v.pct_change().abs() for t, v in prices.items()}, axis=1)


def _iso(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).date().isoformat()


def check_price_frame(prices: pd.DataFrame, *, origin: str = "the price frame") -> pd.DataFrame:
    """A price frame given to the Python API, (n_dates, n_tickers), checked as a file's
    series are: dates (a text index is parsed; newest first is reversed; duplicated or
    shuffled dates are errors), numbers, and each price finite, positive and within bounds.
    Returns the frame on a sorted DatetimeIndex with float columns.

    Raises
    ------
    DataError
        Naming the column (``key``) and the first offending date or value.
    """
    if not isinstance(prices, pd.DataFrame):
        raise DataError("expected a pandas DataFrame of prices", file=origin,
                        value=type(prices).__name__)  # fmt: skip
    index = prices.index
    if not isinstance(index, pd.DatetimeIndex):
        try:
            if pd.api.types.is_numeric_dtype(index):
                raise ValueError
            index = pd.DatetimeIndex(pd.to_datetime(index, format="ISO8601"))
        except (ValueError, TypeError):
            raise DataError(
                "the index must be dates", file=origin, key="index",
                value=str(prices.index[0]) if len(prices.index) else "",
                hint="e.g. pd.read_csv(path, index_col=0, parse_dates=True)",
            ) from None  # fmt: skip
    if index.tz is not None:
        index = index.tz_localize(None)
    if len(index) > 1 and index.is_monotonic_decreasing and index.is_unique:
        prices, index = prices.iloc[::-1], index[::-1]  # newest first, as exports write it
    check_dates(index, origin=origin, ticker="index")
    columns = {}
    for column in prices.columns:
        values = prices[column].set_axis(index)
        numeric = pd.api.types.is_numeric_dtype(values)
        number = values if numeric else pd.to_numeric(values, errors="coerce")
        bad = number.isna() & values.notna()
        if bad.any() or pd.api.types.is_bool_dtype(number):
            raise DataError(
                "not a number", file=origin, key=str(column),
                value=str(values[bad].iloc[0] if bad.any() else values.iloc[0]),
                hint=f"on {_iso(index[bad][0] if bad.any() else index[0])}",
            )  # fmt: skip
        series = number.astype(float)
        if series.isna().all():
            raise DataError("no prices in this column", file=origin, key=str(column))
        check_values(RawSeries(str(column), series, origin))
        columns[column] = series
    return pd.DataFrame(columns, index=index).rename_axis(prices.index.name).__finalize__(prices)

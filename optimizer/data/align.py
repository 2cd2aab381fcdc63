"""Validated raw series -> one aligned frame on the common window, with its provenance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd

from optimizer.data.base import PriceData, Provenance, SeriesCoverage
from optimizer.data.frequency import Frequency, infer_frequency
from optimizer.data.validate import (
    RawSeries,
    ValidationPolicy,
    check_gaps,
    check_not_future,
    check_values,
    daily_moves,
    rate_suspects,
    split_suspects,
)
from optimizer.errors import DataError


@dataclass(frozen=True)
class Request:
    """What a caller asked for: tickers (in order) and an optional date range."""

    tickers: tuple[str, ...]
    start: dt.date | None = None
    end: dt.date | None = None

    def check(self, source: str) -> None:
        if not self.tickers:
            raise DataError("no tickers requested", file=source, key="tickers")
        if self.start and self.end and self.start > self.end:
            raise DataError(
                f"start is after end ({self.end.isoformat()})",
                file=source,
                key="start",
                value=self.start.isoformat(),
            )
        dups = sorted({t for t in self.tickers if self.tickers.count(t) > 1})
        if dups:
            raise DataError("ticker requested twice", file=source, key="tickers", value=dups[0])


def clip(series: RawSeries, request: Request) -> RawSeries:
    """Restrict a series to the requested dates; nothing left is an error."""
    values = series.values
    lo = pd.Timestamp(request.start) if request.start else None
    hi = pd.Timestamp(request.end) if request.end else None
    clipped = values.loc[lo:hi].dropna()
    if clipped.empty:
        valid = values.dropna()
        if valid.empty:
            raise DataError(
                "no values: every row of this series is empty",
                file=series.origin,
                key=series.ticker,
                hint="fill the column or leave the ticker out",
            )
        span = f"{valid.index[0].date()}..{valid.index[-1].date()}"
        raise DataError(
            f"no observations between {_d(request.start)} and {_d(request.end)} "
            f"(the series covers {span})",
            file=series.origin,
            key=series.ticker,
        )
    first, last = clipped.index[0], clipped.index[-1]
    return replace(series, values=values.loc[first:last])


def assemble(
    raws: Sequence[RawSeries],
    request: Request,
    policy: ValidationPolicy,
    *,
    source: str,
    notes: Sequence[str] = (),
    stale: bool = False,
    warnings: Sequence[str] = (),
) -> PriceData:
    """Validate ``raws``, align them to their common window and wrap them as PriceData.

    Each series is checked (values, future dates, gaps beyond ``policy.max_ffill``), the
    series must share one frequency and none may end more than ``policy.stale_after_days``
    before the others. The frame covers the common window (latest first date .. earliest
    last date), forward-filled within the bound; any trimming is reported in ``warnings``.
    """
    today = policy.today_or_now()
    for raw in raws:
        check_values(raw)
        check_not_future(raw, today)
    clipped = [clip(raw, request) for raw in raws]
    freq = _common_frequency(clipped)
    notes = list(notes)
    if freq is Frequency.DAILY:
        clipped, weekend = _weekdays(clipped)
        notes += weekend
    coverage = [_coverage(raw, freq, policy.max_ffill) for raw in clipped]
    check_stale(coverage, policy.stale_after_days)
    first = max(c.first for c in coverage)
    last = min(c.last for c in coverage)
    notes_out = list(warnings)
    if any(c.first != first or c.last != last for c in coverage):
        notes_out.append(_window_warning(coverage, first, last))
    frame, filled = _align(clipped, first, last, policy.max_ffill, freq)
    # a week or month filled is a return of 0 in its place (a day filled is a holiday)
    fills = [] if freq is Frequency.DAILY else [
        _filled_warning(t, dates, freq) for t, dates in filled.items() if len(dates)
    ]  # fmt: skip
    # a step is judged against the whole series' moves, then reported within the window
    moves = daily_moves(raws)
    window = (pd.Timestamp(first), pd.Timestamp(last))
    coverage = [replace(c, filled=len(filled[c.ticker])) for c in coverage]
    provenance = Provenance(
        source=source,
        tickers=tuple(r.ticker for r in raws),
        first=first,
        last=last,
        frequency=freq.value,
        stale=stale,
        notes=tuple(notes),
        warnings=(
            *fills,
            *(w for raw in raws for w in split_suspects(raw, moves=moves, within=window)),
            *(w for raw in raws for w in rate_suspects(raw)),
        ),
    )
    return PriceData(frame, provenance, tuple(notes_out), tuple(coverage))


def _weekdays(raws: Sequence[RawSeries]) -> tuple[list[RawSeries], list[str]]:
    """Daily series kept to five trading days a week: a day of the data is a trading day,
    252 a year. A series quoted six or seven days a week (crypto, some indices) loses its
    Saturday and Sunday rows (a weekday fund beside it would otherwise be forward-filled
    over every weekend: zero returns that lower its volatility and mean; the weekend's
    move stays in Monday's return); a market of its own weekdays (Sunday to Thursday)
    keeps them when every series of five days a week trades on them (alone, or beside
    another such market): beside a Monday-Friday fund its Sunday folds into Monday, as a
    crypto weekend does. A stray weekend row in a weekday series is dropped."""
    regular = [_regular_days(raw.values.dropna().index) for raw in raws]
    keep = {5, 6}
    for days in regular:
        if len(days) <= 5:
            keep &= days
    if all(len(days) > 5 for days in regular):
        keep = set()
    out, notes = [], []
    for raw in raws:
        gone = raw.values.index.day_of_week.isin(sorted({5, 6} - keep))
        n = int((gone & raw.values.notna().to_numpy()).sum())
        if n and raw.values[~gone].notna().any():
            raw = replace(raw, values=raw.values[~gone])
            notes.append(
                f"{raw.ticker}: {n} Saturday/Sunday values dropped (daily data counts five "
                "trading days a week; a weekend's move is in Monday's)"
            )
        out.append(raw)
    return out, notes


def _regular_days(seen: pd.DatetimeIndex) -> set[int]:
    """The days of the week (0 Monday .. 6 Sunday) a series has a value on in at least
    a fifth of its weeks."""
    weeks = max(1, seen.to_period("W").nunique())
    counts = pd.Series(seen.day_of_week).value_counts()
    return {int(d) for d, k in counts.items() if k >= 0.2 * weeks}


def _common_frequency(raws: Sequence[RawSeries]) -> Frequency:
    freqs = {r.ticker: infer_frequency(r.values.dropna().index) for r in raws}
    kinds = set(freqs.values())
    if len(kinds) > 1:
        listing = ", ".join(f"{t} {f.value}" for t, f in freqs.items())
        raise DataError(
            f"series have different frequencies: {listing}",
            key=",".join(freqs),
            hint="request them separately or resample first",
        )
    return kinds.pop()


def _coverage(raw: RawSeries, freq: Frequency, max_ffill: int) -> SeriesCoverage:
    missing, longest = check_gaps(raw, freq, max_ffill)
    valid = raw.values.dropna()
    return SeriesCoverage(
        ticker=raw.ticker,
        origin=raw.origin,
        first=valid.index[0].date(),
        last=valid.index[-1].date(),
        observations=len(valid),
        missing=missing,
        longest_gap=longest,
    )


def check_stale(coverage: Sequence[SeriesCoverage], stale_after_days: int) -> None:
    latest = max(c.last for c in coverage)
    for c in coverage:
        behind = (latest - c.last).days
        if behind > stale_after_days:
            raise DataError(
                f"stale: ends {behind} days before the others (which run to {latest.isoformat()})",
                file=c.origin,
                key=c.ticker,
                value=c.last.isoformat(),
                hint=f"refresh it, drop it, or raise stale_after_days from {stale_after_days}",
            )


def _window_warning(coverage: Sequence[SeriesCoverage], first: dt.date, last: dt.date) -> str:
    spans = ", ".join(f"{c.ticker} {c.first}..{c.last}" for c in coverage)
    return f"aligned to the common window {first}..{last} (series cover {spans})"


def _align(
    raws: Sequence[RawSeries], first: dt.date, last: dt.date, max_ffill: int, freq: Frequency
) -> tuple[pd.DataFrame, dict[str, pd.DatetimeIndex]]:
    lo, hi = pd.Timestamp(first), pd.Timestamp(last)
    cols = {r.ticker: r.values.loc[lo:hi].dropna() for r in raws}
    _check_same_days(cols, {r.ticker: r.origin for r in raws}, freq)
    frame = pd.DataFrame(cols).sort_index()
    holes = frame.isna()
    # a series missing the window's first day carries its last value from before it
    before = {r.ticker: r.values.loc[:lo].dropna().iloc[-1:] for r in raws}
    seed = pd.DataFrame(before).reindex(columns=frame.columns)
    seed = seed[seed.index < lo]
    frame = pd.concat([seed.ffill().iloc[-1:], frame]).ffill(limit=max_ffill).loc[lo:]
    if frame.isna().to_numpy().any():  # guarded by check_gaps; kept as a safety net
        ticker = str(frame.columns[frame.isna().any()][0])
        date = frame.index[frame[ticker].isna()][0].date()
        raise DataError(f"missing value on {date} after forward-fill", key=ticker)
    frame.index = pd.DatetimeIndex(frame.index, name="date")
    frame.columns.name = None
    filled = {t: frame.index[holes[t].reindex(frame.index, fill_value=False).to_numpy()]
              for t in frame.columns}  # fmt: skip
    return frame.astype(float), filled


def _filled_warning(ticker: str, dates: pd.DatetimeIndex, freq: Frequency) -> str:
    shown = ", ".join(str(d.date()) for d in dates[:4]) + (", ..." if len(dates) > 4 else "")
    return (
        f"{ticker}: {len(dates)} missing {freq.value} value(s) forward-filled ({shown}): "
        "no move is counted in the period of each, and the next period counts them all"
    )


def _check_same_days(cols: dict[str, pd.Series], origins: dict[str, str], freq: Frequency) -> None:
    """Series of one frequency dated on other days (monthly closes on month ends beside
    values on the 1st or on calendar month ends, weekly ones on Fridays beside Mondays):
    filling one onto the other's dates would shift it, or give a period two rows. Each
    series is compared with the fullest one; weekly and monthly data also by period."""
    if len(cols) < 2:
        return
    a = max(cols, key=lambda t: len(cols[t]))
    for b in cols:
        if b == a or len(cols[b]) < 4:
            continue
        shared = len(cols[b].index.intersection(cols[a].index))
        if freq.period is None and shared >= len(cols[b]) / 2:
            continue  # daily: holidays and thin trading differ, most days are shared
        if freq.period is not None:
            periods = cols[a].index.union(cols[b].index).to_period(freq.period)
            if not periods.duplicated().any():
                continue
        own = {
            t: cols[t].index.difference(cols[u].index)[:2] for t, u in ((a, b), (b, a))
        }  # the first dates one has and the other has not
        shown = {t: ", ".join(str(d.date()) for d in own[t]) or "none" for t in (a, b)}
        raise DataError(
            f"{b} and {a} are dated on different days (only {b}: {shown[b]}, ...; only "
            f"{a}: {shown[a]}, ...): they share {shared} of {len(cols[b])} dates",
            file=origins.get(b),
            key=b,
            hint="date the series alike (month ends, say) before reading them together",
        )


def _d(value: dt.date | None) -> str:
    return value.isoformat() if value else "…"

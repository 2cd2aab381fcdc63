"""``yahoo`` — adjusted closes through ``yfinance.download``, cached per ticker on disk.

Online, each ticker is fetched once in full and afterwards only from its last cached date
on (incremental refresh; the last cached day is fetched again since it may have been
partial). Offline, the cache is served as it is, with its age in the warnings and
``provenance.stale`` set when it is older than a day. Rate limiting (yfinance's
``YFRateLimitError``) is retried a bounded number of times with exponential backoff; when it
persists and every ticker is cached, the cache is served and the warning says so.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import pandas as pd

from optimizer.data.align import Request, assemble
from optimizer.data.base import PriceData, ServedBy
from optimizer.data.cache import CacheEntry, TickerCache
from optimizer.data.csv_source import YIELD_TICKERS
from optimizer.data.validate import RawSeries, SeriesKind, ValidationPolicy
from optimizer.errors import DataError

FRESH_FOR = dt.timedelta(days=1)  # a cache older than this is reported as stale


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff: waits base, base*factor, ... seconds."""

    attempts: int = 4
    base_delay: float = 2.0
    factor: float = 2.0

    def delays(self) -> list[float]:
        return [self.base_delay * self.factor**i for i in range(self.attempts - 1)]


def extract_closes(frame: pd.DataFrame | None, tickers: Sequence[str]) -> dict[str, pd.Series]:
    """Close per ticker from a ``yfinance.download`` frame, whatever its column layout.

    Handles MultiIndex columns ordered ``(Price, Ticker)`` (the default) or
    ``(Ticker, Price)`` (``group_by="ticker"``), and flat single-ticker columns. Tickers
    with no column or no value are left out. Index: tz-naive dates.
    """
    if frame is None or frame.empty:
        return {}
    out: dict[str, pd.Series] = {}
    for ticker in tickers:
        series = _close_column(frame, ticker, single=len(tickers) == 1)
        if series is None:
            continue
        series = pd.to_numeric(series, errors="coerce").dropna()
        if series.empty:
            continue
        index = pd.DatetimeIndex(series.index)
        if index.tz is not None:
            index = index.tz_localize(None)
        series.index = pd.DatetimeIndex(index.normalize(), name="date")
        out[ticker] = series[~series.index.duplicated(keep="last")].sort_index().astype(float)
    return out


def _close_column(frame: pd.DataFrame, ticker: str, *, single: bool) -> pd.Series | None:
    cols = frame.columns
    if not isinstance(cols, pd.MultiIndex):
        return frame["Close"] if single and "Close" in cols else None
    for price_level in range(cols.nlevels):
        if "Close" in cols.get_level_values(price_level):
            other = 1 - price_level if cols.nlevels == 2 else None
            if other is None:
                return None
            names = {str(t).upper(): t for t in cols.get_level_values(other)}
            key = names.get(ticker.upper())
            if key is None:
                return None
            col = ("Close", key) if price_level == 0 else (key, "Close")
            return frame[col] if col in cols else None
    return None


class FetchIssue(Enum):
    """Why tickers may be missing from a download, besides Yahoo not knowing them."""

    NONE = "Yahoo Finance returned no data (unknown ticker, or Yahoo unreachable?)"
    RATE_LIMITED = "rate limited by Yahoo"
    UNREACHABLE = "Yahoo Finance unreachable"


_ISSUE_MARKERS = {
    FetchIssue.RATE_LIMITED: ("YFRateLimitError", "Too Many Requests", "Rate limited"),
    FetchIssue.UNREACHABLE: (
        "DNSError",
        "ConnectionError",
        "Timeout",
        "timed out",
        "Could not resolve host",
        "curl: (",
    ),
}


@dataclass(frozen=True)
class FetchResult:
    """Closes that came back, and the network problem (if any) behind the rest."""

    closes: dict[str, pd.Series]  # ticker -> (n_obs,) closes
    issue: FetchIssue = FetchIssue.NONE
    detail: str = ""  # yfinance's message for the issue


class _ErrorLog(logging.Handler):
    """Collects yfinance's error log lines during one download (and keeps them off stderr)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def issue(self) -> tuple[FetchIssue, str]:
        for issue, markers in _ISSUE_MARKERS.items():
            for msg in self.messages:
                if any(m in msg for m in markers):
                    return issue, " ".join(msg.split())[:160]
        return FetchIssue.NONE, ""


@contextmanager
def _capture_yfinance_errors() -> Iterator[_ErrorLog]:
    """Route yfinance's error log to a collector and silence its library warnings."""
    logger = logging.getLogger("yfinance")
    handler = _ErrorLog()
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield handler
    finally:
        logger.removeHandler(handler)


@dataclass
class Fetcher:
    """One ``yfinance.download`` call per batch, retried while Yahoo rate-limits."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep

    def fetch(self, tickers: Sequence[str], start: dt.date | None) -> FetchResult:
        """Closes for ``tickers`` from ``start`` (None: full history) to today.

        Tickers that never came back are missing from ``closes``; ``issue`` says whether
        the last attempt was rate-limited or could not reach Yahoo (not retried).
        """
        import yfinance as yf
        from yfinance.exceptions import YFRateLimitError

        pending, got = list(tickers), {}
        issue, detail = FetchIssue.NONE, ""
        for delay in [*self.retry.delays(), None]:
            try:
                with _capture_yfinance_errors() as log:
                    frame = yf.download(pending, **_window(start), **_DOWNLOAD_ARGS)
                issue, detail = log.issue()
            except YFRateLimitError as exc:
                frame, issue, detail = None, FetchIssue.RATE_LIMITED, str(exc)
            got.update(extract_closes(frame, pending))
            pending = [t for t in pending if t not in got]
            if not pending or issue is not FetchIssue.RATE_LIMITED:
                break
            if delay is not None:
                self.sleep(delay)
        return FetchResult(got, issue if pending else FetchIssue.NONE, detail)


_DOWNLOAD_ARGS = {"auto_adjust": True, "progress": False, "actions": False, "threads": True}


def _window(start: dt.date | None) -> dict[str, object]:
    end = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    if start is None:
        return {"period": "max"}
    return {"start": start.isoformat(), "end": end}


@dataclass(frozen=True)
class Refreshed:
    """The outcome of bringing the cache up to date for one request."""

    entries: dict[str, CacheEntry]
    warnings: tuple[str, ...] = ()
    stale: bool = False


class YahooProvider(ServedBy):
    """Adjusted closes from Yahoo Finance (yfinance), cached per ticker on disk."""

    name = "yahoo"

    def __init__(
        self,
        *,
        cache_dir: str | Path | None = None,
        offline: bool = False,
        policy: ValidationPolicy | None = None,
        fetcher: Fetcher | None = None,
    ):
        self.cache = TickerCache(cache_dir)
        self.offline = offline
        self.policy = policy or ValidationPolicy()
        self.fetcher = fetcher or Fetcher()

    def available(self) -> list[str]:
        """Tickers in the cache (the only ones known without a network call)."""
        return self.cache.tickers()

    def available_rates(self) -> list[str]:
        return [t for t in self.available() if t.upper() in YIELD_TICKERS]

    def _serve(
        self,
        tickers: Sequence[str],
        start: dt.date | None,
        end: dt.date | None,
        kind: SeriesKind,
    ) -> PriceData:
        request = Request(tuple(t.strip().upper() for t in tickers), start, end)
        request.check("yahoo")
        for ticker in request.tickers:
            _check_kind(ticker, kind)
        done = self._from_cache(request) if self.offline else self._refresh(request)
        raws = [RawSeries(t, done.entries[t].closes, f"yahoo:{t}", kind) for t in request.tickers]
        mode = "offline, from the cache" if self.offline else "cached"
        notes = (f"Yahoo Finance via yfinance (adjusted closes), {mode} in {self.cache.root}",)
        return assemble(
            raws,
            request,
            self.policy,
            source="yahoo",
            notes=notes,
            stale=done.stale,
            warnings=done.warnings,
        )

    def _from_cache(self, request: Request, reason: str = "offline") -> Refreshed:
        entries = {t: self.cache.load(t) for t in request.tickers}
        missing = [t for t, e in entries.items() if e is None]
        if missing:
            raise DataError(
                f"{reason}: not in the cache {self.cache.root}",
                key="tickers",
                value=",".join(missing),
                hint="run once online to fill the cache",
            )
        cached = {t: e for t, e in entries.items() if e is not None}
        now = dt.datetime.now(dt.UTC)
        oldest = max(cached.values(), key=lambda e: e.age(now))
        warning = (
            f"{reason}: served from the cache; oldest fetch {_age(oldest.age(now))} ago "
            f"({oldest.ticker}, {oldest.fetched_at:%Y-%m-%d %H:%M} UTC)"
        )
        return Refreshed(cached, (warning,), oldest.age(now) > FRESH_FOR)

    def _refresh(self, request: Request) -> Refreshed:
        cached = {t: self.cache.load(t) for t in request.tickers}
        batches: dict[dt.date | None, list[str]] = {}
        for ticker, entry in cached.items():
            batches.setdefault(_fetch_start(entry, request.start), []).append(ticker)
        failed: dict[str, FetchResult] = {}
        notes: list[str] = []
        for start, batch in batches.items():
            result = self.fetcher.fetch(batch, start)
            for ticker in batch:
                new = result.closes.get(ticker)
                if new is None:  # even an incremental fetch returns the overlap days
                    failed[ticker] = result
                else:
                    notes += self._store(ticker, cached[ticker], new, request.start)
        if failed:
            some_succeeded = len(failed) < len(request.tickers)
            return self._fall_back(request, failed, notes, some_succeeded)
        entries = {t: e for t in request.tickers if (e := self.cache.load(t)) is not None}
        return Refreshed(entries, tuple(notes))

    def _fall_back(
        self,
        request: Request,
        failed: dict[str, FetchResult],
        notes: list[str],
        some_succeeded: bool,
    ) -> Refreshed:
        """Serve the cache for tickers Yahoo did not return, saying why; uncached is an error.

        A ticker that came back empty while others in the request came back, with no
        network problem reported, is unknown to Yahoo.
        """
        failure = next(iter(failed.values()))
        reason = failure.issue.value
        missing = [t for t in failed if self.cache.load(t) is None]
        if missing and failure.issue is FetchIssue.NONE and some_succeeded:
            raise DataError(
                "Yahoo Finance returned no data for these tickers (unknown or delisted?)",
                key="tickers",
                value=",".join(missing),
            )
        if missing:
            detail = f" ({failure.detail})" if failure.detail else ""
            raise DataError(
                f"{reason}{detail}; not in the cache {self.cache.root} either",
                key="tickers",
                value=",".join(missing),
                hint="check the tickers and the network, or use csv:PATH or the sample",
            )
        fallback = self._from_cache(request, reason=f"{reason} for {','.join(failed)}")
        return Refreshed(fallback.entries, (*notes, *fallback.warnings), fallback.stale)

    def _store(
        self,
        ticker: str,
        old: CacheEntry | None,
        new: pd.Series,
        start: dt.date | None,
    ) -> list[str]:
        now = dt.datetime.now(dt.UTC)
        since = "max" if start is None else start.isoformat()
        if old is None:
            self.cache.store(CacheEntry(ticker, new, now, since))
            return []
        merged, note = merge(old.closes, new, ticker)
        if old.covers(start):
            since = old.since
        self.cache.store(CacheEntry(ticker, merged, now, since))
        return [note] if note else []


def merge(old: pd.Series, new: pd.Series | None, ticker: str) -> tuple[pd.Series, str | None]:
    """Cached closes updated with newly fetched ones (new values win on shared dates).

    Adjusted closes are rescaled by Yahoo after each dividend or split; when the first
    date shared by both differs, the cached history is rescaled by the ratio so returns
    stay right across the seam. Returns the merged series and a note when rescaled.
    """
    if new is None or new.empty:
        return old, None
    shared = old.index.intersection(new.index)
    note = None
    if len(shared):
        ratio = float(new[shared[0]] / old[shared[0]])
        if abs(ratio - 1.0) > 1e-9:
            old = old * ratio
            note = (
                f"{ticker}: cached history rescaled by {ratio:.6f} "
                f"(dividend or split adjustment since the last fetch)"
            )
    merged = pd.concat([old[~old.index.isin(new.index)], new]).sort_index()
    merged.index = pd.DatetimeIndex(merged.index, name="date")
    return merged, note


def _fetch_start(entry: CacheEntry | None, start: dt.date | None) -> dt.date | None:
    """Where to fetch from: full (start or history) unless the cache covers the request,
    then from its second-to-last date (the last may have been a partial day)."""
    if entry is None or entry.closes.empty or not entry.covers(start):
        return start
    index = entry.closes.index
    return index[-2 if len(index) > 1 else -1].date()


def _check_kind(ticker: str, kind: SeriesKind) -> None:
    is_rate = ticker.upper() in YIELD_TICKERS
    if is_rate != (kind is SeriesKind.RATE):
        what = "a yield (rate) series" if is_rate else "not a known yield series"
        known = ", ".join(sorted(YIELD_TICKERS))
        raise DataError(
            f"is {what}; rates from Yahoo are {known}", file="yahoo", key="ticker", value=ticker
        )


def _age(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.0f} days"

"""``yahoo`` — adjusted closes through yfinance (``Ticker.history``), cached per ticker on disk.

Online, each ticker is fetched once in full and afterwards only from its last cached date
on (incremental refresh; the last cached day is fetched again since it may have been
partial). Offline, the cache is served as it is, with its age in the warnings and
``provenance.stale`` set when it is older than a day. Rate limiting (yfinance's
``YFRateLimitError``) is retried a bounded number of times with exponential backoff; when it
persists and every ticker is cached, the cache is served and the warning says so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

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
        "HTTP Error 5",
        "HTTP 5",
        "Bad Gateway",
        "Service Unavailable",
        "Gateway Time",
    ),
}


@dataclass(frozen=True)
class FetchResult:
    """Closes that came back, and the network problem (if any) behind the rest."""

    closes: dict[str, pd.Series]  # ticker -> (n_obs,) closes, completed sessions only
    issue: FetchIssue = FetchIssue.NONE
    detail: str = ""  # yfinance's message for the issue
    currency: dict[str, str] = field(default_factory=dict)  # ticker -> Yahoo's currency


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
    """One ``Ticker.history`` call per ticker (threads, as ``yfinance.download`` makes
    them), retried while Yahoo rate-limits. Each answer's metadata gives the ticker's
    currency and whether its last bar is a session still trading (dropped)."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep

    def fetch(self, tickers: Sequence[str], start: dt.date | None) -> FetchResult:
        """Closes for ``tickers`` from ``start`` (None: full history) to today.

        Tickers that never came back are missing from ``closes``; ``issue`` says whether
        the last attempt was rate-limited or could not reach Yahoo (not retried). A ticker
        missing from an answer that gave the others is asked for once more (one of
        yfinance's threads can come back empty).
        """
        import yfinance as yf
        from yfinance.exceptions import YFRateLimitError

        pending, got, currency = list(tickers), {}, {}
        issue, detail = FetchIssue.NONE, ""
        now = dt.datetime.now(dt.UTC)
        asked_again = False  # a ticker missing from an answer that gave others: once more
        for delay in [*self.retry.delays(), None]:
            with _capture_yfinance_errors() as log:
                answers = _histories(yf, pending, start)
            issue, detail = log.issue()
            limited = [t for t, a in answers.items() if isinstance(a, YFRateLimitError)]
            if limited and issue is FetchIssue.NONE:
                issue, detail = FetchIssue.RATE_LIMITED, str(answers[limited[0]])
            for ticker, answer in answers.items():
                if isinstance(answer, tuple):
                    frame, meta = answer
                    closes = extract_closes(frame, [ticker]).get(ticker)
                    closes = None if closes is None else completed(closes, meta, now)
                    if closes is not None and not closes.empty:
                        got[ticker] = closes
                        if meta.get("currency"):
                            currency[ticker] = str(meta["currency"])
            pending = [t for t in pending if t not in got]
            again = issue is FetchIssue.NONE and got and not asked_again
            if not pending or (issue is not FetchIssue.RATE_LIMITED and not again):
                break
            asked_again = asked_again or issue is FetchIssue.NONE
            if delay is not None:
                self.sleep(delay)
        return FetchResult(got, issue if pending else FetchIssue.NONE, detail, currency)


_HISTORY_ARGS = {"auto_adjust": True, "actions": False}
_META_KEYS = ("currency", "exchangeTimezoneName", "currentTradingPeriod")
_THREADS = 8


def _histories(yf: Any, tickers: Sequence[str], start: dt.date | None) -> dict[str, Any]:
    """Ticker -> (frame, metadata) of its ``Ticker.history`` answer, or the exception a
    rate limit raised (other failures are in yfinance's error log, an empty frame here)."""
    from concurrent.futures import ThreadPoolExecutor

    from yfinance.exceptions import YFRateLimitError

    def one(ticker: str) -> Any:
        handle = yf.Ticker(ticker)
        try:
            frame = handle.history(**_window(start), **_HISTORY_ARGS)
        except YFRateLimitError as exc:
            return exc
        except Exception as exc:  # logged, as yfinance.download logs a failed ticker
            logging.getLogger("yfinance").error(f"{ticker}: {exc!r}")
            return (None, {})
        meta = {}
        if frame is not None and not frame.empty:
            try:  # from the same answer (a key such as tradingPeriods would fetch again)
                found = handle.history_metadata or {}
                meta = {k: found.get(k) for k in _META_KEYS}
            except Exception:
                meta = {}
        return (frame, meta)

    with ThreadPoolExecutor(max_workers=max(1, min(_THREADS, len(tickers)))) as pool:
        return dict(zip(tickers, pool.map(one, tickers), strict=True))


def completed(closes: pd.Series, meta: dict[str, Any], now: dt.datetime) -> pd.Series:
    """``closes`` without a bar of a session still trading at ``now`` (aware, UTC): Yahoo
    sends the live price as the day's "close" while the market is open. The session and
    its end come from the answer's ``currentTradingPeriod``, its date from the exchange's
    clock (its UTC offset, else its time zone). Without a trading period a bar dated after
    today in UTC (a New Zealand session under way at 22:00 UTC) is dropped."""
    if closes.empty:
        return closes
    regular = (meta.get("currentTradingPeriod") or {}).get("regular") or {}
    end = _utc(regular.get("end"))
    today = pd.Timestamp(now.date())
    if end is None:
        return closes[closes.index <= today]
    session = pd.Timestamp(_exchange_date(end, meta, regular))
    if pd.Timestamp(now) < end:
        return closes[closes.index < session]
    return closes[closes.index <= max(session, today)]


def _exchange_date(stamp: pd.Timestamp, meta: dict[str, Any], regular: dict[str, Any]) -> dt.date:
    """The exchange's calendar date at ``stamp`` (UTC)."""
    offset = regular.get("gmtoffset", meta.get("gmtoffset"))
    if isinstance(offset, (int, float)) and not isinstance(offset, bool):
        return (stamp + pd.Timedelta(seconds=offset)).date()
    try:
        return stamp.tz_convert(str(meta["exchangeTimezoneName"])).date()
    except Exception:  # no zone, or one pandas does not know: UTC's date
        return stamp.date()


def _utc(value: Any) -> pd.Timestamp | None:
    """A time from Yahoo's metadata (epoch seconds, or a timestamp yfinance made of it)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            return pd.Timestamp(value, unit="s", tz="UTC")
        stamp = pd.Timestamp(value)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    except (ValueError, TypeError, OverflowError):
        return None


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
        entries = [done.entries[t] for t in request.tickers]
        closes, currency, converted, unsure = in_one_currency(entries, kind)
        raws = [RawSeries(t, closes[t], f"yahoo:{t}", kind) for t in request.tickers]
        mode = "offline, from the cache" if self.offline else "cached"
        notes = (f"Yahoo Finance via yfinance (adjusted closes), {mode} in {self.cache.root}",
                 *converted)  # fmt: skip
        got = assemble(
            raws,
            request,
            self.policy,
            source="yahoo",
            notes=notes,
            stale=done.stale,
            warnings=(*done.warnings, *unsure),
        )
        if currency is None:
            return got
        return dataclasses.replace(
            got, provenance=dataclasses.replace(got.provenance, currency=currency)
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

        def fetch(batch: list[str], start: dt.date | None) -> None:
            result = self.fetcher.fetch(batch, start)
            for ticker in batch:
                new = result.closes.get(ticker)
                if new is None:  # even an incremental fetch returns the overlap days
                    failed[ticker] = result
                else:
                    failed.pop(ticker, None)
                    currency = result.currency.get(ticker)
                    notes.extend(self._store(ticker, cached[ticker], new, request.start, currency))

        for start, batch in batches.items():
            fetch(batch, start)
        # a batch that came back empty while others came back (a new ticker alone in its
        # batch): asked once more, as the fetcher asks again within a batch
        lone = [t for t, r in failed.items() if not r.closes and r.issue is FetchIssue.NONE]
        if lone and len(failed) < len(request.tickers):
            delays = self.fetcher.retry.delays()
            if delays:
                self.fetcher.sleep(delays[0])
            for ticker in lone:
                fetch([ticker], _fetch_start(cached[ticker], request.start))
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
        currency: str | None = None,
    ) -> list[str]:
        now = dt.datetime.now(dt.UTC)
        since = "max" if start is None else start.isoformat()
        if old is None:
            self.cache.store(CacheEntry(ticker, new, now, since, currency))
            return []
        merged, note = merge(old.closes, new, ticker)
        if old.covers(start):
            since = old.since
        self.cache.store(CacheEntry(ticker, merged, now, since, currency or old.currency))
        return [note] if note else []


MINOR_UNITS = {"GBp": "GBP", "GBX": "GBP", "ZAc": "ZAR", "ZAC": "ZAR", "ILA": "ILS"}


def in_one_currency(
    entries: Sequence[CacheEntry], kind: SeriesKind
) -> tuple[dict[str, pd.Series], str | None, list[str], list[str]]:
    """Closes in one currency: prices quoted in a minor unit (pence, cents, agorot: a
    London listing's ``GBp``) are turned into the major one, and prices in two currencies
    are refused (a pound valued as a dollar). Returns the closes, the currency (None when
    Yahoo said none, as for a cache written before it was recorded), notes, and a warning
    when some tickers' currency is unknown beside the others' (which is still checked)."""
    closes = {e.ticker: e.closes for e in entries}
    if kind is SeriesKind.RATE:
        return closes, None, [], []
    notes, found = [], {}
    for e in entries:
        if e.currency is None:
            continue
        major = MINOR_UNITS.get(e.currency, e.currency.upper())
        if e.currency in MINOR_UNITS:
            closes[e.ticker] = e.closes / 100.0
            notes.append(f"{e.ticker}: quoted in {e.currency}, turned into {major} (/100)")
        found[e.ticker] = major
    if len(set(found.values())) > 1:
        first = next(iter(found.values()))
        other = next(t for t, c in found.items() if c != first)
        listing = ", ".join(f"{t} {c}" for t, c in found.items())
        raise DataError(
            f"prices in different currencies ({listing}): one would be valued as another",
            file="yahoo",
            key=other,
            value=found[other],
            hint="use tickers quoted in one currency, or csv:PATH files converted to one",
        )
    if not found:
        return closes, None, notes, []
    known = next(iter(found.values()))  # what the account is checked against
    unknown = [e.ticker for e in entries if e.currency is None]
    warnings = [
        f"currency of {', '.join(unknown)} unknown (Yahoo did not say, or the cache is older "
        f"than the record of it) beside {known}: taken as {known}, unchecked"
    ]
    return closes, known, notes, warnings if unknown else []


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

"""On-disk cache of daily closes, one CSV and one small JSON of fetch metadata per ticker.

Layout of ``cache_dir`` (default: the platform user cache dir, ``.../capalloc/yahoo``)::

    SPY.csv    date,close        (sorted, unique dates)
    SPY.json   {"ticker": "SPY", "fetched_at": "...Z", "since": "max" | "YYYY-MM-DD",
                "currency": "USD", ...}

Writes go through :func:`optimizer.atomic.write_atomic` (a temporary file, fsynced, renamed
into place), so a crash never leaves a half-written cache file.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from optimizer.atomic import write_atomic
from optimizer.errors import DataError

_UNSAFE = re.compile(r"[^A-Za-z0-9.^=_-]")


def default_cache_dir() -> Path:
    """The user cache folder for Yahoo data (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("capalloc")) / "yahoo"


@dataclass(frozen=True)
class CacheEntry:
    """A cached series and when it was fetched."""

    ticker: str
    closes: pd.Series  # (n_obs,) float, DatetimeIndex named "date"
    fetched_at: dt.datetime  # UTC, time of the last successful fetch
    since: str  # "max" (full history) or the first date asked for, ISO
    currency: str | None = None  # the currency Yahoo quotes it in ("USD", "GBp"); None: unknown

    def age(self, now: dt.datetime | None = None) -> dt.timedelta:
        return (now or dt.datetime.now(dt.UTC)) - self.fetched_at

    def covers(self, start: dt.date | None) -> bool:
        """Whether the cached history reaches back to ``start`` (None: full history)."""
        if self.since == "max":
            return True
        return start is not None and dt.date.fromisoformat(self.since) <= start


class TickerCache:
    """Read and write cached closes per ticker under one folder."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root else default_cache_dir()

    def _paths(self, ticker: str) -> tuple[Path, Path]:
        stem = _UNSAFE.sub("_", ticker.upper())
        return self.root / f"{stem}.csv", self.root / f"{stem}.json"

    def tickers(self) -> list[str]:
        """Tickers with a complete cache entry."""
        if not self.root.is_dir():
            return []
        out = []
        for meta in sorted(self.root.glob("*.json")):
            try:
                out.append(json.loads(meta.read_text(encoding="utf-8"))["ticker"])
            except (OSError, ValueError, KeyError):
                continue
        return out

    def load(self, ticker: str) -> CacheEntry | None:
        """The cached entry, or None when absent. A corrupt entry is a DataError."""
        data_path, meta_path = self._paths(ticker)
        if not (data_path.is_file() and meta_path.is_file()):
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            fetched = dt.datetime.fromisoformat(meta["fetched_at"])
            if fetched.tzinfo is None:  # written by hand without its "Z": UTC, as documented
                fetched = fetched.replace(tzinfo=dt.UTC)
            frame = pd.read_csv(data_path, index_col="date", parse_dates=["date"])
            closes = frame["close"].astype(float)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(
                f"corrupt cache entry ({type(exc).__name__}: {exc})",
                file=str(data_path),
                key=ticker,
                hint="delete the cached files for this ticker and fetch again",
            ) from None
        closes.index = pd.DatetimeIndex(closes.index, name="date")
        currency = meta.get("currency")
        since = str(meta.get("since", "max"))
        return CacheEntry(ticker, closes, fetched, since, str(currency) if currency else None)

    def store(self, entry: CacheEntry) -> None:
        """Write (atomically) the closes and their metadata."""
        self.root.mkdir(parents=True, exist_ok=True)
        data_path, meta_path = self._paths(entry.ticker)
        frame = entry.closes.rename("close").to_frame()
        frame.index = pd.DatetimeIndex(frame.index, name="date")
        write_atomic(data_path, frame.to_csv(date_format="%Y-%m-%d", float_format="%.10g"))
        meta = {
            "ticker": entry.ticker,
            "fetched_at": entry.fetched_at.isoformat(),
            "since": entry.since,
            "first": _iso(entry.closes.index.min()),
            "last": _iso(entry.closes.index.max()),
            "rows": len(entry.closes),
            **({"currency": entry.currency} if entry.currency else {}),
        }
        write_atomic(meta_path, json.dumps(meta, indent=2) + "\n")


def _iso(ts: pd.Timestamp) -> str | None:
    return None if pd.isna(ts) else pd.Timestamp(ts).date().isoformat()

"""``[data]``: the data section of an account TOML file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, ValidationInfo, field_validator

from optimizer.config import StrictModel

if TYPE_CHECKING:  # (pandas is imported when data is read, not to check the section)
    from optimizer.data.base import Provider
    from optimizer.data.validate import ValidationPolicy


class DataConfig(StrictModel):
    """Where prices come from and how strictly they are checked.

    ``source`` is ``"sample"``, ``"yahoo"`` or ``"csv:PATH[,PATH...]"``; ``max_ffill`` is how
    many consecutive missing observations a forward-fill may bridge; a series ending more
    than ``stale_after_days`` before the others is stale (an error), and so is a yahoo cache
    older than that when offline (a warning). ``cash_rate`` (annual, a fraction) prices the
    built-in ``CASH`` asset when the source has no short-rate series (optimizer.data.cash).
    """

    source: str = "sample"
    start: dt.date | None = None
    end: dt.date | None = None
    cache_dir: str | None = None
    offline: bool = False
    max_ffill: int = Field(default=5, ge=0, le=60)
    stale_after_days: int = Field(default=30, ge=1)
    cash_rate: float | None = Field(default=None, ge=-0.05, le=0.5)  # annual, for CASH

    @field_validator("source")
    @classmethod
    def _scheme_lower(cls, source: str) -> str:
        """``Sample``, ``YAHOO`` or ``CSV:prices`` name the same sources as in lower case
        (the scheme only: a csv path keeps its own case)."""
        scheme, sep, arg = source.strip().partition(":")
        return scheme.lower() + sep + arg

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("start")
        if start and end and start > end:
            raise ValueError(f"end is before start ({start.isoformat()})")
        return end

    def policy(self, today: dt.date | None = None) -> ValidationPolicy:
        """The validation policy these settings describe."""
        from optimizer.data.validate import ValidationPolicy

        return ValidationPolicy(self.max_ffill, self.stale_after_days, today)

    def provider(self, relative_to: str | Path | None = None) -> Provider:
        """The configured Provider; relative csv paths and cache_dir resolve against the
        folder of ``relative_to`` (the TOML file) when given."""
        from optimizer.config import resolve_path
        from optimizer.data.registry import get_provider

        source, cache = self.source, self.cache_dir
        if relative_to is not None:
            scheme, sep, arg = source.partition(":")
            if sep and scheme == "csv":
                parts = [str(resolve_path(p.strip(), relative_to)) for p in arg.split(",")]
                source = "csv:" + ",".join(parts)
            if cache:
                cache = str(resolve_path(cache, relative_to))
        return get_provider(
            source,
            cache_dir=cache,
            offline=self.offline,
            policy=self.policy(),
            cash_rate=self.cash_rate,
        )

"""The one frequency type: how often a series is observed, a model sampled, returns read.

A leaf module (no pandas, no numpy) so that configuration models (``[estimation]
frequency``, a scenario's history window) can name it without loading the data stack;
:mod:`optimizer.data.frequency` infers it from dates.
"""

from __future__ import annotations

from enum import StrEnum

from optimizer.errors import DataError


class Frequency(StrEnum):
    """How often a series is observed or sampled; ``periods_per_year`` annualises its
    statistics (the one frequency type: data, factor model and ``[estimation]``)."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"

    @property
    def periods_per_year(self) -> int:
        return _PERIODS[self]

    @property
    def rule(self) -> str | None:
        """The pandas resample rule of a period end (None for daily)."""
        return _RULES[self]

    @property
    def period(self) -> str | None:
        """The pandas period code of one period (None for daily): the weeks or months
        two dates share."""
        return _CODES[self]

    @property
    def rank(self) -> int:
        """Order from finest (0, daily) to coarsest."""
        return list(Frequency).index(self)

    @classmethod
    def parse(cls, value: str | Frequency, *, key: str = "frequency") -> Frequency:
        """``"daily"`` / ``"weekly"`` / ``"monthly"`` (or a Frequency) -> Frequency."""
        if isinstance(value, Frequency):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            known = ", ".join(f.value for f in cls)
            raise DataError(f"unknown frequency; known: {known}", key=key, value=value) from None


_PERIODS = {Frequency.DAILY: 252, Frequency.WEEKLY: 52, Frequency.MONTHLY: 12}
_RULES = {Frequency.DAILY: None, Frequency.WEEKLY: "W-FRI", Frequency.MONTHLY: "ME"}
_CODES = {Frequency.DAILY: None, Frequency.WEEKLY: "W-FRI", Frequency.MONTHLY: "M"}

"""Observation frequency of a series: inferred from its dates, used to annualise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.errors import DataError
from optimizer.frequency import Frequency  # re-exported: the one frequency type

# median spacing in calendar days -> frequency (upper bounds, inclusive)
_SPACING_LIMITS = ((4.0, Frequency.DAILY), (10.0, Frequency.WEEKLY), (45.0, Frequency.MONTHLY))


def infer_frequency(index: pd.DatetimeIndex) -> Frequency:
    """The frequency of a sorted DatetimeIndex, from the median spacing of its dates.

    Fewer than two dates are taken as daily. Spacings above 45 days (quarterly, annual)
    are not supported and raise DataError.
    """
    if len(index) < 2:
        return Frequency.DAILY
    days = np.diff(index.values.astype("datetime64[D]").astype(np.int64))
    spacing = float(np.median(days))
    for limit, freq in _SPACING_LIMITS:
        if spacing <= limit:
            return freq
    raise DataError(
        f"observations are {spacing:.0f} days apart; daily, weekly or monthly data is needed",
        key="frequency",
        value=spacing,
    )


def periods_per_year(index: pd.DatetimeIndex) -> int:
    """Periods per year of the data's own frequency (252 daily, 52 weekly, 12 monthly)."""
    return infer_frequency(index).periods_per_year

"""Returns from price levels at daily, weekly or monthly frequency, simple or log."""

from __future__ import annotations

from enum import Enum

import numpy as np
import pandas as pd

from optimizer.data.frequency import Frequency, infer_frequency
from optimizer.errors import DataError


class ReturnKind(Enum):
    """``simple``: p_t / p_{t-1} - 1; ``log``: ln(p_t / p_{t-1})."""

    SIMPLE = "simple"
    LOG = "log"

    @classmethod
    def parse(cls, value: str | ReturnKind) -> ReturnKind:
        if isinstance(value, ReturnKind):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            known = ", ".join(k.value for k in cls)
            raise DataError(
                f"unknown return kind; known: {known}", key="kind", value=value
            ) from None


# pandas period codes used to group dates into weeks (ending Friday) and months


def last_of_period(frame: pd.DataFrame, frequency: Frequency) -> pd.DataFrame:
    """The last observation of each period, keeping its real date.

    Daily frames are returned as they are. A trailing partial period is kept.
    """
    if frequency is Frequency.DAILY:
        return frame
    periods = frame.index.to_period(frequency.period)
    last_dates = frame.index.to_series().groupby(periods).max()
    return frame.loc[pd.DatetimeIndex(last_dates.to_numpy(), name=frame.index.name)]


def returns(
    frame: pd.DataFrame, frequency: str | Frequency = "daily", kind: str | ReturnKind = "simple"
) -> pd.DataFrame:
    """Period returns of price levels.

    Parameters
    ----------
    frame:
        Prices, shape (n_dates, n_tickers), sorted DatetimeIndex, no missing values
        (``PriceData.frame``).
    frequency:
        ``"daily"``, ``"weekly"`` or ``"monthly"``: prices are sampled on the last
        observation of each period (weeks end on Friday) before differencing. It may not be
        finer than the data's own frequency (monthly data has no daily returns).
    kind:
        ``"simple"`` or ``"log"``.

    Returns
    -------
    DataFrame of shape (n_periods - 1, n_tickers), indexed by each period's last date.
    """
    freq = Frequency.parse(frequency)
    how = ReturnKind.parse(kind)
    if frame.empty:
        raise DataError("no prices to compute returns from", key="frame")
    own = infer_frequency(pd.DatetimeIndex(frame.index))
    if freq.rank < own.rank:
        raise DataError(
            f"the data is {own.value}; {freq.value} returns need {freq.value} or finer data",
            key="frequency",
            value=freq.value,
        )
    if frame.isna().to_numpy().any():
        col = str(frame.columns[frame.isna().any()][0])
        raise DataError("prices have missing values; align them first", key=col)
    sampled = last_of_period(frame, freq).astype(float)
    ratio = sampled / sampled.shift(1)
    out = np.log(ratio) if how is ReturnKind.LOG else ratio - 1.0
    return out.iloc[1:]

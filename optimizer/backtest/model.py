"""The frozen results of a backtest: one row per month and strategy, and the whole run."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from optimizer.rebalance.result import Trade


@dataclass(frozen=True)
class TaxRates:
    """Tax on realised gains, netted per calendar year and paid from cash at the first
    rebalance of the next year (the last year's at the end of the run). Fractions."""

    short_term: float = 0.0
    long_term: float = 0.0

    @property
    def any(self) -> bool:
        return self.short_term > 0 or self.long_term > 0


@dataclass(frozen=True)
class Month:
    """One strategy in one month: decided on ``decided`` with data up to that date,
    executed at the close of ``executed`` (the next price after it)."""

    month: str  # "YYYY-MM"
    decided: dt.date
    executed: dt.date
    value_before: float  # holdings at the execution prices, cash accrued, before trades
    value: float  # after trades, their costs and any tax paid
    costs: float  # spread and commission paid
    taxes: float  # tax paid this month
    st_gain: float  # realised short-term gain (negative: loss)
    lt_gain: float
    traded: float  # notional bought plus sold
    n_trades: int
    weights: dict[str, float]  # after the trades, at the execution prices (cash included)
    targets: dict[str, float]  # what the strategy aimed at (empty: no decision)
    trades: tuple[Trade, ...] = ()
    notes: tuple[str, ...] = ()  # fallbacks, warnings

    @property
    def turnover(self) -> float:
        """Traded notional over the value before trading (buys plus sells)."""
        return self.traded / self.value_before if self.value_before > 0 else 0.0


@dataclass(frozen=True)
class StrategyPath:
    """A strategy's monthly path from ``start_value`` (the initial holdings at the first
    execution prices)."""

    name: str
    kind: str  # "policy", "fixed", "buy-and-hold"
    description: str
    start_value: float
    months: tuple[Month, ...]

    @property
    def values(self) -> list[float]:
        return [m.value for m in self.months]


@dataclass(frozen=True)
class Backtest:
    """Every strategy over the same months, prices and cash flows."""

    config: str
    start: str
    end: str
    policy: StrategyPath
    benchmarks: tuple[StrategyPath, ...]
    tax: TaxRates | None  # None: no taxes (the account gave no tax settings)
    tags: dict[str, tuple[str, ...]]  # ticker -> tags of the universe
    provenance: dict[str, Any]
    risk_free: tuple[float, ...]  # each month's cash return over the path's dates, (n_months,)
    notes: tuple[str, ...] = ()
    compilations: int = 0  # optimization problems compiled over the whole run
    seconds: float = field(default=0.0, compare=False)

    @property
    def strategies(self) -> tuple[StrategyPath, ...]:
        return (self.policy, *self.benchmarks)

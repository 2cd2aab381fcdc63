"""Rebalancing rules: the ``[rebalance]`` section of a configuration file.

Every field has a default a cautious advisor would accept; a TOML section overrides any of
them. Money amounts are in the account's currency, fractions are plain numbers
(``0.05`` = 5 %), basis points are basis points.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from optimizer.config import StrictModel, read_toml, validate
from optimizer.limits import MAX_MONEY, MAX_PRICE


class LotMethod(StrEnum):
    """Order in which tax lots are sold."""

    HIFO = "hifo"  # highest cost per share first
    FIFO = "fifo"  # oldest acquisition first
    SPECIFIC = "specific"  # only the lots listed in ``specific_lots``, in that order
    TAX_OPTIMAL = "tax_optimal"  # losses before gains, long-term before short-term


class BandTarget(StrEnum):
    """Where a position outside its drift band is traded to."""

    TARGET = "target"
    EDGE = "edge"


class SolverChoice(StrEnum):
    """``auto``: exact shortcuts first, then the MILP; ``milp``: always the MILP."""

    AUTO = "auto"
    MILP = "milp"


class RebalanceRules(StrictModel):
    """Policy of the planner (per run, not per account).

    Drift band of ticker ``i`` (a weight): ``band_abs`` when ``band_rel`` is None, else
    ``min(band_abs, band_rel * w_i)`` — the tighter of the two, as in the "5/25" rule.
    """

    band_abs: float = Field(0.05, ge=0.0, le=1.0)  # absolute drift band, weight (0.05 = 5 pp)
    band_rel: float | None = Field(0.25, ge=0.0, le=1.0)  # relative band, fraction of target
    trade_to: BandTarget = BandTarget.TARGET
    drift_priority: float = Field(1.0, ge=0.0, le=1e6)  # extra weight on drift beyond the band edge
    min_trade: float = Field(0.0, ge=0.0, le=MAX_MONEY)  # minimum order, money
    min_trade_pct: float = Field(0.0, ge=0.0, le=1.0)  # minimum order, fraction of account
    cash_reserve: float = Field(0.0, ge=0.0, le=MAX_MONEY)  # cash kept after trades, money
    cash_reserve_pct: float = Field(0.0, ge=0.0, le=1.0)  # ... or fraction of the account
    fractional: bool = False  # allow fractional shares
    share_decimals: int = Field(4, ge=0, le=8)  # share precision when fractional
    do_not_buy: tuple[str, ...] = ()
    do_not_sell: tuple[str, ...] = ()
    commission_per_share: float = Field(0.0, ge=0.0, le=MAX_PRICE)
    commission_min: float = Field(0.0, ge=0.0, le=MAX_MONEY)  # minimum commission per order
    spread_bps: float = Field(0.0, ge=0.0, le=10_000.0)  # cost per order, bps of notional
    lot_method: LotMethod = LotMethod.HIFO
    specific_lots: tuple[str, ...] = ()  # lot ids, for lot_method = "specific"
    block_short_term_gains: bool = False
    wash_sale_guard: bool = True
    wash_sale_days: int = Field(30, ge=0, le=3660)
    # groups of substantially identical tickers: the wash-sale guard treats a trade in one
    # as a trade in each (set from [tax.harvest] identical of an account file)
    identical: tuple[tuple[str, ...], ...] = ()
    # held longer than this many days: long-term; unset: more than one year (US rule: sold
    # after the anniversary of the purchase, whatever a 29 February in between)
    long_term_days: int | None = Field(None, ge=1, le=36_600)
    min_improvement: float = Field(1e-4, ge=0.0)  # trade only if the objective improves by
    # more than this fraction of the account value (1e-4 = 1 bp): no churn for pennies
    time_limit: float = Field(2.0, gt=0.0, le=3600.0)  # seconds per MILP before the greedy fallback
    solver: SolverChoice = SolverChoice.AUTO

    @model_validator(mode="after")
    def _upper_case_tickers(self) -> RebalanceRules:
        for name in ("do_not_buy", "do_not_sell"):
            value = getattr(self, name)
            object.__setattr__(self, name, tuple(t.upper() for t in value))
        groups = tuple(tuple(t.upper() for t in g) for g in self.identical)
        object.__setattr__(self, "identical", groups)
        return self

    def alike(self, ticker: str) -> frozenset[str]:
        """``ticker`` and every ticker declared substantially identical to it."""
        out = {ticker}
        for group in self.identical:
            if ticker in group:
                out.update(group)
        return frozenset(out)

    @property
    def share_step(self) -> float:
        """Smallest tradable quantity: 1 share, or 10**-share_decimals when fractional."""
        return 10.0 ** (-self.share_decimals) if self.fractional else 1.0

    def min_order(self, account_value: float) -> float:
        """Minimum order in money: the larger of the money and the percentage minimum."""
        return max(self.min_trade, self.min_trade_pct * account_value)

    def order_cost(self, shares: float, price: float) -> float:
        """Estimated cost of one order of ``shares`` (absolute) at ``price``: the spread
        on its notional plus the commission (per share, at least the minimum)."""
        return self.spread_bps / 1e4 * shares * price + max(
            self.commission_min, self.commission_per_share * shares
        )

    def reserve(self, account_value: float) -> float:
        """Cash to keep after trades: the larger of the money and the percentage reserve."""
        return max(self.cash_reserve, self.cash_reserve_pct * account_value)


def rules_from_toml(path: str | Path) -> RebalanceRules:
    """The ``[rebalance]`` section of a TOML file (defaults when absent)."""
    data: dict[str, Any] = read_toml(path)
    section = data.get("rebalance", {})
    return validate(RebalanceRules, section, file=path, prefix="rebalance")

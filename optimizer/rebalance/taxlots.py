"""The ``[tax]`` section of an account file, and an account's lots as the optimizer's tax term
sees them (:class:`optimizer.optimize.taxterm.TaxLots`).

Within a ticker the lots are sold in tax-optimal order: smallest tax per share first, the
tax per share of a lot being its rate (short- or long-term) times its gain per share. So
losses go first, the largest first; a long-term gain goes before a short-term gain of the
same size. This is the order in which the optimizer's LP fills lots, so the planner, when
told it (:func:`lot_order_rules`), realises what the optimizer assumed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from optimizer.config import StrictModel
from optimizer.csvout import quantity
from optimizer.limits import MAX_MONEY
from optimizer.rebalance.harvest import HarvestConfig
from optimizer.rebalance.holdings import Account, Lot
from optimizer.rebalance.rules import LotMethod, RebalanceRules
from optimizer.rebalance.tax import sellable_lots, short_term

if TYPE_CHECKING:  # (the tax term needs cvxpy: imported when lots are built, not for [tax])
    from optimizer.optimize.taxterm import LotRow, TaxLots


class TaxConfig(StrictModel):
    """``[tax]``: rates are combined (federal plus state) fractions; amounts are money."""

    taxable: bool = False
    short_term_rate: float = Field(0.0, ge=0.0, lt=1.0)
    long_term_rate: float = Field(0.0, ge=0.0, lt=1.0)
    realized_gains_ytd: float = Field(0.0, ge=-MAX_MONEY, le=MAX_MONEY)  # net, this year
    gain_budget: float | None = Field(None, ge=0.0, le=MAX_MONEY)  # net gains this plan may add
    short_term_cap: float | None = Field(None, ge=0.0, le=MAX_MONEY)  # net short-term gains
    harvest: HarvestConfig | None = None  # [tax.harvest]: loss harvesting with substitutes

    @model_validator(mode="after")
    def _finite(self) -> TaxConfig:
        for name in ("realized_gains_ytd", "gain_budget", "short_term_cap"):
            v = getattr(self, name)
            if v is not None and not math.isfinite(v):
                raise ValueError(f"{name} must be a finite amount")
        if self.harvest is not None and not self.taxable:
            raise ValueError("harvest: loss harvesting needs taxable = true")
        return self

    def rules_for(self, rules: RebalanceRules) -> RebalanceRules:
        """``rules`` with the substantially identical groups of ``[tax.harvest]`` (the
        wash-sale guard treats a trade in one ticker of a group as a trade in each)."""
        if self.harvest is None or not self.harvest.identical:
            return rules
        return rules.model_copy(update={"identical": self.harvest.identical})


def lot_id(lot: Lot) -> str:
    """The lot's id, or one made from its ticker, date, shares and cost when it has none."""
    return (
        lot.lot_id
        or f"{lot.ticker}:{lot.acquired.isoformat()}:{quantity(lot.shares)}@"
        f"{quantity(lot.cost_per_share)}"
    )


def with_lot_ids(account: Account) -> Account:
    """``account`` with every lot named (see :func:`lot_id`), so an order can list them."""
    if all(lot.lot_id for lot in account.lots):
        return account
    lots = tuple(replace(lot, lot_id=lot_id(lot)) for lot in account.lots)
    return replace(account, lots=lots)


def tax_order(
    lots: Sequence[Lot], price: float, as_of: dt.date, rules: RebalanceRules, cfg: TaxConfig
) -> list[Lot]:
    """``lots`` in tax-optimal order (smallest tax per share first; see the module doc)."""

    def key(lot: Lot) -> tuple:
        st = short_term(lot, as_of, rules)
        rate = cfg.short_term_rate if st else cfg.long_term_rate
        gain = price - lot.cost_per_share
        return (rate * gain, gain, lot.acquired)

    return sorted(lots, key=key)


def tax_lots(
    cfg: TaxConfig,
    account: Account,
    tickers: Sequence[str],
    prices: Mapping[str, float],
    w0: Mapping[str, float],
    value: float,
    as_of: dt.date,
    rules: RebalanceRules,
    n_lots: int = 0,
) -> TaxLots | None:
    """The account's lots for the tax term (universe order), or None when the account is not
    taxable or holds no lots. Only lots the rules let the planner sell are given (not
    do-not-sell, wash-sale or short-term-gain blocked ones), so the optimizer keeps the rest.
    Lots per ticker are padded to ``n_lots``, or to a power of two (at least 2) when more are
    needed, so accounts with similar lot counts share one compiled problem."""
    if not cfg.taxable or not account.lots:
        return None
    from optimizer.optimize.taxterm import LotRow, TaxLots

    rows: dict[str, list[LotRow]] = {}
    for t in tickers:
        if t not in prices:
            continue
        sellable, _ = sellable_lots(account, t, prices[t], as_of, rules)
        ordered = tax_order(sellable, prices[t], as_of, rules, cfg)
        rows[t] = [
            LotRow(lot_id(lot), lot.shares, lot.cost_per_share, short_term(lot, as_of, rules))
            for lot in ordered
        ]
    need = max([1, *(len(r) for r in rows.values())])
    width = max(n_lots, 2 ** max(1, math.ceil(math.log2(need))))
    return TaxLots.build(
        tuple(tickers),
        rows,
        prices,
        [float(w0.get(t, 0.0)) for t in tickers],
        value,
        short_term_rate=cfg.short_term_rate,
        long_term_rate=cfg.long_term_rate,
        n_lots=width,
        gain_budget=cfg.gain_budget,
        short_term_cap=cfg.short_term_cap,
        realized_gains_ytd=cfg.realized_gains_ytd,
    )


def lot_order_rules(rules: RebalanceRules, order: Mapping[str, Sequence[str]]) -> RebalanceRules:
    """``rules`` selling the lots in ``order`` (ticker -> lot ids, every lot listed)."""
    ids = tuple(i for ids in order.values() for i in ids)
    return rules.model_copy(update={"lot_method": LotMethod.SPECIFIC, "specific_lots": ids})

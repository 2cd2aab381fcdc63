"""The frozen result of the planner and its exports (JSON document, orders CSV)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from optimizer.csvout import csv_text, money_text, price_text, quantity
from optimizer.rebalance.holdings import Account, Lot, RecentSale
from optimizer.rebalance.solve import Method
from optimizer.rebalance.tax import Block, LotUse, Side

if TYPE_CHECKING:
    import pandas as pd

    from optimizer.rebalance.harvest import HarvestReport

ORDER_COLUMNS = (
    "account",
    "ticker",
    "side",
    "shares",
    "est_price",
    "notional",
    "est_cost",
    "st_gain",
    "lt_gain",
    "lots",
    "reason",
)


@dataclass(frozen=True)
class Trade:
    """One order. ``lots`` are the tax lots a sale uses (empty for a buy)."""

    ticker: str
    side: Side
    shares: float
    price: float  # estimated execution price (the limit an operator may use)
    notional: float
    lots: tuple[LotUse, ...]
    cost: float  # commission plus spread, estimated
    reason: str

    @property
    def st_gain(self) -> float:
        return sum(u.gain for u in self.lots if u.short_term)

    @property
    def lt_gain(self) -> float:
        return sum(u.gain for u in self.lots if not u.short_term)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticker": self.ticker,
            "side": self.side.value,
            "shares": self.shares,
            "est_price": self.price,
            "notional": self.notional,
            "est_cost": self.cost,
            "st_gain": self.st_gain,
            "lt_gain": self.lt_gain,
            "lots": [
                {
                    "lot_id": u.lot_id,
                    "acquired": u.acquired.isoformat(),
                    "shares": u.shares,
                    "cost_per_share": u.cost_per_share,
                    "gain": u.gain,
                    "short_term": u.short_term,
                }
                for u in self.lots
            ],
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Position:
    """A post-trade position with its weight, target and drift (weights)."""

    ticker: str
    shares: float
    value: float
    weight: float
    target: float
    band: float

    @property
    def drift(self) -> float:
        return self.weight - self.target

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticker": self.ticker,
            "shares": self.shares,
            "value": self.value,
            "weight": self.weight,
            "target": self.target,
            "drift": self.drift,
            "band": self.band,
        }


@dataclass(frozen=True)
class TradePlan:
    """What to trade in one account, and the account as it will be afterwards."""

    account: str
    as_of: dt.date
    trades: tuple[Trade, ...]
    holdings: tuple[Position, ...]  # after the trades
    cash_before: float
    deposit: float
    withdraw: float
    cash_after: float  # residual cash, after trades and estimated costs
    cash_target: float  # weight
    value_before: float  # after the cash flow, before trades
    value_after: float
    method: Method
    method_note: str
    blocked: tuple[Block, ...]
    no_trade_reason: str | None
    account_after: Account  # lots and cash after the trades (buys dated ``as_of``)
    warnings: tuple[str, ...] = ()  # fallbacks and anything else the user must see
    harvest: HarvestReport | None = None  # the tax-loss harvesting pass, when configured

    @property
    def total_cost(self) -> float:
        return sum(t.cost for t in self.trades)

    def metrics(self) -> dict[str, Any]:
        v = self.value_after
        drifts = [abs(p.drift) for p in self.holdings]
        return {
            "value_before": self.value_before,
            "value_after": v,
            "cash_before": self.cash_before,
            "deposit": self.deposit,
            "withdraw": self.withdraw,
            "residual_cash": self.cash_after,
            "cash_weight": self.cash_after / v if v > 0 else 0.0,
            "cash_target": self.cash_target,
            "n_trades": len(self.trades),
            "total_cost": self.total_cost,
            "turnover": sum(t.notional for t in self.trades) / v if v > 0 else 0.0,
            "st_gain": sum(t.st_gain for t in self.trades),
            "lt_gain": sum(t.lt_gain for t in self.trades),
            "max_abs_drift": max(drifts, default=0.0),
            "method": self.method.value,
            "method_note": self.method_note,
            "no_trade_reason": self.no_trade_reason,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "as_of": self.as_of.isoformat(),
            "trades": [t.to_dict() for t in self.trades],
            "holdings": [p.to_dict() for p in self.holdings],
            "metrics": self.metrics(),
            "blocked": [b.to_dict() for b in self.blocked],
            "warnings": list(self.warnings),
            "harvest": None if self.harvest is None else self.harvest.to_dict(),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per trade: ``ticker``, ``side``, ``shares``, ``price``, ``notional``,
        ``cost``, ``st_gain``, ``lt_gain``, ``lots`` and ``reason`` (numbers as floats)."""
        import pandas as pd

        columns = ["ticker", "side", "shares", "price", "notional", "cost"]
        rows = [
            (t.ticker, t.side.value, t.shares, t.price, t.notional, t.cost, t.st_gain,
             t.lt_gain, ";".join(u.label() for u in t.lots), t.reason)
            for t in self.trades
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=[*columns, "st_gain", "lt_gain", "lots", "reason"])

    def order_rows(self) -> list[dict[str, Any]]:
        """One row per order, columns ``ORDER_COLUMNS``, for an operations team."""
        return [
            {
                "account": self.account,
                "ticker": t.ticker,
                "side": t.side.value,
                "shares": quantity(t.shares),
                "est_price": price_text(t.price),
                "notional": money_text(t.notional),
                "est_cost": money_text(t.cost),
                "st_gain": money_text(t.st_gain),
                "lt_gain": money_text(t.lt_gain),
                "lots": ";".join(u.label() for u in t.lots),
                "reason": t.reason,
            }
            for t in self.trades
        ]


def orders_csv(plans: list[TradePlan]) -> str:
    """The orders of several plans as one CSV text (header always present)."""
    rows = ([row[c] for c in ORDER_COLUMNS] for plan in plans for row in plan.order_rows())
    return csv_text(ORDER_COLUMNS, rows)


def post_trade_account(
    account: Account, trades: tuple[Trade, ...], cash: float, as_of: dt.date
) -> Account:
    """``account`` after ``trades``: sold shares leave their lots, buys are new lots.

    Each lot a sale used becomes a ``RecentSale`` (with its gain and acquisition date), so
    the wash-sale guard of a later plan sees this plan's sales and buys.
    """
    if not trades:
        return account if cash == account.cash else replace(account, cash=cash)
    taken: dict[tuple[str, str, dt.date, float], float] = {}
    for t in trades:
        for u in t.lots:
            key = (t.ticker, u.lot_id, u.acquired, u.cost_per_share)
            taken[key] = taken.get(key, 0.0) + u.shares
    lots: list[Lot] = []
    for lot in account.lots:
        key = (lot.ticker, lot.lot_id, lot.acquired, lot.cost_per_share)
        used = taken.pop(key, 0.0)
        left = lot.shares - used
        if left > 1e-9:  # an untouched lot stays the same object
            lots.append(lot if not used else Lot(lot.ticker, left, lot.cost_per_share,
                                                 lot.acquired, lot.lot_id))  # fmt: skip
    sales = [RecentSale(t.ticker, as_of, u.gain, u.acquired) for t in trades for u in t.lots]
    for t in trades:
        if t.side is Side.BUY:
            lots.append(Lot(t.ticker, t.shares, t.price, as_of, f"new-{t.ticker}-{as_of}"))
    return Account(
        account.id, cash, tuple(lots), (*account.recent_sales, *sales), account.recent_buys
    )

"""Tax-loss harvesting with substitutes: a pass beside the planner.

After the rebalance is planned, each ticker of ``[tax.harvest] substitutes`` that the plan
does not buy is looked at: its lots at a loss (those the rules let the planner sell) are
sold when the tax benefit, ``sum(loss_j * rate_j)`` (the short-term rate on short-term
lots, the long-term rate on long-term ones), less the estimated costs of the sale and of the
substitute's purchase, reaches the threshold (``min_benefit`` money and ``min_benefit_pct``
of the account, the larger of the two). The first usable substitute is bought for the value
sold, in whole shares (one share's price at most below it), so the exposure stays. A harvest
of a ticker the plan also sells joins that sale (one order per ticker and side).

Wash-sale rules (through :mod:`optimizer.rebalance.tax`, with ``rules.identical``): no
harvest of a ticker bought, itself or a substantially identical ticker, within the window
before the trade date (lots' acquisition dates, recent buys); the plan does not buy the sold
ticker back (it does not trade it), and a substitute declared substantially identical to
the ticker is never bought for it (the output says so).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import Field, field_validator, model_validator

from optimizer.config import StrictModel
from optimizer.limits import MAX_MONEY
from optimizer.rebalance.holdings import Account
from optimizer.rebalance.result import Position, Trade, TradePlan, post_trade_account
from optimizer.rebalance.rules import RebalanceRules
from optimizer.rebalance.tax import LotUse, Rule, Side, buy_block, sellable_lots, take_lots


class HarvestConfig(StrictModel):
    """``[tax.harvest]``: substitutes, substantially identical groups and the threshold."""

    substitutes: dict[str, tuple[str, ...]] = Field(default_factory=dict)  # ticker -> in order
    identical: tuple[tuple[str, ...], ...] = ()  # groups declared substantially identical
    min_benefit: float = Field(0.0, ge=0.0, le=MAX_MONEY)  # net benefit, money
    min_benefit_pct: float = Field(0.0, ge=0.0, le=1.0)  # ... or fraction of the account

    @field_validator("substitutes", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _upper(self) -> HarvestConfig:
        subs = {t.upper(): tuple(s.upper() for s in v) for t, v in self.substitutes.items()}
        named: dict[str, str] = {}
        for ticker, names in subs.items():
            if not names:
                raise ValueError(f"substitutes.{ticker}: give at least one substitute")
            for sub in names:
                first = named.setdefault(sub, ticker)
                if first != ticker:
                    raise ValueError(
                        f"substitutes: {sub} is named for {first} and {ticker}; a substitute "
                        "stands in for one ticker"
                    )
        groups = tuple(tuple(t.upper() for t in g) for g in self.identical)
        for group in groups:
            if len(group) < 2:
                raise ValueError("identical: each group names at least two tickers")
        object.__setattr__(self, "substitutes", subs)
        object.__setattr__(self, "identical", groups)
        return self

    def substitute_tickers(self) -> tuple[str, ...]:
        """Every substitute named, in order of first mention."""
        return tuple(dict.fromkeys(s for names in self.substitutes.values() for s in names))

    def held_for(self) -> dict[str, str]:
        """substitute -> the ticker whose exposure it holds (the first that names it)."""
        out: dict[str, str] = {}
        for ticker, names in self.substitutes.items():
            for s in names:
                out.setdefault(s, ticker)
        return out


@dataclass(frozen=True)
class Harvested:
    """One ticker harvested: the loss lots sold, the substitute bought, benefit and costs."""

    ticker: str
    substitute: str
    lots: tuple[LotUse, ...]
    short_term_loss: float  # money, > 0
    long_term_loss: float
    benefit: float  # tax value of the losses at the account's rates
    cost: float  # estimated cost of the sale and of the substitute's purchase
    sold: float  # value sold
    bought: float  # value of the substitute bought

    @property
    def net(self) -> float:
        return self.benefit - self.cost

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticker": self.ticker,
            "substitute": self.substitute,
            "lots": [u.lot_id or u.acquired.isoformat() for u in self.lots],
            "short_term_loss": self.short_term_loss,
            "long_term_loss": self.long_term_loss,
            "loss": self.short_term_loss + self.long_term_loss,
            "tax_benefit": self.benefit,
            "cost": self.cost,
            "net_benefit": self.net,
            "sold": self.sold,
            "bought": self.bought,
        }


@dataclass(frozen=True)
class HarvestReport:
    """What the harvesting pass did (``harvested``) and did not do, and why (``skipped``:
    ticker -> reason)."""

    harvested: tuple[Harvested, ...]
    skipped: tuple[tuple[str, str], ...]
    threshold: float  # money, the net benefit a harvest must reach

    @property
    def loss(self) -> float:
        return sum(h.short_term_loss + h.long_term_loss for h in self.harvested)

    def to_dict(self) -> dict[str, Any]:
        return {
            "harvested": [h.to_dict() for h in self.harvested],
            "skipped": [{"ticker": t, "reason": why} for t, why in self.skipped],
            "threshold": self.threshold,
            "loss": self.loss,
            "tax_benefit": sum(h.benefit for h in self.harvested),
            "cost": sum(h.cost for h in self.harvested),
            "net_benefit": sum(h.net for h in self.harvested),
        }


def harvest(
    plan: TradePlan,
    prices: Mapping[str, float],
    rules: RebalanceRules,
    cfg: HarvestConfig,
    *,
    short_term_rate: float,
    long_term_rate: float,
) -> TradePlan:
    """``plan`` with the harvests that pass the threshold added (see the module doc).

    ``prices`` must price the plan's tickers and every substitute; ``rules`` are the
    account's (with ``identical`` set from ``cfg``)."""
    as_of, account = plan.as_of, plan.account_after
    bought = {t.ticker for t in plan.trades if t.side is Side.BUY}
    threshold = max(cfg.min_benefit, cfg.min_benefit_pct * plan.value_before)
    rates = (long_term_rate, short_term_rate)
    done: list[Harvested] = []
    skipped: list[tuple[str, str]] = []
    trades = list(plan.trades)
    cash = plan.cash_after
    for ticker in cfg.substitutes:
        if not account.lots_of(ticker) or ticker not in prices:
            continue
        price = prices[ticker]
        sellable, blocks = sellable_lots(account, ticker, price, as_of, rules)
        losses = [lot for lot in sellable if price < lot.cost_per_share]
        held_at_loss = any(price < lot.cost_per_share for lot in account.lots_of(ticker))
        if not held_at_loss:
            continue
        why = _not_harvested(ticker, bought & rules.alike(ticker), blocks, losses)
        if why:
            skipped.append((ticker, why))
            continue
        sub, refusals = _substitute(account, ticker, cfg, rules, as_of)
        skipped += refusals
        if sub is None:
            skipped.append((ticker, "no substitute can be bought today"))
            continue
        k = next((i for i, t in enumerate(trades) if t.ticker == ticker), None)
        planned = trades[k] if k is not None else None  # the rebalance's sale of the ticker
        got = _one(ticker, sub, losses, prices, rules, rates, cash, as_of, plan.value_before,
                   planned)  # fmt: skip
        if isinstance(got, str):
            skipped.append((ticker, got))
            continue
        item, pair = got
        if item.net < threshold or item.net <= 0:
            skipped.append((ticker, f"net benefit {item.net:,.2f} (tax benefit "
                            f"{item.benefit:,.2f} less costs {item.cost:,.2f}) is below the "
                            f"threshold {threshold:,.2f}"))  # fmt: skip
            continue
        cash += item.sold - item.bought - item.cost
        account = post_trade_account(account, pair, cash, as_of)
        done.append(item)
        if planned is None:
            trades.append(pair[0])
        else:  # one order per ticker and side: the harvest joins the rebalance's sale
            trades[k] = _joined(planned, pair[0], rules)
        trades.append(pair[1])
    report = HarvestReport(tuple(done), tuple(skipped), threshold)
    if not done:
        return replace(plan, harvest=report)
    return _with_trades(plan, tuple(trades), account, cash, prices, cfg, report)


def _joined(planned: Trade, extra: Trade, rules: RebalanceRules) -> Trade:
    """The rebalance's sale and the harvest's sale of one ticker as one order."""
    q = planned.shares + extra.shares
    return Trade(planned.ticker, Side.SELL, q, planned.price, q * planned.price,
                 (*planned.lots, *extra.lots), rules.order_cost(q, planned.price),
                 f"{planned.reason}; {extra.reason}")  # fmt: skip


def _not_harvested(ticker: str, bought: set[str], blocks: list, losses: list) -> str | None:
    if bought:
        return (f"not harvested: the rebalance buys {', '.join(sorted(bought))} today "
                "(a loss sale would be a wash sale)")  # fmt: skip
    wash = next((b for b in blocks if b.rule is Rule.WASH_SALE), None)
    if wash is not None:
        return f"not harvested: {wash.reason}"
    if not losses:
        reasons = "; ".join(b.reason for b in blocks) or "no sellable lot"
        return f"its lots at a loss cannot be sold today ({reasons})"
    return None


def _substitute(
    account: Account, ticker: str, cfg: HarvestConfig, rules: RebalanceRules, as_of: dt.date
) -> tuple[str | None, list[tuple[str, str]]]:
    """The first substitute of ``ticker`` that may be bought today, and why others may not."""
    refusals: list[tuple[str, str]] = []
    for sub in cfg.substitutes[ticker]:
        if sub in rules.alike(ticker):
            refusals.append((ticker, f"{sub} is declared substantially identical to {ticker}: "
                             "never used as its substitute for harvesting"))  # fmt: skip
            continue
        block = buy_block(account, sub, as_of, rules)
        if block is not None:
            refusals.append((ticker, f"substitute {sub} not bought: {block.reason}"))
            continue
        return sub, refusals
    return None, refusals


def _one(
    ticker: str,
    sub: str,
    losses: list,
    prices: Mapping[str, float],
    rules: RebalanceRules,
    rates: tuple[float, float],
    cash: float,
    as_of: dt.date,
    value: float,
    planned: Trade | None,
) -> tuple[Harvested, tuple[Trade, Trade]] | str:
    """The sale of the loss lots and the substitute's purchase, or why they cannot be made;
    with ``planned`` (the rebalance's own sale of the ticker) the sale's cost is what
    joining that order adds."""
    p, ps = prices[ticker], prices[sub]
    shares = sum(lot.shares for lot in losses)
    uses = take_lots(losses, shares, p, as_of, rules)
    sold = shares * p
    step = rules.share_step
    q = math.floor(sold / ps / step + 1e-9) * step  # the value sold, in whole units
    sell_cost = rules.order_cost(shares, p)
    if planned is not None:
        sell_cost = rules.order_cost(planned.shares + shares, p) - planned.cost
    while q > 0 and cash + sold - q * ps - sell_cost - rules.order_cost(q, ps) < -1e-9:
        q -= step  # the costs come out of cash: never below zero
    if q <= 0:
        return f"one share of {sub} ({ps:,.2f}) costs more than the {sold:,.2f} sold"
    minimum = rules.min_order(value)
    if min(sold, q * ps) < minimum:
        return f"the orders ({sold:,.2f}) are below the minimum trade"
    buy_cost = rules.order_cost(q, ps)
    st = -sum(u.gain for u in uses if u.short_term)
    lt = -sum(u.gain for u in uses if not u.short_term)
    benefit = sum(-u.gain * rates[u.short_term] for u in uses)
    item = Harvested(ticker, sub, uses, st, lt, benefit, sell_cost + buy_cost, sold, q * ps)
    why = f"tax-loss harvest: loss {st + lt:,.2f}, tax benefit {benefit:,.2f}"
    pair = (
        Trade(ticker, Side.SELL, shares, p, sold, uses, sell_cost, why),
        Trade(sub, Side.BUY, q, ps, q * ps, (), buy_cost, f"substitute for {ticker} "
              "(tax-loss harvest)"),
    )  # fmt: skip
    return item, pair


def _with_trades(
    plan: TradePlan,
    trades: tuple[Trade, ...],
    account: Account,
    cash: float,
    prices: Mapping[str, float],
    cfg: HarvestConfig,
    report: HarvestReport,
) -> TradePlan:
    """``plan`` with the harvest's trades, holdings, cash and account after them; a
    substitute's target is the part of its ticker's target it now holds."""
    shares = dict(account.positions)
    tickers = [*(pos.ticker for pos in plan.holdings)]
    tickers += [t for t in shares if t not in tickers]
    value = cash + sum(shares.get(t, 0.0) * prices[t] for t in tickers)
    old = {pos.ticker: pos for pos in plan.holdings}
    weight = {t: shares.get(t, 0.0) * prices[t] / value if value > 0 else 0.0 for t in tickers}
    target = {t: old[t].target if t in old else 0.0 for t in tickers}
    for sub, ticker in cfg.held_for().items():
        if sub in weight and ticker in target:
            both = target[ticker] + target[sub]
            target[sub] = min(weight[sub], both)
            target[ticker] = both - target[sub]
    holdings = tuple(
        Position(t, shares.get(t, 0.0), shares.get(t, 0.0) * prices[t], weight[t], target[t],
                 old[t].band if t in old else 0.0)
        for t in tickers
    )  # fmt: skip
    n = len(report.harvested)
    return replace(
        plan,
        trades=trades,
        holdings=holdings,
        cash_after=cash,
        value_after=value,
        method_note=f"{plan.method_note}; tax-loss harvest of {n} ticker(s)",
        no_trade_reason=None,
        account_after=account,
        harvest=report,
    )

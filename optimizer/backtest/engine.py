"""The walk-forward loop: month after month, each strategy decides with the data up to the
decision date (the first NYSE session of the month, as the monthly job), its orders fill
at the close of the next date the data has, costs are paid as the planner estimates them,
lots carry forward, cash accrues at the cash asset's price, and realised gains are taxed
once a year.

Execution re-prices the plan's whole-share orders at the fill prices: notional, spread
and commission (``RebalanceRules.order_cost``), and each sold lot's gain; the account
after the fill is ``post_trade_account`` with the new lots dated the fill date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from optimizer.backtest.model import Month, TaxRates
from optimizer.backtest.strategies import Decision, Strategy
from optimizer.errors import ConfigError, DataError
from optimizer.rebalance.holdings import Account, Lot
from optimizer.rebalance.result import Trade, post_trade_account
from optimizer.rebalance.rules import RebalanceRules
from optimizer.rebalance.tax import Side, short_term


@dataclass(frozen=True)
class Step:
    """One month of the schedule."""

    month: str  # "YYYY-MM"
    decided: dt.date  # the first NYSE session of the month: data up to it
    executed: dt.date  # the next date of the data after it: the fill


class Market:
    """The universe's prices (cash asset included), forward-filled, for fills and marks.
    The decisions never read it: they go through the pipeline with its as-of cut."""

    def __init__(self, frame: pd.DataFrame, cash: str | None) -> None:
        self.frame = frame.sort_index().ffill()
        self.cash = cash
        self.dates = [d.date() for d in self.frame.index]

    def at(self, date: dt.date) -> dict[str, float]:
        """Each ticker's last price on or before ``date`` (NaN before its first)."""
        row = self.frame.loc[: pd.Timestamp(date)]
        if row.empty:
            raise DataError("no price on or before this date", key="backtest", value=str(date))
        return {str(k): float(v) for k, v in row.iloc[-1].items()}

    def after(self, date: dt.date) -> dt.date | None:
        """The first date of the data strictly after ``date``."""
        i = self.frame.index.searchsorted(pd.Timestamp(date), side="right")
        return self.dates[i] if i < len(self.dates) else None

    def cash_growth(self, t0: dt.date, t1: dt.date) -> float:
        """What one unit of cash held from ``t0`` to ``t1`` grows to (1 without a cash asset)."""
        if self.cash is None or t1 <= t0:
            return 1.0
        return self.at(t1)[self.cash] / self.at(t0)[self.cash]


def schedule(start: tuple[int, int], end: tuple[int, int], market: Market) -> list[Step]:
    """Decision and fill dates of every month from ``start`` to ``end`` (inclusive)."""
    from optimizer.jobs.sessions import first_sessions

    label = f"{end[0]:04d}-{end[1]:02d}"
    if start > end:
        raise ConfigError(
            f"--start {start[0]:04d}-{start[1]:02d} is after --end", key="--end", value=label
        )
    sessions = first_sessions(start, end)
    steps: list[Step] = []
    year, month = start
    while (year, month) <= end:
        decided = sessions[(year, month)]
        executed = market.after(decided)
        if executed is None:
            raise ConfigError(
                f"no price after {decided} to fill the orders of {year:04d}-{month:02d}; "
                f"the data ends {market.dates[-1]}",
                key="--end",
                value=label,
            )
        steps.append(Step(f"{year:04d}-{month:02d}", decided, executed))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return steps


def net_tax(st: float, lt: float, carry: float, tax: TaxRates) -> tuple[float, float]:
    """A year's tax on net short- and long-term gains and the loss carried forward (<= 0).

    A net loss of one kind offsets a net gain of the other; a loss carried from earlier
    years offsets short-term gains first, then long-term ones."""
    st += carry
    if st < 0 and lt > 0:
        st, lt = 0.0, lt + st
    elif lt < 0 and st > 0:
        st, lt = st + lt, 0.0
    if st < 0 and lt > 0:  # the carried loss was larger than the short-term gains
        st, lt = 0.0, lt + st
    loss = min(st, 0.0) + min(lt, 0.0)
    return max(st, 0.0) * tax.short_term + max(lt, 0.0) * tax.long_term, loss


def fill(
    account: Account,
    decision: Decision,
    prices: dict[str, float],
    when: dt.date,
    rules: RebalanceRules,
) -> tuple[Account, tuple[Trade, ...], float, str | None]:
    """``account`` after its plan's orders fill at ``prices`` on ``when``; the orders as
    filled, the money withdrawn (tax paid), and a note when buys were cut. Orders are
    sized at the decision's closes and fill at the next ones: when prices rose between,
    the buys would spend cash the account does not have, so the largest buys are cut by
    whole shares until cash stays at or above zero (what a broker does to an order beyond
    the buying power)."""
    plan = decision.plan
    if plan is None or (not plan.trades and plan.withdraw == 0 and plan.deposit == 0):
        return account, (), 0.0, None
    trades = [_refill(t, prices[t.ticker], when, rules) for t in plan.trades]
    start = account.cash + plan.deposit - plan.withdraw

    def cash_after() -> float:
        flows = (t.notional if t.side is Side.SELL else -t.notional for t in trades)
        return start + sum(flows) - sum(t.cost for t in trades)

    short, cut = -cash_after(), 0.0
    while cash_after() < -1e-9:
        buys = [i for i, t in enumerate(trades) if t.side is Side.BUY and t.shares > 0]
        if not buys:
            break  # a withdrawal the sales cannot cover: as planned
        i = max(buys, key=lambda j: trades[j].notional)
        t = trades[i]
        step = rules.share_step
        less = min(t.shares, step * math.ceil(-cash_after() / t.price / step - 1e-9))
        shares = round(t.shares - max(less, step), 10)
        trades[i] = dataclasses.replace(
            t, shares=shares, notional=shares * t.price, cost=rules.order_cost(shares, t.price)
        )
        cut += t.notional - trades[i].notional
    kept = tuple(t for t in trades if t.shares > 0)
    note = None
    if cut > 0:
        note = (
            f"buys cut by {cut:,.2f} at the fill on {when}: prices rose after the decision, "
            f"and the orders would have left cash {-short:,.2f}"
        )
    account = post_trade_account(account, kept, cash_after(), when)
    return account, kept, plan.withdraw, note


def _refill(t: Trade, price: float, when: dt.date, rules: RebalanceRules) -> Trade:
    if not price > 0:
        raise DataError("no price to fill an order", key=t.ticker, value=str(when))
    lots = tuple(
        dataclasses.replace(
            u,
            gain=u.shares * (price - u.cost_per_share),
            short_term=short_term(
                Lot(t.ticker, u.shares, u.cost_per_share, u.acquired), when, rules
            ),
        )
        for u in t.lots
    )
    cost = rules.order_cost(t.shares, price)
    return dataclasses.replace(t, price=price, notional=t.shares * price, lots=lots, cost=cost)


def mark(account: Account, prices: dict[str, float], cash_ticker: str | None) -> dict[str, float]:
    """Market value of each holding (cash under the cash ticker, or ``CASH``)."""
    values = {t: s * prices[t] for t, s in account.positions.items() if s}
    key = cash_ticker or "CASH"
    values[key] = values.get(key, 0.0) + account.cash
    return values


@dataclass
class Book:
    """One strategy's running state."""

    strategy: Strategy
    account: Account
    rules: RebalanceRules
    tax: TaxRates | None
    last: dt.date  # the date the account's cash was last accrued to
    year: int
    gains: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # st, lt, carry
    tax_due: float = 0.0
    months: list[Month] = field(default_factory=list)

    def close_year(self) -> None:
        if self.tax is not None:
            due, carry = net_tax(*self.gains, self.tax)
            self.tax_due += due
            self.gains = [0.0, 0.0, carry]

    def step(self, s: Step, market: Market, final: bool) -> None:
        if s.decided.year != self.year:
            self.close_year()
            self.year = s.decided.year
        acct = self._accrue(s.decided, market)
        decision = self.strategy.decide(s.decided, acct, self.tax_due)
        acct = self._accrue(s.executed, market, acct)
        prices = market.at(s.executed)
        before = sum(mark(acct, prices, market.cash).values())
        acct, trades, paid, cut = fill(acct, decision, prices, s.executed, self.rules)
        self.tax_due -= paid
        st = sum((t.st_gain for t in trades), 0.0)
        lt = sum((t.lt_gain for t in trades), 0.0)
        self.gains[0] += st
        self.gains[1] += lt
        if final:  # the last year's tax, paid from cash at the end of the run
            self.close_year()
            acct = dataclasses.replace(acct, cash=acct.cash - self.tax_due)
            paid, self.tax_due = paid + self.tax_due, 0.0
        self.account = acct
        values = mark(acct, prices, market.cash)
        value = sum(values.values())
        self.months.append(
            Month(
                month=s.month, decided=s.decided, executed=s.executed, value_before=before,
                value=value, costs=sum((t.cost for t in trades), 0.0), taxes=paid, st_gain=st,
                lt_gain=lt, traded=sum((t.notional for t in trades), 0.0), n_trades=len(trades),
                weights={t: v / value for t, v in values.items()} if value else {},
                targets=decision.targets, trades=trades,
                notes=(*decision.notes, cut) if cut else decision.notes,
            )
        )  # fmt: skip

    def _accrue(self, to: dt.date, market: Market, acct: Account | None = None) -> Account:
        acct = acct or self.account
        growth = market.cash_growth(self.last, to)
        self.last = max(self.last, to)
        return acct if growth == 1.0 else dataclasses.replace(acct, cash=acct.cash * growth)


def walk(
    books: Sequence[Book],
    steps: Sequence[Step],
    market: Market,
    *,
    after_month: Callable[[int], None] | None = None,
) -> None:
    """Run every book through every step (``after_month(k)`` after month ``k``)."""
    for k, s in enumerate(steps):
        for book in books:
            book.step(s, market, final=k == len(steps) - 1)
        if after_month is not None:
            after_month(k)

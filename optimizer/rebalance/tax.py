"""Tax lots: which lots a sale uses, what it realises, and which trades the tax rules block.

A lot is short-term when held one year or less on the trade date (not sold after its first
anniversary), or ``rules.long_term_days`` days or fewer when that is set.
Nothing bought on the trade date is sold on it, and nothing sold on it is bought back (no
same-day round trips: a second plan on the same day never undoes the first).
The wash-sale guard blocks (a) a buy of a ticker sold at a loss within
``rules.wash_sale_days`` days before the trade date (that day included: a trade 30 days
before is inside the 30-day window, one 31 days before is not) and (b) a loss sale of a
ticker bought within that window (the lots' acquisition dates and the account's recent buys
are the record of buys); a trade in a ticker declared substantially identical
(``rules.identical``) counts as a trade in the ticker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from optimizer.csvout import quantity
from optimizer.rebalance.holdings import Account, Lot
from optimizer.rebalance.rules import LotMethod, RebalanceRules


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class Rule(StrEnum):
    """The rule behind a blocked trade."""

    DO_NOT_BUY = "do_not_buy"
    DO_NOT_SELL = "do_not_sell"
    WASH_SALE = "wash_sale"
    SHORT_TERM_GAIN = "block_short_term_gains"
    SPECIFIC_LOTS = "specific_lots"
    SAME_DAY = "same_day"  # no round trip on the trade date


@dataclass(frozen=True)
class Block:
    """A trade (or part of one) a rule forbids; ``shares`` is how much it withheld."""

    ticker: str
    side: Side
    rule: Rule
    shares: float  # shares withheld from trading (inf: the whole side)
    reason: str
    lots: tuple[Lot, ...] = ()  # the lots a blocked sale withholds (empty for a buy)

    def to_dict(self) -> dict:
        return {
            "ticker": self.ticker,
            "side": self.side.value,
            "rule": self.rule.value,
            "shares": None if self.shares == float("inf") else self.shares,
            "reason": self.reason,
            "lots": [
                {"lot_id": lot.lot_id, "acquired": lot.acquired.isoformat(), "shares": lot.shares}
                for lot in self.lots
            ],
        }


@dataclass(frozen=True)
class LotUse:
    """Shares taken from one lot by a sale, with the gain they realise."""

    lot_id: str
    acquired: dt.date
    shares: float
    cost_per_share: float
    gain: float
    short_term: bool

    def label(self) -> str:
        name = self.lot_id or self.acquired.isoformat()
        return f"{name}:{quantity(self.shares)}@{quantity(self.cost_per_share)}"


def short_term(lot: Lot, as_of: dt.date, rules: RebalanceRules) -> bool:
    """Held ``rules.long_term_days`` days or fewer; unset: not sold after the purchase's
    first anniversary (one year, not 365 days: a lot bought 2023-03-01 is short-term on
    2024-03-01, 366 days later; one bought on 29 February has its anniversary on the 28th)."""
    if rules.long_term_days is not None:
        return (as_of - lot.acquired).days <= rules.long_term_days
    bought = lot.acquired
    if bought.year >= dt.MAXYEAR:
        return True
    day = 28 if (bought.month, bought.day) == (2, 29) else bought.day
    return as_of <= bought.replace(year=bought.year + 1, day=day)


def holding_rule(rules: RebalanceRules) -> str:
    """The short-term holding period in words."""
    if rules.long_term_days is None:
        return "held one year or less"
    return f"held {rules.long_term_days} days or fewer"


def _order_key(method: LotMethod, price: float, as_of: dt.date, rules: RebalanceRules) -> Callable:
    keys: dict[LotMethod, Callable[[Lot], tuple]] = {
        LotMethod.HIFO: lambda lot: (-lot.cost_per_share, lot.acquired),
        LotMethod.FIFO: lambda lot: (lot.acquired, -lot.cost_per_share),
        LotMethod.TAX_OPTIMAL: lambda lot: (
            price > lot.cost_per_share,
            short_term(lot, as_of, rules),
            price - lot.cost_per_share,
            lot.acquired,
        ),
    }
    return keys[method]


def sell_order(
    lots: Sequence[Lot], price: float, as_of: dt.date, rules: RebalanceRules
) -> list[Lot]:
    """Lots in the order the configured method sells them (specific: listed lots only)."""
    if rules.lot_method is LotMethod.SPECIFIC:
        rank = {lot_id: i for i, lot_id in enumerate(rules.specific_lots)}
        return sorted((lot for lot in lots if lot.lot_id in rank), key=lambda lot: rank[lot.lot_id])
    return sorted(lots, key=_order_key(rules.lot_method, price, as_of, rules))


def sellable_lots(
    account: Account, ticker: str, price: float, as_of: dt.date, rules: RebalanceRules
) -> tuple[list[Lot], list[Block]]:
    """The lots a sale of ``ticker`` may use, in selling order, and the blocks that apply."""
    lots = account.lots_of(ticker)
    held = sum(lot.shares for lot in lots)
    if ticker in rules.do_not_sell:
        why = f"{ticker} is do-not-sell"
        return [], [Block(ticker, Side.SELL, Rule.DO_NOT_SELL, held, why, tuple(lots))]
    ordered = sell_order(lots, price, as_of, rules)
    blocks: list[Block] = []
    if rules.lot_method is LotMethod.SPECIFIC and len(ordered) < len(lots):
        withheld = held - sum(lot.shares for lot in ordered)
        unlisted = tuple(lot for lot in lots if lot not in ordered)
        why = "lots not listed in specific_lots are not sold"
        blocks.append(Block(ticker, Side.SELL, Rule.SPECIFIC_LOTS, withheld, why, unlisted))
    tests = [(
        Rule.SAME_DAY, lambda lot: lot.acquired >= as_of,
        f"bought on {as_of.isoformat()}: not sold again on the same trade date",
    ), *_sell_tests(account, ticker, price, as_of, rules)]  # fmt: skip
    for rule, test, why in tests:
        kept = [lot for lot in ordered if not test(lot)]
        withheld = tuple(lot for lot in ordered if test(lot))
        if sum(lot.shares for lot in withheld) > 0:
            shares = sum(lot.shares for lot in ordered) - sum(lot.shares for lot in kept)
            blocks.append(Block(ticker, Side.SELL, rule, shares, why, withheld))
        ordered = kept
    return ordered, blocks


def _sell_tests(
    account: Account, ticker: str, price: float, as_of: dt.date, rules: RebalanceRules
) -> list[tuple[Rule, Callable[[Lot], bool], str]]:
    tests: list[tuple[Rule, Callable[[Lot], bool], str]] = []
    if rules.block_short_term_gains:
        tests.append(
            (
                Rule.SHORT_TERM_GAIN,
                lambda lot: price > lot.cost_per_share and short_term(lot, as_of, rules),
                f"selling these lots at {price:g} would realise a short-term gain "
                f"({holding_rule(rules)})",
            )
        )
    if rules.wash_sale_guard:
        last = last_buy(account, ticker, as_of, rules)
        if last is not None:
            day, which = last
            alike = "" if which == ticker else f" ({which}, substantially identical)"
            tests.append(
                (
                    Rule.WASH_SALE,
                    lambda lot: price < lot.cost_per_share,
                    f"loss sale of {ticker} blocked: bought{alike} on {day.isoformat()}, "
                    f"within {rules.wash_sale_days} days",
                )
            )
    return tests


def last_buy(
    account: Account, ticker: str, as_of: dt.date, rules: RebalanceRules
) -> tuple[dt.date, str] | None:
    """The latest buy of ``ticker`` or a ticker substantially identical to it within the
    wash-sale window before ``as_of`` (lots' acquisition dates, recent sales' acquisition
    dates, recent buys), with the ticker bought; None when there is none."""
    window = as_of - dt.timedelta(days=rules.wash_sale_days)
    alike = rules.alike(ticker)
    bought = [(lot.acquired, t) for t in sorted(alike) for lot in account.lots_of(t)]
    bought += [(s.acquired, s.ticker) for s in account.recent_sales
               if s.ticker in alike and s.acquired]  # fmt: skip
    bought += [(b.bought, b.ticker) for b in account.recent_buys if b.ticker in alike]
    recent = [(day, t) for day, t in bought if window <= day <= as_of]
    return max(recent) if recent else None


def buy_block(account: Account, ticker: str, as_of: dt.date, rules: RebalanceRules) -> Block | None:
    """The rule that forbids buying ``ticker`` today, if any."""
    inf = float("inf")
    if ticker in rules.do_not_buy:
        return Block(ticker, Side.BUY, Rule.DO_NOT_BUY, inf, f"{ticker} is do-not-buy")
    if any(sale.ticker == ticker and sale.sold >= as_of for sale in account.recent_sales):
        return Block(
            ticker,
            Side.BUY,
            Rule.SAME_DAY,
            inf,
            f"sold on {as_of.isoformat()}: not bought back on the same trade date",
        )
    if rules.wash_sale_guard:
        window = as_of - dt.timedelta(days=rules.wash_sale_days)
        alike = rules.alike(ticker)
        losses = [
            s
            for s in account.recent_sales
            if s.ticker in alike and s.gain < 0 and window <= s.sold <= as_of
        ]
        if losses:
            last = max(losses, key=lambda s: s.sold)
            which = "" if last.ticker == ticker else f" ({last.ticker}, substantially identical)"
            return Block(
                ticker,
                Side.BUY,
                Rule.WASH_SALE,
                inf,
                f"buy of {ticker} blocked: sold{which} at a loss on {last.sold.isoformat()}, "
                f"within {rules.wash_sale_days} days",
            )
    return None


def take_lots(
    ordered: Sequence[Lot], shares: float, price: float, as_of: dt.date, rules: RebalanceRules
) -> tuple[LotUse, ...]:
    """Consume ``shares`` from ``ordered`` lots, front first; each use carries its gain."""
    uses: list[LotUse] = []
    left = shares
    for lot in ordered:
        if left <= 1e-12:
            break
        q = min(lot.shares, left)
        left -= q
        uses.append(
            LotUse(
                lot.lot_id,
                lot.acquired,
                q,
                lot.cost_per_share,
                q * (price - lot.cost_per_share),
                short_term(lot, as_of, rules),
            )
        )
    return tuple(uses)

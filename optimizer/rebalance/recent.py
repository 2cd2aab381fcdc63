"""An account's recent-trades file: the buys and sales of the last weeks (and the year's
realised gains), for the wash-sale guard and the gain budget.

Layout (CSV, header row required, extra columns are errors)::

    date,ticker,side,shares,price,realized_gain
    2017-03-02,SMALL,buy,40,61.10,
    2017-02-20,MID,sell,50,140.00,-820.50

``side`` is ``buy`` or ``sell``; ``realized_gain`` (money, < 0 a loss) is required on a
sale and left empty on a buy. Sales dated in the trade date's calendar year add up to the
year's realised gains so far (``[tax] realized_gains_ytd`` is then left out).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

from optimizer.errors import ConfigError
from optimizer.limits import check_money, check_price
from optimizer.rebalance.holdings import Account, RecentBuy, RecentSale, _date, _number, _rows

COLUMNS = ("date", "ticker", "side", "shares", "price", "realized_gain")


@dataclass(frozen=True)
class RecentTrade:
    """One past trade; ``gain`` is the realised gain of a sale (None for a buy)."""

    day: dt.date
    ticker: str
    side: str  # "buy" or "sell"
    shares: float
    price: float
    gain: float | None


@dataclass(frozen=True)
class RecentTrades:
    """The trades of a recent-trades file, in file order; ``path`` names it in errors."""

    path: Path
    trades: tuple[RecentTrade, ...]

    def realized_ytd(self, as_of: dt.date) -> float:
        """Net realised gains of the sales dated in ``as_of``'s year, up to ``as_of``."""
        return sum(
            t.gain or 0.0 for t in self.trades
            if t.side == "sell" and t.day.year == as_of.year and t.day <= as_of
        )  # fmt: skip

    def check_before(self, as_of: dt.date) -> None:
        """A trade dated after the trade date is an error naming the file, line and date."""
        for k, t in enumerate(self.trades):
            if t.day > as_of:
                raise ConfigError(
                    f"trade dated after the as-of date {as_of.isoformat()}",
                    file=str(self.path),
                    key=f"line {k + 2} date",
                    value=t.day.isoformat(),
                    hint="trade on or after it (--as-of, or [account] as_of), or fix the date",
                )

    def apply(self, account: Account) -> Account:
        """``account`` with these buys and sales added to its recent buys and sales."""
        buys = tuple(RecentBuy(t.ticker, t.day) for t in self.trades if t.side == "buy")
        sales = tuple(
            RecentSale(t.ticker, t.day, t.gain or 0.0) for t in self.trades if t.side == "sell"
        )
        return replace(
            account,
            recent_sales=(*account.recent_sales, *sales),
            recent_buys=(*account.recent_buys, *buys),
        )


def load_recent_trades(path: str | Path) -> RecentTrades:
    """The recent-trades file (see the module docstring), checked row by row; every error
    is one ``ConfigError`` naming the file, the line and column, and the bad value."""
    p = Path(path)
    out: list[RecentTrade] = []
    for line, row in _rows(p, COLUMNS):
        where = f"line {line}"
        ticker, side = row["ticker"].upper(), row["side"].lower()
        if not ticker:
            raise ConfigError("ticker is required", file=str(p), key=f"{where} ticker")
        if side not in ("buy", "sell"):
            raise ConfigError(
                "side must be buy or sell", file=str(p), key=f"{where} side", value=row["side"]
            )
        shares = _number(row["shares"], file=p, key=f"{where} shares")
        if not shares > 0:
            raise ConfigError("shares must be positive", file=str(p), key=f"{where} shares",
                              value=shares)  # fmt: skip
        price = check_price(
            _number(row["price"], file=p, key=f"{where} price"), file=str(p), key=f"{where} price"
        )
        out.append(
            RecentTrade(
                _date(row["date"], file=p, key=f"{where} date"), ticker, side, shares, price,
                _gain(row["realized_gain"], side, file=p, key=f"{where} realized_gain"),
            )
        )  # fmt: skip
    return RecentTrades(p, tuple(out))


def _gain(text: str, side: str, *, file: Path, key: str) -> float | None:
    if side == "buy":
        if text:
            raise ConfigError("a buy realises no gain: leave it empty", file=str(file), key=key,
                              value=text)  # fmt: skip
        return None
    if not text:
        raise ConfigError("a sale needs its realised gain (< 0: a loss)", file=str(file), key=key)
    value = _number(text, file=file, key=key)
    return check_money(value, file=str(file), key=key, signed=True)

"""Holdings (tax lots and cash), prices and targets: the per-account inputs of the planner.

File layouts (CSV, header row required, extra columns are errors):

holdings    ``account,ticker,shares,cost_per_share,acquired[,lot_id]`` — one row per tax
            lot; ``cost_per_share`` is the cost basis per share (not the lot total);
            ``acquired`` is an ISO date. Cash is a row with ticker ``CASH`` whose ``shares``
            is the amount of cash (``cost_per_share`` and ``acquired`` left empty).
positions   ``account,ticker,shares`` — the custodian's stated positions, checked against
            the sum of the lots.
recent sales ``account,ticker,sold,gain[,acquired]`` — sales in the last weeks (``gain``
            < 0: a loss), for the wash-sale guard; ``acquired`` is when the sold shares
            were bought (a recent buy no longer visible in the lots).
prices      ``ticker,price``.
targets     ``ticker,weight`` — may include a ``CASH`` row; weights sum to 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from optimizer.csvout import quantity
from optimizer.errors import ConfigError, PlanError
from optimizer.files import read_text
from optimizer.limits import check_money, check_price, check_shares, parse_number
from optimizer.tickers import CASH

WEIGHT_TOL = 1e-6


@dataclass(frozen=True)
class Lot:
    """One tax lot: shares bought together at one cost per share."""

    ticker: str
    shares: float
    cost_per_share: float
    acquired: dt.date
    lot_id: str = ""
    line: int = field(default=0, compare=False, repr=False)  # of the holdings file, 0: none


@dataclass(frozen=True)
class RecentSale:
    """A past sale, for the wash-sale guard (``gain`` < 0 is a loss).

    ``acquired`` (when known) is when the sold shares were bought: a recent buy that no
    longer shows among the lots.
    """

    ticker: str
    sold: dt.date
    gain: float
    acquired: dt.date | None = None


@dataclass(frozen=True)
class RecentBuy:
    """A past buy, for the wash-sale guard (a loss sale within the window after it is a
    wash sale), e.g. from an account's recent-trades file."""

    ticker: str
    bought: dt.date


@dataclass(frozen=True)
class Account:
    """Holdings of one account: tax lots, cash, recent sales and recent buys.

    ``positions`` (ticker -> shares, summed over lots) is derived once at construction.
    """

    id: str
    cash: float
    lots: tuple[Lot, ...] = ()
    recent_sales: tuple[RecentSale, ...] = ()
    recent_buys: tuple[RecentBuy, ...] = ()
    positions: dict[str, float] = field(init=False, repr=False, compare=False)
    _by_ticker: dict[str, tuple[Lot, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pos: dict[str, float] = {}
        by: dict[str, list[Lot]] = {}
        for lot in self.lots:
            pos[lot.ticker] = pos.get(lot.ticker, 0.0) + lot.shares
            by.setdefault(lot.ticker, []).append(lot)
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "_by_ticker", {t: tuple(v) for t, v in by.items()})

    def lots_of(self, ticker: str) -> tuple[Lot, ...]:
        """The lots of ``ticker``, in file order."""
        return self._by_ticker.get(ticker, ())


def _rows(
    path: str | Path, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV file as dicts, with 1-based line numbers; header problems are errors."""
    p = Path(path)
    text = read_text(p)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_separator(text))
    try:
        written = [h.strip() for h in (reader.fieldnames or [])]
        header = [h.lower() for h in written]  # "Ticker" is ticker
        shown = ",".join(written)  # errors show the header as the file has it
        missing = [c for c in required if c not in header]
        if missing:
            raise ConfigError(
                f"missing column(s) {', '.join(missing)}; expected {','.join(required)}",
                file=str(p),
                key="header",
                value=shown,
            )
        unknown = [c for c in header if c and c not in required + optional]
        if unknown:
            raise ConfigError(
                f"unknown column(s) {', '.join(unknown)}", file=str(p), key="header", value=shown
            )
        twice = sorted({c for c in header if c and header.count(c) > 1})
        if twice:
            raise ConfigError(
                f"column {twice[0]} named twice", file=str(p), key="header", value=shown
            )
        reader.fieldnames = header
        for row in reader:
            line = reader.line_num  # the file's own line (blank lines skipped count)
            cells = [v for k, v in row.items() if k is not None] + list(row.get(None) or [])
            if not any((c or "").strip() for c in cells):  # a spreadsheet's ",,,,," row
                continue
            if None in row:
                raise ConfigError(
                    f"more cells than the {len(header)} columns of the header",
                    file=str(p),
                    key=f"line {line}",
                )
            if row.pop("", None):  # a header's trailing comma: its cells must be empty
                raise ConfigError(
                    "a value under a column with no name", file=str(p), key=f"line {line}"
                )
            yield line, {k: (v or "").strip() for k, v in row.items()}
    except csv.Error as exc:
        raise ConfigError("malformed CSV", file=str(p), hint=str(exc)) from None


def _separator(text: str) -> str:
    """The column separator: a comma, unless the header has none and exactly one of
    ``;``, tab or ``|`` (a spreadsheet's export in a comma-decimal locale)."""
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    if "," in header:
        return ","
    found = [sep for sep in (";", "\t", "|") if sep in header]
    return found[0] if len(found) == 1 else ","


def _number(text: str, *, file: Path | str, key: str) -> float:
    return parse_number(text, file=str(file), key=key)


def _date(text: str, *, file: Path | str, key: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            "not an ISO date (YYYY-MM-DD)", file=str(file), key=key, value=text
        ) from None


def load_holdings(
    path: str | Path,
    *,
    positions: str | Path | None = None,
    recent_sales: str | Path | None = None,
    whole_shares: bool = True,
) -> dict[str, Account]:
    """Accounts from a lots CSV (see the module docstring), checked lot by lot.

    Raises ``PlanError`` naming account, ticker and value for negative shares, fractional
    shares when ``whole_shares``, duplicated lots, or lots that disagree with a stated
    position; ``ConfigError`` for an unreadable file.
    """
    cash: dict[str, float] = {}
    cash_line: dict[str, int] = {}
    lots: dict[str, list[Lot]] = {}
    seen: set[tuple] = set()
    cols = ("account", "ticker", "shares", "cost_per_share", "acquired")
    for line, row in _rows(path, cols, ("lot_id",)):
        acct, ticker = row["account"], row["ticker"].upper()
        where = f"line {line}: account {acct} ticker {ticker}"
        if not acct or not ticker:
            raise ConfigError("account and ticker are required", file=str(path), key=f"line {line}")
        shares = _number(row["shares"], file=path, key=f"{where} shares")
        if ticker == CASH:
            if acct in cash_line:  # two balances are one typo away from double the cash
                raise PlanError(
                    f"a second CASH row for this account (the first is on line {cash_line[acct]})",
                    file=str(path), key=f"{where} shares", value=shares,
                    hint="one CASH row per account: add the amounts",
                )  # fmt: skip
            cash[acct], cash_line[acct] = _cash(row, shares, path=path, where=where), line
            lots.setdefault(acct, [])
            continue
        lot = _lot(row, ticker, shares, whole_shares, path=path, where=where, line=line)
        ident = (
            (acct, lot.lot_id)
            if lot.lot_id
            else (acct, ticker, shares, lot.cost_per_share, lot.acquired)
        )
        if ident in seen:
            raise PlanError(
                "duplicated lot",
                file=str(path),
                key=where,
                value=lot.lot_id or shares,
                hint="merge the rows or give each lot a distinct lot_id",
            )
        seen.add(ident)
        lots.setdefault(acct, []).append(lot)
    sales = _load_recent_sales(recent_sales, lots.keys()) if recent_sales else {}
    accounts = {
        a: Account(a, cash.get(a, 0.0), tuple(ls), tuple(sales.get(a, ())))
        for a, ls in lots.items()
    }
    if positions is not None:
        check_positions(accounts, positions)
    return accounts


def _cash(row: dict[str, str], amount: float, *, path: str | Path, where: str) -> float:
    """The amount of a cash row: money (not negative), no cost and no date."""
    for column in ("cost_per_share", "acquired"):
        if row.get(column):
            raise ConfigError(
                "a CASH row has no cost or date (its shares column is the amount)",
                file=str(path),
                key=f"{where} {column}",
                value=row[column],
                hint="leave cost_per_share and acquired empty on CASH rows",
            )
    if amount < 0:
        raise PlanError(
            "negative cash",
            file=str(path),
            key=f"{where} shares",
            value=amount,
            hint="a debit balance is not supported; net it against a withdrawal",
        )
    return check_money(amount, file=str(path), key=f"{where} shares")


def _lot(
    row: dict[str, str],
    ticker: str,
    shares: float,
    whole: bool,
    *,
    path: str | Path,
    where: str,
    line: int,
) -> Lot:
    """One lot from a holdings row; shares, cost and date checked."""
    _check_shares(shares, whole, file=path, key=f"{where} shares")
    lot = Lot(
        ticker,
        shares,
        _number(row["cost_per_share"], file=path, key=f"{where} cost_per_share"),
        _date(row["acquired"], file=path, key=f"{where} acquired"),
        row.get("lot_id", ""),
        line,
    )
    if ";" in lot.lot_id:  # (':' and '@' may: the shares and cost are read from the right)
        raise ConfigError(
            "a lot_id may not contain ';' (the orders' lots column joins lot_id:shares@cost "
            "entries with it)",
            file=str(path), key=f"{where} lot_id", value=lot.lot_id,
        )  # fmt: skip
    if lot.cost_per_share < 0:
        raise PlanError(
            "negative cost basis", file=str(path), key=f"{where} cost_per_share",
            value=lot.cost_per_share,
        )  # fmt: skip
    if lot.cost_per_share > 0:
        check_price(lot.cost_per_share, file=str(path), key=f"{where} cost_per_share")
    return lot


def _check_shares(shares: float, whole: bool, *, file: Path | str, key: str) -> None:
    if shares <= 0:
        raise PlanError("shares must be positive", file=str(file), key=key, value=shares)
    check_shares(shares, file=str(file), key=key)
    if whole and shares != int(shares):
        raise PlanError(
            "fractional shares where whole shares are required",
            file=str(file),
            key=key,
            value=shares,
            hint="set rebalance.fractional = true to allow them",
        )


def check_positions(accounts: Mapping[str, Account], path: str | Path) -> None:
    """Compare each stated position with the sum of its lots; a mismatch is a PlanError."""
    stated: dict[tuple[str, str], float] = {}
    for line, row in _rows(path, ("account", "ticker", "shares")):
        key = (row["account"], row["ticker"].upper())
        shares = _number(row["shares"], file=path, key=f"line {line} shares")
        if key[1] == CASH:
            check_money(shares, file=str(path), key=f"line {line} shares")
        else:
            check_shares(shares, file=str(path), key=f"line {line} shares")
        if key in stated:
            raise PlanError(
                "position stated twice",
                file=str(path),
                key=f"line {line} account {key[0]} ticker {key[1]}",
                value=shares,
            )
        stated[key] = shares
    for (acct, ticker), shares in stated.items():
        account = accounts.get(acct)
        held = (
            account.cash
            if account and ticker == CASH
            else (account.positions.get(ticker, 0.0) if account else 0.0)
        )
        if not math.isclose(held, shares, rel_tol=1e-9, abs_tol=1e-9):
            raise PlanError(
                f"lots add up to {quantity(held)} but the stated position is {quantity(shares)}",
                file=str(path),
                key=f"account {acct} ticker {ticker} shares",
                value=shares,
            )
    for acct, account in accounts.items():
        for ticker in account.positions:
            if (acct, ticker) not in stated:
                raise PlanError(
                    "lots held but no stated position",
                    file=str(path),
                    key=f"account {acct} ticker {ticker}",
                    value=account.positions[ticker],
                )


def _load_recent_sales(path: str | Path, accounts: Collection[str]) -> dict[str, list[RecentSale]]:
    """The sales of each of ``accounts``; a sale of another account (a mistyped id would
    switch its wash-sale guard off) is a PlanError naming the line."""
    out: dict[str, list[RecentSale]] = {}
    for line, row in _rows(path, ("account", "ticker", "sold", "gain"), ("acquired",)):
        if row["account"] not in accounts:
            raise PlanError(
                "a sale of an account the holdings do not list",
                file=str(path), key=f"line {line} account", value=row["account"],
                hint=f"accounts in the holdings: {', '.join(sorted(accounts)[:10])}",
            )  # fmt: skip
        bought = row.get("acquired", "")
        sale = RecentSale(
            row["ticker"].upper(),
            _date(row["sold"], file=path, key=f"line {line} sold"),
            check_money(
                _number(row["gain"], file=path, key=f"line {line} gain"),
                file=str(path),
                key=f"line {line} gain",
                signed=True,
            ),
            _date(bought, file=path, key=f"line {line} acquired") if bought else None,
        )
        out.setdefault(row["account"], []).append(sale)
    return out


def load_prices(path: str | Path) -> dict[str, float]:
    """``ticker -> price`` from a ``ticker,price`` CSV; a price <= 0 is a PlanError."""
    prices: dict[str, float] = {}
    for line, row in _rows(path, ("ticker", "price")):
        ticker = row["ticker"].upper()
        price = _number(row["price"], file=path, key=f"line {line} ticker {ticker} price")
        if ticker in prices:
            raise ConfigError("ticker priced twice", file=str(path), key=f"ticker {ticker}")
        if ticker == CASH and price != 1:  # it was read and never used
            raise ConfigError(
                "CASH is money, worth 1 a unit: a price for it is never used",
                file=str(path), key=f"line {line} ticker {ticker} price", value=price,
                hint="remove the CASH row",
            )  # fmt: skip
        prices[ticker] = price
    check_prices(prices, file=str(path))
    return prices


def check_prices(prices: Mapping[str, float], *, file: str | None = None) -> None:
    """Every price finite, positive and within the documented bounds."""
    for ticker, price in prices.items():
        if not (math.isfinite(price) and price > 0):
            raise PlanError(
                "price must be positive", file=file, key=f"ticker {ticker} price", value=price
            )
        check_price(price, file=file, key=f"ticker {ticker} price", error=PlanError)


def load_targets(path: str | Path) -> dict[str, float]:
    """``ticker -> weight`` from a ``ticker,weight`` CSV (checked later against prices)."""
    weights: dict[str, float] = {}
    for line, row in _rows(path, ("ticker", "weight")):
        ticker = row["ticker"].upper()
        if ticker in weights:
            raise ConfigError("ticker listed twice", file=str(path), key=f"ticker {ticker}")
        weights[ticker] = _number(
            row["weight"], file=path, key=f"line {line} ticker {ticker} weight"
        )
    if not weights:
        raise ConfigError(
            "no rows under the header: no target weights", file=str(path), key="rows",
            hint="one ticker,weight row per ticker; the weights, a CASH row included, sum to 1",
        )  # fmt: skip
    return weights


def check_targets(
    targets: Mapping[str, float], prices: Mapping[str, float], *, file: str | None = None
) -> None:
    """Weights are >= 0, sum to 1 (a ``CASH`` entry included), and name priced tickers only."""
    for ticker, w in targets.items():
        if not (math.isfinite(w) and w >= -WEIGHT_TOL):  # float noise of 1 - sum is fine
            raise PlanError(
                "weight must be >= 0", file=file, key=f"ticker {ticker} weight", value=w
            )
        if ticker != CASH and ticker not in prices:
            raise PlanError(
                "target names a ticker outside the universe (no price for it)",
                file=file,
                key=f"ticker {ticker}",
                value=w,
            )
    total = sum(targets.values())
    if abs(total - 1.0) > WEIGHT_TOL:
        raise PlanError(
            "target weights do not sum to 1",
            file=file,
            key="sum of weights",
            value=round(total, 9),
            hint="weights are fractions, not percent: 55% is 0.55"
            if 50 <= total <= 101
            else "add a CASH row for the cash weight",
        )

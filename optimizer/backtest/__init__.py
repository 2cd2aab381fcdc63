"""Walk-forward backtest of an account file's policy: the monthly job's pipeline called
month after month with the data known then, beside fixed-weight and buy-and-hold
benchmarks on the same prices, costs and cash flows (docs/backtest.md).

    from optimizer.backtest import run_backtest
    bt = run_backtest("account.toml", "2008-01", "2016-12", benchmarks=("LARGE=0.6,BOND=0.4",))
    bt.policy.values[-1]
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from optimizer.backtest.engine import Book, Market, mark, schedule, walk
from optimizer.backtest.model import Backtest, Month, StrategyPath, TaxRates
from optimizer.backtest.strategies import PolicyStrategy, benchmark_strategies, cash_ticker
from optimizer.errors import ConfigError, DataError
from optimizer.workflows.pipeline import Pipeline

if TYPE_CHECKING:
    from optimizer.account import AccountConfig
    from optimizer.data.base import PriceData
    from optimizer.rebalance.holdings import Account

__all__ = ["Backtest", "Month", "StrategyPath", "TaxRates", "run_backtest"]

DEFAULT_CASH = 1_000_000.0  # starting cash when the holdings file cannot be the start


def run_backtest(
    config: str | Path,
    start: str,
    end: str,
    *,
    benchmarks: Sequence[str] = (),
    initial_cash: float | None = None,
    tax: TaxRates | None = None,
    pipeline: Pipeline | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Backtest:
    """The policy of ``config`` and its benchmarks from month ``start`` to ``end``
    ("YYYY-MM", inclusive).

    Parameters
    ----------
    benchmarks : fixed weights such as ``"SPY=0.6,TLT=0.4"`` (universe tickers); default:
        60/40 over the assets tagged equity and bonds.
    initial_cash : start from this much cash; default: the account's holdings file when
        every lot predates the first decision, else ``DEFAULT_CASH`` in cash (noted).
    tax : rates on realised gains; None: the account's ``[tax]`` rates when it is taxable,
        else no taxes (stated in the result).
    progress : called as ``progress(done, total)`` after each month.
    """
    from optimizer.account import load_account

    t0 = time.perf_counter()
    if initial_cash is not None and not initial_cash > 0:
        raise ConfigError("the starting cash must be above 0", key="--initial-cash",
                          value=initial_cash)  # fmt: skip
    cfg = load_account(config)
    if tax is None and cfg.tax.taxable:
        tax = TaxRates(cfg.tax.short_term_rate, cfg.tax.long_term_rate)
    first, last = _month(start, "--start"), _month(end, "--end")
    pipeline = pipeline or Pipeline()
    cash = cash_ticker(cfg)
    got = _prices(cfg)
    market = Market(got.frame, cash)
    steps = schedule(first, last, market)
    data_start = cfg.data.start
    if data_start is not None and steps[0].decided <= data_start:
        raise ConfigError(
            f"the first decision ({steps[0].decided}) is not after the account's [data] start "
            f"{data_start}: no history to estimate from",
            key="--start", value=start,
            hint="start the backtest later, or move [data] start earlier",
        )  # fmt: skip
    account, notes = initial_account(cfg, steps[0].decided, initial_cash)
    strategies = [
        PolicyStrategy(cfg, pipeline),
        *benchmark_strategies(cfg, pipeline, tuple(benchmarks), bool(account.lots)),
    ]
    d0 = steps[0].decided
    books = [Book(s, account, cfg.rebalance, tax, d0, d0.year) for s in strategies]

    def after_month(k: int) -> None:
        pipeline.estimates.clear()  # one estimate per month: never reused across months
        pipeline.prices.clear()
        if progress is not None:
            progress(k + 1, len(steps))

    walk(books, steps, market, after_month=after_month)
    start_value = sum(mark(account, market.at(d0), cash).values())
    paths = [
        StrategyPath(b.strategy.name, b.strategy.kind, b.strategy.description, start_value,
                     tuple(b.months))
        for b in books
    ]  # fmt: skip
    fills = [d0, *(s.executed for s in steps)]
    return Backtest(
        config=str(cfg.path),
        start=steps[0].month,
        end=steps[-1].month,
        policy=paths[0],
        benchmarks=tuple(paths[1:]),
        tax=tax,
        tags={t: tuple(a.tags) for t, a in cfg.policy.universe.assets.items()},
        provenance={**got.provenance.to_dict(), "decisions": "first NYSE session of each "
                    "month, data up to it; fills at the next close of the data"},
        risk_free=tuple(market.cash_growth(a, b) - 1.0 for a, b in itertools.pairwise(fills)),
        notes=(*notes, _tax_note(tax)),
        compilations=pipeline.compilations,
        seconds=time.perf_counter() - t0,
    )  # fmt: skip


def _tax_note(tax: TaxRates | None) -> str:
    if tax is None:
        return "taxes: none (no tax rates given); realised gains are still reported"
    return (
        f"taxes: {tax.short_term:.1%} on net short-term and {tax.long_term:.1%} on net "
        "long-term gains of each year, paid in the next January (the last year's at the end)"
    )


def _month(text: str, key: str) -> tuple[int, int]:
    from optimizer.jobs.calendar import FIRST_PERIOD, split_period

    try:
        ym = split_period(text)
    except ConfigError:
        raise ConfigError("expected a month as YYYY-MM", key=key, value=text) from None
    if ym < FIRST_PERIOD:
        raise ConfigError(
            f"before {FIRST_PERIOD[0]}-{FIRST_PERIOD[1]:02d}, the first month the exchange "
            "calendar serves", key=key, value=text,
        )  # fmt: skip
    return ym


def initial_account(
    cfg: AccountConfig, first_decision: dt.date, initial_cash: float | None
) -> tuple[Account, tuple[str, ...]]:
    """The account the run starts from, and a note saying which."""
    from optimizer.rebalance.holdings import Account, load_holdings

    if initial_cash is not None:
        return Account(cfg.account.id, float(initial_cash)), (
            f"start: {initial_cash:,.2f} in cash",
        )
    path = cfg.holdings_path
    if path is not None:
        accounts = load_holdings(path, whole_shares=not cfg.rebalance.fractional)
        account = accounts.get(cfg.account.id)
        if account is not None and all(lot.acquired <= first_decision for lot in account.lots):
            return account, (f"start: the holdings of {path.name}",)
        why = (
            f"{path.name} has lots acquired after {first_decision}"
            if account is not None
            else f"{path.name} has no lots for {cfg.account.id}"
        )
        return Account(cfg.account.id, DEFAULT_CASH), (
            f"start: {DEFAULT_CASH:,.0f} in cash ({why})",
        )
    return Account(cfg.account.id, DEFAULT_CASH), (f"start: {DEFAULT_CASH:,.0f} in cash",)


def _prices(cfg: AccountConfig) -> PriceData:
    """The universe's daily prices and, with [tax.harvest], its substitutes' (a harvest
    buys them); a substitute the source lacks is an error naming its key."""
    harvest = cfg.tax.harvest
    subs = harvest.substitute_tickers() if harvest is not None else ()
    try:
        got = cfg.data.provider(cfg.path).prices([*cfg.tickers, *subs], cfg.data.start,
                                                 cfg.data.end)  # fmt: skip
    except DataError as exc:
        if harvest is None or exc.value not in subs:
            raise
        ticker = next(t for t, names in harvest.substitutes.items() if exc.value in names)
        raise ConfigError(
            f"substitute: {exc.message}", file=str(cfg.path),
            key=f"tax.harvest.substitutes.{ticker}", value=exc.value,
            hint="choose a substitute the price source covers",
        ) from exc  # fmt: skip
    return got

"""Everything a rebalancing run reads, gathered and checked before any plan is made.

Only the CLI (and job runners) call this module; the planner itself takes plain mappings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optimizer.config import read_toml, validate
from optimizer.errors import ConfigError, PlanError
from optimizer.rebalance.holdings import (
    CASH,
    Account,
    check_prices,
    check_targets,
    load_holdings,
    load_prices,
    load_targets,
)
from optimizer.rebalance.rules import RebalanceRules


@dataclass(frozen=True)
class RunInputs:
    """Accounts, targets, prices and rules of one run, already validated."""

    accounts: dict[str, Account]
    targets: dict[str, float]
    prices: dict[str, float]
    rules: RebalanceRules
    provenance: dict[str, Any]
    warnings: tuple[str, ...] = ()  # of the whole run (prices older than the trade date)


def _config(path: str | None) -> tuple[RebalanceRules, dict[str, float] | None]:
    if path is None:
        return RebalanceRules(), None
    data = read_toml(path)
    unknown = sorted(set(data) - {"rebalance", "targets"})
    if unknown:
        raise ConfigError("unknown section; known: rebalance, targets", file=path, key=unknown[0])
    rules = validate(RebalanceRules, data.get("rebalance", {}), file=path, prefix="rebalance")
    raw = data.get("targets")
    if raw is None:
        return rules, None
    if not isinstance(raw, dict):
        raise ConfigError("must be a table of ticker = weight", file=path, key="targets")
    targets: dict[str, float] = {}
    for ticker, weight in raw.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ConfigError(
                "weight must be a number", file=path, key=f"targets.{ticker}", value=weight
            )
        targets[str(ticker).upper()] = float(weight)
    return rules, targets


def _source_prices(
    source: str, tickers: list[str], as_of: dt.date | None
) -> tuple[dict[str, float], dt.date | None, list[str]]:
    """Each ticker's own last close on or before ``as_of`` (the trade date), the oldest
    of their dates, and warnings: that date more than a few business days before the
    trade date, or a trade date well inside the data (adjusted closes are not the prices
    traded then)."""
    import pandas as pd

    from optimizer.data import get_provider
    from optimizer.data.freshness import (
        DEFAULT_MAX_PRICE_AGE,
        LastPrice,
        business_days,
        staleness,
    )

    if not tickers:  # an account of cash only: nothing to price
        return {}, None, []
    provider = get_provider(source)
    used_on = as_of or dt.date.today()
    out, dates, later = {}, {}, []
    for ticker in tickers:  # one at a time: a joint frame is cut to the common window
        series = provider.prices([ticker]).frame[ticker].dropna()
        upto = series.loc[: pd.Timestamp(used_on)]
        if upto.empty:
            raise PlanError("ticker has no price", key=f"source {source} ticker {ticker}")
        out[ticker] = float(upto.iloc[-1])
        dates[ticker] = upto.index[-1].date()
        if business_days(used_on, series.index[-1].date()) > DEFAULT_MAX_PRICE_AGE:
            later.append(ticker)
    oldest = min(dates, key=lambda t: (dates[t], t))
    stale = staleness(LastPrice(source, oldest, dates[oldest]), used_on, DEFAULT_MAX_PRICE_AGE)
    warnings = [stale.message()] if stale else []
    if later:
        warnings.append(
            f"the trade date {used_on} is well inside the data of {', '.join(later)}: its "
            "closes are adjusted for the dividends and splits since, not the prices traded "
            "then"
        )
    return out, dates[oldest], warnings


def _prices(
    prices: str | None,
    source: str | None,
    accounts: dict[str, Account],
    targets: dict[str, float],
    as_of: dt.date | None = None,
) -> tuple[dict[str, float], dt.date | None, list[str]]:
    if prices:
        return load_prices(prices), None, []
    if not source:
        raise ConfigError("no prices: give --prices FILE or --source SOURCE", key="prices")
    held = {t for a in accounts.values() for t in a.positions}
    wanted = sorted(held | {t for t in targets if t != CASH})
    price_map, day, warnings = _source_prices(source, wanted, as_of)
    check_prices(price_map, file=f"source {source}")
    return price_map, day, warnings


def _case_twins(accounts: Mapping[str, Any], holdings: str) -> list[str]:
    """A warning per group of account ids that differ only in case (``a1`` beside ``A1``):
    each is planned as its own account, which a mistyped row rarely means."""
    groups: dict[str, list[str]] = {}
    for acct in accounts:
        groups.setdefault(acct.casefold(), []).append(acct)
    return [
        f"{holdings}: accounts {', '.join(sorted(ids))} differ only in case: each is planned "
        "as a separate account"
        for ids in groups.values()
        if len(ids) > 1
    ]


def gather(
    *,
    holdings: str,
    targets: str | None,
    config: str | None,
    prices: str | None,
    source: str | None,
    positions: str | None = None,
    recent_sales: str | None = None,
    account: str | None = None,
    as_of: dt.date | None = None,
) -> RunInputs:
    """Read and cross-check every input file; raise one error line on the first problem."""
    rules, cfg_targets = _config(config)
    target_map = load_targets(targets) if targets else cfg_targets
    if target_map is None:
        raise ConfigError(
            "no target weights: give --targets FILE or a [targets] table",
            file=config,
            key="targets",
        )
    accounts = load_holdings(
        holdings, positions=positions, recent_sales=recent_sales, whole_shares=not rules.fractional
    )
    warnings = _case_twins(accounts, holdings)
    if account is not None:
        if account not in accounts:
            raise PlanError(
                "account not found in holdings",
                file=holdings,
                key="account",
                value=account,
                hint=f"known: {', '.join(sorted(accounts)[:10])}",
            )
        accounts = {account: accounts[account]}
    price_map, price_day, price_warnings = _prices(prices, source, accounts, target_map, as_of)
    warnings += price_warnings
    target_file = targets or config
    for ticker, w in target_map.items():  # a missing price is the prices' fault, said so
        if ticker != CASH and ticker not in price_map:
            raise PlanError(
                f"ticker has no price (the targets give it weight {w:g})",
                file=prices or f"source {source}",
                key=f"ticker {ticker}",
                hint=f"add a {ticker} row to the prices, or drop it from {target_file}",
            )
    check_targets(target_map, price_map, file=target_file)
    for acct in accounts.values():
        for ticker, shares in acct.positions.items():
            if ticker not in price_map:
                raise PlanError(
                    "ticker has no price",
                    file=prices or source,
                    key=f"account {acct.id} ticker {ticker} shares",
                    value=shares,
                )
    provenance = {
        "holdings": holdings,
        "targets": target_file,
        "prices": prices or f"source {source}",
        "positions": positions,
        "recent_sales": recent_sales,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if price_day is not None:  # the oldest of the source's last closes used
        provenance["prices_date"] = price_day.isoformat()
    return RunInputs(accounts, target_map, price_map, rules, provenance, tuple(warnings))

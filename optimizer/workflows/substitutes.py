"""[tax.harvest] substitutes in the per-account pipeline: their prices, the part of their
ticker's target they keep, and their lots' selling order (optimizer/rebalance/harvest.py
harvests; this module lets a held substitute stand in for its ticker)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from optimizer.errors import ConfigError, DataError

if TYPE_CHECKING:
    from optimizer.account import AccountConfig
    from optimizer.rebalance.holdings import Account
    from optimizer.workflows.pipeline import Pipeline, Position


def substitute_prices(
    pipeline: Pipeline, cfg: AccountConfig, data_as_of: dt.date | None, as_of: dt.date
) -> dict[str, float]:
    """Each [tax.harvest] substitute's price: from the account's prices file, or from its
    data source on the date the universe is priced on (``data_as_of``; a series ending
    before it has no price then). A missing one is an error naming file, key and ticker."""
    harvest = cfg.tax.harvest
    assert harvest is not None
    day = data_as_of or as_of

    def missing(sub: str, source: str, why: str = "") -> ConfigError:
        ticker = next(t for t, names in harvest.substitutes.items() if sub in names)
        return ConfigError(
            f"substitute has no price on {day.isoformat()} from {source}",
            file=str(cfg.path), key=f"tax.harvest.substitutes.{ticker}", value=sub,
            hint=why or "choose a substitute the price source covers",
        )  # fmt: skip

    if cfg.prices_path is not None:
        from optimizer.rebalance.holdings import load_prices

        got = load_prices(cfg.prices_path)
        for sub in harvest.substitute_tickers():
            if sub not in got:
                raise missing(sub, str(cfg.prices_path))
        return {t: got[t] for t in harvest.substitute_tickers()}
    source, out = f"[data] source {cfg.data.source}", {}
    for sub in harvest.substitute_tickers():  # one at a time: say which is missing
        try:
            close = pipeline.last_close(cfg, sub, data_as_of)
        except DataError as exc:
            raise missing(sub, source, exc.message) from None
        if close is None:
            raise missing(sub, source)
        if data_as_of is not None and close[1] < data_as_of:
            raise missing(sub, source, f"its last close is on {close[1].isoformat()}")
        out[sub] = close[0]
    return out


def substitute_lot_order(
    cfg: AccountConfig, position: Position, account: Account
) -> dict[str, tuple[str, ...]]:
    """The lots of each held substitute in tax-optimal order (the optimizer's tax term
    orders its tickers' lots; a substitute is not one of them)."""
    from optimizer.rebalance.taxlots import tax_order

    assert cfg.tax.harvest is not None
    out = {}
    for sub in cfg.tax.harvest.held_for():
        lots = account.lots_of(sub)
        if lots:
            ordered = tax_order(lots, position.prices[sub], position.as_of, cfg.rebalance, cfg.tax)
            out[sub] = tuple(lot.lot_id for lot in ordered)
    return out


def substitute_targets(
    cfg: AccountConfig, position: Position, targets: dict[str, float]
) -> dict[str, float]:
    """A held substitute keeps the part of its ticker's target that it holds (the ticker
    is bought for the rest), so a harvest is not undone by the next plan."""
    assert cfg.tax.harvest is not None and position.account is not None
    out = dict(targets)
    for sub, ticker in cfg.tax.harvest.held_for().items():
        held = position.account.positions.get(sub, 0.0) * position.prices.get(sub, 0.0)
        if held > 0 and position.value > 0:
            out[sub] = min(held / position.value, out.get(ticker, 0.0))
            out[ticker] = out.get(ticker, 0.0) - out[sub]
    return {t: w for t, w in out.items() if w > 1e-12}

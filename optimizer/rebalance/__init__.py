"""Rebalancing planner: holdings and tax lots → whole-share, tax-aware trades.

Public API::

    from optimizer.rebalance import load_holdings, plan, RebalanceRules
    accounts = load_holdings("lots.csv")
    result = plan(accounts["A1"], {"SPY": 0.6, "BND": 0.4}, {"SPY": 500.0, "BND": 72.0})
"""

from optimizer.rebalance.holdings import (
    CASH,
    Account,
    Lot,
    RecentSale,
    check_targets,
    load_holdings,
    load_prices,
    load_targets,
)
from optimizer.rebalance.plan import plan
from optimizer.rebalance.result import Position, Trade, TradePlan, orders_csv
from optimizer.rebalance.rules import BandTarget, LotMethod, RebalanceRules, rules_from_toml
from optimizer.rebalance.solve import Method
from optimizer.rebalance.tax import Block, LotUse, Rule, Side

__all__ = [
    "CASH",
    "Account",
    "BandTarget",
    "Block",
    "Lot",
    "LotMethod",
    "LotUse",
    "Method",
    "Position",
    "RebalanceRules",
    "RecentSale",
    "Rule",
    "Side",
    "Trade",
    "TradePlan",
    "check_targets",
    "load_holdings",
    "load_prices",
    "load_targets",
    "orders_csv",
    "plan",
    "rules_from_toml",
]

"""Tax-loss harvesting with substitutes on hand-built accounts, against numbers worked out
by hand here (benefit = loss x rate - costs), and the wash-sale cases around it."""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from optimizer.account import load_account
from optimizer.rebalance import Account, Lot, RebalanceRules, RecentSale, plan
from optimizer.rebalance.harvest import HarvestConfig, harvest
from optimizer.rebalance.holdings import RecentBuy
from optimizer.rebalance.tax import Rule, buy_block
from optimizer.workflows.pipeline import Pipeline
from optimizer.workflows.proposal import build_proposal
from tests.conftest import ROOT

AS_OF = dt.date(2024, 6, 28)
ST, LT = 0.40, 0.20  # short- and long-term rates
PRICES = {"XYZ": 100.0, "ABC": 47.0, "DEF": 31.0, "XYZ2": 99.0}
LOTS = (
    Lot("XYZ", 100, 120.0, dt.date(2023, 1, 10), "X1"),  # long-term, loss 20 a share
    Lot("XYZ", 50, 110.0, dt.date(2024, 3, 1), "X2"),  # short-term, loss 10 a share
    Lot("XYZ", 30, 80.0, dt.date(2020, 5, 4), "X3"),  # a gain: never harvested
)
CASH = 5_000.0
VALUE = CASH + 180 * 100.0
RULES = RebalanceRules(spread_bps=5, commission_per_share=0.01, commission_min=1.0)


def _plan_and_harvest(account=None, cfg=None, rules=RULES, targets=None, as_of=AS_OF):
    account = account or Account("H", CASH, LOTS)
    cfg = cfg or HarvestConfig(substitutes={"XYZ": ["ABC"]})
    rules = rules.model_copy(update={"identical": cfg.identical})
    targets = targets or {"XYZ": 18_000 / VALUE, "CASH": CASH / VALUE}  # inside the bands
    base = plan(account, targets, PRICES, rules, as_of=as_of)
    return base, harvest(base, PRICES, rules, cfg, short_term_rate=ST, long_term_rate=LT)


def test_benefit_is_loss_times_rate_less_costs_exactly():
    base, done = _plan_and_harvest()
    assert base.trades == ()  # the rebalance itself trades nothing
    (h,) = done.harvest.harvested
    # by hand: X1 loses 100 x 20 = 2,000 long-term, X2 50 x 10 = 500 short-term
    assert h.long_term_loss == 2_000.0 and h.short_term_loss == 500.0
    assert h.benefit == pytest.approx(2_000 * LT + 500 * ST, abs=1e-9)  # 600
    # 150 XYZ sold for 15,000: floor(15,000 / 47) = 319 ABC (14,993)
    sell_cost = 5e-4 * 15_000 + max(1.0, 0.01 * 150)  # 9.00
    buy_cost = 5e-4 * 319 * 47 + max(1.0, 0.01 * 319)  # 10.6865
    assert h.cost == pytest.approx(sell_cost + buy_cost, abs=1e-9)
    assert h.net == pytest.approx(600 - 19.6865, abs=1e-9)
    sell, buy = done.trades
    assert (sell.ticker, sell.side.value, sell.shares) == ("XYZ", "sell", 150)
    assert {u.lot_id for u in sell.lots} == {"X1", "X2"}  # the gain lot X3 stays
    assert (buy.ticker, buy.side.value, buy.shares) == ("ABC", "buy", 319)
    assert sell.st_gain == -500.0 and sell.lt_gain == -2_000.0
    # cash and value after: the proceeds less the substitute and both orders' costs
    assert done.cash_after == pytest.approx(CASH + 15_000 - 14_993 - h.cost, abs=1e-9)
    assert done.value_after == pytest.approx(VALUE - h.cost, abs=1e-9)
    doc = done.to_dict()["harvest"]
    assert doc["harvested"][0]["net_benefit"] == pytest.approx(h.net)
    assert doc["loss"] == 2_500.0


@pytest.mark.parametrize(
    ("money", "pct", "harvested"),
    [
        (580.31, 0.0, True),
        (580.32, 0.0, False),  # net 580.3135: just below
        (0.0, 580.0 / VALUE, True),
        (0.0, 581.0 / VALUE, False),
    ],
)
def test_threshold_in_money_and_as_a_fraction(money, pct, harvested):
    cfg = HarvestConfig(substitutes={"XYZ": ["ABC"]}, min_benefit=money, min_benefit_pct=pct)
    _, done = _plan_and_harvest(cfg=cfg)
    assert bool(done.harvest.harvested) is harvested
    if not harvested:
        (why,) = done.harvest.skipped
        assert "below the threshold" in why[1] and done.trades == ()


@pytest.mark.parametrize(
    ("price", "commission"), [(47.0, 0.0), (313.37, 0.01), (9.99, 0.005), (1234.5, 0.0)]
)
def test_the_substitute_keeps_the_exposure(price, commission):
    prices = {**PRICES, "ABC": price}
    rules = RULES.model_copy(update={"commission_per_share": commission})
    account = Account("H", CASH, LOTS)
    targets = {"XYZ": 18_000 / VALUE, "CASH": CASH / VALUE}
    base = plan(account, targets, prices, rules, as_of=AS_OF)
    cfg = HarvestConfig(substitutes={"XYZ": ["ABC"]})
    done = harvest(base, prices, rules, cfg, short_term_rate=ST, long_term_rate=LT)
    (h,) = done.harvest.harvested
    assert 0 <= h.sold - h.bought < price  # within one share's price
    assert h.sold == 150 * 100.0
    held = {p.ticker: p.value for p in done.holdings}
    assert held["XYZ"] + held["ABC"] == pytest.approx(18_000 - (h.sold - h.bought))


@pytest.mark.parametrize(("days", "blocked"), [(1, True), (30, True), (31, False)])
def test_a_recent_buy_blocks_the_harvest_within_30_days(days, blocked):
    buy = RecentBuy("XYZ", AS_OF - dt.timedelta(days=days))
    account = Account("H", CASH, LOTS, recent_buys=(buy,))
    _, done = _plan_and_harvest(account=account)
    assert bool(done.harvest.harvested) is not blocked
    if blocked:
        (why,) = done.harvest.skipped
        assert f"bought on {buy.bought.isoformat()}" in why[1] and done.trades == ()


def test_a_lot_bought_within_30_days_blocks_the_harvest():
    recent = Lot("XYZ", 5, 101.0, AS_OF - dt.timedelta(days=20), "X4")
    account = Account("H", CASH, (*LOTS, recent))
    _, done = _plan_and_harvest(account=account)
    assert not done.harvest.harvested
    assert "bought on" in done.harvest.skipped[0][1]


def test_a_recent_buy_of_a_substantially_identical_ticker_blocks_the_harvest():
    buy = RecentBuy("XYZ2", AS_OF - dt.timedelta(days=12))
    account = Account("H", CASH, LOTS, recent_buys=(buy,))
    cfg = HarvestConfig(substitutes={"XYZ": ["ABC"]}, identical=[["XYZ", "XYZ2"]])
    _, done = _plan_and_harvest(account=account, cfg=cfg)
    assert not done.harvest.harvested
    assert "XYZ2, substantially identical" in done.harvest.skipped[0][1]
    plain = HarvestConfig(substitutes={"XYZ": ["ABC"]})  # not declared: no block
    assert _plan_and_harvest(account=account, cfg=plain)[1].harvest.harvested


def test_a_substantially_identical_substitute_is_never_used():
    cfg = HarvestConfig(substitutes={"XYZ": ["ABC", "DEF"]}, identical=[["XYZ", "ABC"]])
    _, done = _plan_and_harvest(cfg=cfg)
    (h,) = done.harvest.harvested
    assert h.substitute == "DEF"  # the next one
    ((ticker, why),) = done.harvest.skipped
    assert ticker == "XYZ" and "ABC is declared substantially identical to XYZ" in why
    only = HarvestConfig(substitutes={"XYZ": ["ABC"]}, identical=[["ABC", "XYZ"]])
    _, none = _plan_and_harvest(cfg=only)
    assert none.trades == () and not none.harvest.harvested
    reasons = [w for _, w in none.harvest.skipped]
    assert any("never used as its substitute" in w for w in reasons)
    assert any("no substitute can be bought" in w for w in reasons)


def test_a_substitute_sold_at_a_loss_recently_is_not_bought():
    sale = RecentSale("ABC", AS_OF - dt.timedelta(days=5), -100.0)
    account = Account("H", CASH, LOTS, (sale,))
    cfg = HarvestConfig(substitutes={"XYZ": ["ABC", "DEF"]})
    _, done = _plan_and_harvest(account=account, cfg=cfg)
    assert done.harvest.harvested[0].substitute == "DEF"
    assert "substitute ABC not bought" in done.harvest.skipped[0][1]


def test_no_repurchase_of_the_sold_ticker_or_an_identical_one():
    cfg = HarvestConfig(substitutes={"XYZ": ["ABC"]}, identical=[["XYZ", "XYZ2"]])
    _, done = _plan_and_harvest(cfg=cfg)
    rules = RULES.model_copy(update={"identical": cfg.identical})
    after = done.account_after
    for days in (1, 30):
        for ticker in ("XYZ", "XYZ2"):
            block = buy_block(after, ticker, AS_OF + dt.timedelta(days=days), rules)
            assert block is not None and block.rule is Rule.WASH_SALE
    assert buy_block(after, "XYZ", AS_OF + dt.timedelta(days=31), rules) is None
    # a plan the next day that wants more XYZ buys none
    targets = {"XYZ": 0.9, "ABC": 0.0, "CASH": 0.1}
    prices = PRICES
    later = plan(after, targets, prices, rules, as_of=AS_OF + dt.timedelta(days=1))
    assert "XYZ" not in {t.ticker for t in later.trades if t.side.value == "buy"}
    assert "XYZ2" not in {t.ticker for t in later.trades}


def test_a_ticker_the_rebalance_buys_is_not_harvested():
    targets = {"XYZ": 0.95, "CASH": 0.05}  # underweight: the plan buys XYZ
    base, done = _plan_and_harvest(targets=targets)
    assert any(t.ticker == "XYZ" and t.side.value == "buy" for t in base.trades)
    assert not done.harvest.harvested and done.trades == base.trades
    assert "the rebalance buys XYZ today" in done.harvest.skipped[0][1]


def test_a_harvest_joins_the_rebalance_sale_of_the_same_ticker():
    """The rebalance sells the gain lot X3 (HIFO would pick losses: FIFO sells X3 first);
    the harvest's loss lots join that order: one sale of XYZ."""
    rules = RULES.model_copy(update={"lot_method": "fifo", "band_abs": 0.01, "band_rel": None})
    targets = {"XYZ": 15_000 / VALUE, "CASH": 8_000 / VALUE}
    base, done = _plan_and_harvest(rules=rules, targets=targets)
    (planned,) = base.trades
    assert planned.side.value == "sell" and [u.lot_id for u in planned.lots] == ["X3"]
    sells = [t for t in done.trades if t.side.value == "sell"]
    assert len(sells) == 1 and sells[0].shares == 30 + 150
    (h,) = done.harvest.harvested
    extra = rules.order_cost(180, 100.0) - planned.cost  # what joining the order adds
    buy = next(t for t in done.trades if t.ticker == "ABC")
    assert h.cost == pytest.approx(extra + buy.cost, abs=1e-9)
    assert sells[0].cost == pytest.approx(rules.order_cost(180, 100.0), abs=1e-9)


def test_the_harvest_is_not_undone_by_the_next_plan():
    _, done = _plan_and_harvest()
    after = done.account_after
    value = after.cash + sum(lot.shares * PRICES[lot.ticker] for lot in after.lots)
    # the substitute holds part of XYZ's target (as the pipeline splits it)
    targets = {p.ticker: p.target for p in done.holdings}
    targets["CASH"] = 1 - sum(targets.values())
    assert math.isclose(sum(p.value for p in done.holdings) + after.cash, value)
    again = plan(after, targets, PRICES, RULES, as_of=AS_OF + dt.timedelta(days=1))
    assert again.trades == ()


# -- the recent-trades file, through the account file ---------------------------------------
def _example(tmp_path, trades: str) -> Path:
    from tests.corpus.harvest import WITH_TRADES

    shutil.copytree(ROOT / "examples" / "taxaware", tmp_path / "acct")
    (tmp_path / "acct" / "account.toml").write_text(WITH_TRADES)
    (tmp_path / "acct" / "trades.csv").write_text(
        "date,ticker,side,shares,price,realized_gain\n" + trades
    )
    return tmp_path / "acct" / "account.toml"


def test_the_recent_trades_file_supplies_the_years_realised_gains(tmp_path):
    trades = ("2016-12-20,MID,sell,10,90,7000\n"  # last year: not counted
              "2017-01-12,LARGE,sell,40,90,9000.50\n"
              "2017-02-27,BOND,sell,30,95,-1500.25\n"
              "2017-03-01,MID,buy,5,99,\n")  # fmt: skip
    run = Pipeline().run(load_account(_example(tmp_path, trades)))
    assert run.position.realized_ytd == pytest.approx(9000.50 - 1500.25)
    assert run.tax_lots.realized_gains_ytd == pytest.approx(7500.25)
    doc = build_proposal(run)
    assert doc["tax"]["tax_aware"]["realized_gains_ytd"] == pytest.approx(7500.25)
    plan = doc["tax"]["plan"]
    assert plan["gains_ytd_after"] == pytest.approx(7500.25 + plan["gain"])
    assert doc["tax"]["harvest"]["harvested"]  # buys of MID do not block SMALL


@pytest.mark.parametrize(("days", "blocked"), [(30, True), (31, False)])
def test_a_buy_in_the_recent_trades_file_blocks_the_harvest(tmp_path, days, blocked):
    day = dt.date(2017, 3, 31) - dt.timedelta(days=days)
    run = Pipeline().run(load_account(_example(tmp_path, f"{day},SMALL,buy,5,98,\n")))
    h = run.plan.harvest
    assert bool(h.harvested) is not blocked
    if blocked:
        (skip,) = h.skipped
        assert skip[0] == "SMALL" and f"bought on {day.isoformat()}" in skip[1]
        assert "MKT" not in {t.ticker for t in run.plan.trades}


def test_a_substitute_whose_prices_end_before_the_as_of_date_is_an_error(tmp_path):
    """The substitute is priced on the universe's date from the same source: a series
    that ends a month earlier has no price then (one error naming file, key, ticker)."""
    from optimizer.errors import ConfigError
    from optimizer.workflows.substitutes import substitute_prices

    rows = ["date,SMALL,MKT"] + [
        f"2017-{m:02d}-{d},{100 + m},{50 + m if m < 3 else ''}"
        for m, d in ((1, 31), (2, 28), (3, 31))
    ]
    (tmp_path / "prices.csv").write_text("\n".join(rows) + "\n")
    config = tmp_path / "account.toml"
    config.write_text(
        '[data]\nsource = "csv:prices.csv"\n\n[universe.assets.SMALL]\ntags = ["equity"]\n\n'
        '[tax]\ntaxable = true\n\n[tax.harvest]\nsubstitutes = { SMALL = "MKT" }\n'
    )
    cfg = load_account(config)
    as_of = dt.date(2017, 3, 31)
    assert substitute_prices(Pipeline(), cfg, dt.date(2017, 2, 28), as_of) == {"MKT": 52.0}
    with pytest.raises(ConfigError) as info:
        substitute_prices(Pipeline(), cfg, as_of, as_of)
    text = str(info.value)
    assert "\n" not in text and str(config) in text and "tax.harvest.substitutes.SMALL" in text
    assert "'MKT'" in text and "no price on 2017-03-31" in text and "2017-02-28" in text


# -- invariants over generated accounts (Hypothesis) -----------------------------------------
@st.composite
def harvest_cases(draw):
    price = draw(st.floats(5.0, 500.0)).__round__(2)
    sub_price = draw(st.floats(5.0, 900.0)).__round__(2)
    lots = tuple(
        Lot("XYZ", draw(st.integers(1, 400)), draw(st.floats(1.0, 900.0)).__round__(2),
            AS_OF - dt.timedelta(days=draw(st.integers(1, 2000))), f"L{j}")
        for j in range(draw(st.integers(1, 5)))
    )  # fmt: skip
    cash = draw(st.floats(0.0, 50_000.0)).__round__(2)
    rules = RebalanceRules(
        spread_bps=draw(st.sampled_from([0.0, 3.0, 10.0])),
        commission_per_share=draw(st.sampled_from([0.0, 0.005, 0.02])),
        commission_min=draw(st.sampled_from([0.0, 1.0])),
        band_abs=1.0, band_rel=None,  # the rebalance trades nothing: harvesting alone
    )  # fmt: skip
    rates = (draw(st.floats(0.0, 0.5)), draw(st.floats(0.0, 0.5)))
    threshold = draw(st.sampled_from([0.0, 10.0, 500.0]))
    return lots, cash, price, sub_price, rules, rates, threshold


# the cash (6.50) pays for 266 of the 268 shares once both orders' costs are counted: the
# cash limits the buy, not the share price
_CASH_LIMITED = (
    (Lot("XYZ", 268, 6.0, dt.date(2024, 5, 28), "L0"),), 6.5, 5.0, 5.0,
    RebalanceRules(spread_bps=3.0, commission_per_share=0.02, band_abs=1.0, band_rel=None),
    (0.5, 0.0), 0.0,
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(harvest_cases())
@example(_CASH_LIMITED)
def test_harvest_invariants(case):
    """Every loss lot the rules let the planner sell is sold exactly when its benefit less
    costs reaches the threshold (recomputed here lot by lot); the substitute is bought for
    the value sold less at most one share; cash and value are conserved."""
    lots, cash, price, sub_price, rules, (st_rate, lt_rate), threshold = case
    prices = {"XYZ": price, "ABC": sub_price}
    account = Account("G", cash, lots)
    value = cash + sum(lot.shares for lot in lots) * price
    base = plan(account, {"XYZ": 1.0 - cash / value, "CASH": cash / value}, prices, rules,
                as_of=AS_OF)  # fmt: skip
    assert base.trades == ()
    cfg = HarvestConfig(substitutes={"XYZ": ["ABC"]}, min_benefit=threshold)
    done = harvest(base, prices, rules, cfg, short_term_rate=st_rate, long_term_rate=lt_rate)
    recent = any((AS_OF - lot.acquired).days <= 30 for lot in lots)
    losses = [lot for lot in lots if lot.cost_per_share > price]
    if recent or not losses:
        assert done.trades == ()
        return
    sold_shares = sum(lot.shares for lot in losses)
    loss = {True: 0.0, False: 0.0}
    for lot in losses:
        loss[(AS_OF - lot.acquired).days <= 365] += lot.shares * (lot.cost_per_share - price)
    benefit = loss[True] * st_rate + loss[False] * lt_rate
    sold = sold_shares * price
    q = math.floor(sold / sub_price + 1e-9)
    while q > 0 and cash + sold - q * sub_price - rules.order_cost(sold_shares, price) \
            - rules.order_cost(q, sub_price) < -1e-9:  # fmt: skip
        q -= 1
    cost = rules.order_cost(sold_shares, price) + rules.order_cost(q, sub_price)
    if q <= 0 or benefit - cost < threshold or benefit - cost <= 0:
        assert done.trades == ()
        return
    (h,) = done.harvest.harvested
    assert h.benefit == pytest.approx(benefit, rel=1e-9, abs=1e-9)
    assert h.cost == pytest.approx(cost, rel=1e-9, abs=1e-9)
    sell, buy = done.trades
    assert sell.shares == sold_shares and buy.shares == q
    assert h.sold - h.bought >= 0
    if q == math.floor(sold / sub_price + 1e-9):  # not limited by cash: within one share
        assert h.sold - h.bought < sub_price
    assert done.cash_after == pytest.approx(cash + sold - q * sub_price - cost, abs=1e-6)
    assert done.cash_after >= -1e-6
    assert done.value_after == pytest.approx(value - cost, abs=1e-6)

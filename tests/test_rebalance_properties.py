"""Invariants of the planner over generated accounts (Hypothesis).

Cash never below the reserve; never sell more than held (per lot and per ticker);
post-trade holdings are the pre-trade holdings plus the trades, share for share; cash is
conserved (flows, notionals, costs); every order meets the minimum; planning again on the
post-trade account at the same prices trades nothing.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from optimizer.errors import InfeasibleError
from optimizer.rebalance import Account, Lot, RebalanceRules, Side, plan
from optimizer.rebalance.rules import BandTarget, LotMethod

AS_OF = dt.date(2026, 11, 20)
TICKERS = ("AAA", "BBB", "CCC", "DDD")


@st.composite
def cases(draw, fractional=False):
    n = draw(st.integers(1, 4))
    tickers = TICKERS[:n]
    prices = {t: draw(st.floats(1.0, 900.0)).__round__(2) for t in tickers}
    lots = []
    for t in tickers:
        for j in range(draw(st.integers(0, 3))):
            shares = (
                draw(st.integers(1, 300))
                if not fractional
                else draw(st.floats(0.01, 300.0)).__round__(4)
            )
            lots.append(
                Lot(
                    t,
                    float(shares),
                    draw(st.floats(1.0, 900.0)).__round__(2),
                    AS_OF - dt.timedelta(days=draw(st.integers(0, 1500))),
                    f"{t}{j}",
                )
            )
    cash = draw(st.floats(0.0, 50_000.0)).__round__(2)
    raw = [draw(st.floats(0.0, 1.0)) for _ in range(n + 1)]
    total = sum(raw)
    if total == 0:
        raw, total = [1.0, *raw[1:]], 1.0 + sum(raw[1:])
    targets = {t: x / total for t, x in zip((*tickers, "CASH"), raw, strict=True)}
    targets["CASH"] = max(0.0, 1.0 - sum(v for k, v in targets.items() if k != "CASH"))
    rules = RebalanceRules(
        band_abs=draw(st.sampled_from([0.0, 0.02, 0.05])),
        band_rel=draw(st.sampled_from([None, 0.25])),
        trade_to=draw(st.sampled_from(list(BandTarget))),
        drift_priority=draw(st.sampled_from([0.0, 1.0])),
        min_trade=draw(st.sampled_from([0.0, 100.0, 1000.0])),
        min_trade_pct=draw(st.sampled_from([0.0, 0.005])),
        cash_reserve=draw(st.sampled_from([0.0, 250.0])),
        cash_reserve_pct=draw(st.sampled_from([0.0, 0.01])),
        commission_per_share=draw(st.sampled_from([0.0, 0.005])),
        commission_min=draw(st.sampled_from([0.0, 1.0])),
        spread_bps=draw(st.sampled_from([0.0, 5.0])),
        lot_method=draw(st.sampled_from([m for m in LotMethod if m is not LotMethod.SPECIFIC])),
        block_short_term_gains=draw(st.booleans()),
        fractional=fractional,
        share_decimals=2,
        # the MILP's optimum, whatever the machine's load: at the default 2 s a busy machine
        # can reach the greedy fallback (a warned, degraded plan the properties do not cover)
        time_limit=60.0,
    )
    account = Account("G", cash, tuple(lots))
    value = cash + sum(lot.shares * prices[lot.ticker] for lot in lots)
    flow = draw(st.sampled_from(["none", "deposit", "withdraw"]))
    deposit = draw(st.floats(0.0, 20_000.0)).__round__(2) if flow == "deposit" else 0.0
    withdraw = (draw(st.floats(0.0, 0.5)) * value).__round__(2) if flow == "withdraw" else 0.0
    return account, targets, prices, rules, deposit, withdraw


def unfundable(account, prices, rules, deposit, withdraw):
    """Independent check: selling every lot no rule blocks cannot cover the withdrawal."""
    recent = {lot.ticker for lot in account.lots if (AS_OF - lot.acquired).days <= 30}
    sellable, fees = {}, 0.0
    for lot in account.lots:
        price = prices[lot.ticker]
        short_gain = price > lot.cost_per_share and (AS_OF - lot.acquired).days <= 365
        wash = lot.ticker in recent and price < lot.cost_per_share
        same_day = lot.acquired >= AS_OF  # no same-day round trips
        if not ((rules.block_short_term_gains and short_gain) or wash or same_day):
            sellable[lot.ticker] = sellable.get(lot.ticker, 0.0) + lot.shares
    value = account.cash + sum(lot.shares * prices[lot.ticker] for lot in account.lots)
    money = 0.0
    for ticker, q in sellable.items():
        if q * prices[ticker] >= rules.min_order(value + deposit - withdraw):
            money += q * prices[ticker]
            fees += rules.spread_bps / 1e4 * q * prices[ticker] + max(
                rules.commission_min, rules.commission_per_share * q
            )
    return account.cash + deposit - withdraw + money - fees < 1e-6


def check_invariants(account, targets, prices, rules, deposit, withdraw):
    try:
        result = plan(
            account, targets, prices, rules, deposit=deposit, withdraw=withdraw, as_of=AS_OF
        )
    except InfeasibleError:
        assert unfundable(account, prices, rules, deposit, withdraw)
        return None
    value = result.value_before
    # cash never below the reserve, unless nothing more could be sold to reach it
    if result.cash_after < rules.reserve(result.value_after) - 1e-6:  # % of post-trade value
        blocked = {b.ticker for b in result.blocked if b.side is Side.SELL}
        for pos in result.holdings:
            fee = rules.spread_bps / 1e4 * pos.value + max(
                rules.commission_min, rules.commission_per_share * pos.shares
            )
            small = pos.value < rules.min_order(value) + 1e-6 or pos.value <= fee + 1e-9
            assert pos.shares < 1e-9 or small or pos.ticker in blocked, (
                pos,
                rules,
                result.cash_after,
            )
    # never sell more than held, lot by lot and in total
    by_lot = {(lot.ticker, lot.lot_id): lot.shares for lot in account.lots}
    signed = {}
    for t in result.trades:
        held = account.positions.get(t.ticker, 0.0)
        if t.side is Side.SELL:
            assert t.shares <= held + 1e-9
            assert sum(u.shares for u in t.lots) == pytest.approx(t.shares)
            for u in t.lots:
                assert u.shares <= by_lot[(t.ticker, u.lot_id)] + 1e-9
        signed[t.ticker] = t.shares if t.side is Side.BUY else -t.shares
        # every order at least the minimum size
        assert t.notional >= rules.min_order(value) - 1e-6
        assert t.shares > 0
    # post-trade holdings are pre-trade holdings plus trades, share for share
    for pos in result.holdings:
        expected = account.positions.get(pos.ticker, 0.0) + signed.get(pos.ticker, 0.0)
        assert pos.shares == pytest.approx(expected, abs=1e-9)
        assert result.account_after.positions.get(pos.ticker, 0.0) == pytest.approx(
            expected, abs=1e-9
        )
    # cash is conserved
    flows = sum(t.notional * (1 if t.side is Side.BUY else -1) + t.cost for t in result.trades)
    assert result.cash_after == pytest.approx(account.cash + deposit - withdraw - flows, abs=1e-6)
    return result


SETTINGS = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@SETTINGS
@given(cases())
def test_invariants_whole_shares(case):
    check_invariants(*case)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(fractional=True))
def test_invariants_fractional_shares(case):
    check_invariants(*case)


@SETTINGS
@given(cases())
def test_planning_again_trades_nothing(case):
    _, targets, prices, rules, _, _ = case
    first = check_invariants(*case)
    assume(first is not None)
    again = plan(first.account_after, targets, prices, rules, as_of=AS_OF)
    assert again.trades == (), (first.trades, again.trades)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(fractional=True))
def test_planning_again_trades_nothing_fractional(case):
    _, targets, prices, rules, _, _ = case
    first = check_invariants(*case)
    assume(first is not None)
    again = plan(first.account_after, targets, prices, rules, as_of=AS_OF)
    assert again.trades == (), (first.trades, again.trades)


def test_planning_again_trades_nothing_fractional_grid_regression():
    """Found by the property above: 16.56 / 0.01 is 1655.9999999999998 in floating point, so
    the first plan could buy only 16.55 shares and a re-plan bought the last 0.01."""
    rules = RebalanceRules(band_abs=0.0, fractional=True, share_decimals=2)
    targets, prices = {"AAA": 1.0, "CASH": 0.0}, {"AAA": 1.0}
    first = plan(Account("G", 16.56, ()), targets, prices, rules, as_of=AS_OF)
    assert [(t.ticker, t.shares) for t in first.trades] == [("AAA", 16.56)]
    assert first.cash_after == pytest.approx(0.0, abs=1e-12)
    again = plan(first.account_after, targets, prices, rules, as_of=AS_OF)
    assert again.trades == ()


def test_excess_cash_buys_stop_at_the_band_edge_regression():
    """Found by the property above: BBB's buy was out of reach (one share is $220, $157
    spendable above the reserve), so the plan invested the excess cash in AAA, which sat
    at its target, taking it from 1.53 % to 2.05 %, past its ±0.38 % band; the next plan
    sold it back to fund BBB. Excess cash now buys an in-band ticker up to its band's upper
    edge only: here 25 shares, under the $64 minimum order, so nothing trades."""
    rules = RebalanceRules(band_abs=0.02, band_rel=0.25, min_trade_pct=0.005,
                           cash_reserve_pct=0.01)  # fmt: skip
    lots = (
        Lot("AAA", 1.0, 1.0, AS_OF, "AAA0"),
        Lot("AAA", 97.0, 1.0, AS_OF - dt.timedelta(days=1), "AAA1"),
        Lot("BBB", 56.0, 1.0, AS_OF, "BBB0"),
    )
    targets = {"AAA": 1 / 65, "BBB": 64 / 65, "CCC": 0.0, "CASH": 0.0}
    prices = {"AAA": 2.0, "BBB": 220.0, "CCC": 1.0}
    first = plan(Account("G", 285.0, lots), targets, prices, rules, as_of=AS_OF)
    assert first.trades == ()
    edge = (targets["AAA"] + 0.25 * targets["AAA"]) * first.value_before
    assert (edge - 196.0) / 2.0 < 32  # a whole-share buy up to the edge is under $64
    assert plan(first.account_after, targets, prices, rules, as_of=AS_OF).trades == ()
    # with more cash the same account does buy AAA, and only up to its edge
    more = plan(Account("G", 2285.0, lots), targets, prices, rules, as_of=AS_OF)
    assert [t.ticker for t in more.trades if t.side is Side.BUY] == ["AAA", "BBB"]
    after = {p.ticker: p.weight for p in more.holdings}
    assert after["AAA"] <= 1.25 * targets["AAA"] + 1e-12
    assert plan(more.account_after, targets, prices, rules, as_of=AS_OF).trades == ()


def test_planning_again_trades_nothing_with_large_per_share_costs_regression():
    """Found by the property above: at $1 a share and $0.005 commission a share, targets
    on the value before costs made the plan buy 3,478 shares where 3,469 were right, and
    re-plans (which may not sell today's purchase) folded in one share per round only."""
    rules = RebalanceRules(band_abs=0.0, commission_per_share=0.005)
    lots = (
        Lot("AAA", 1.0, 1.0, AS_OF, "AAA0"),
        Lot("AAA", 1.0, 1.0, AS_OF - dt.timedelta(days=1), "AAA1"),
    )
    targets, prices = {"AAA": 0.5, "CASH": 0.5}, {"AAA": 1.0}
    first = plan(Account("G", 6958.0, lots), targets, prices, rules, as_of=AS_OF)
    assert [(t.ticker, t.side, t.shares) for t in first.trades] == [("AAA", Side.BUY, 3469.0)]
    again = plan(first.account_after, targets, prices, rules, as_of=AS_OF)
    assert again.trades == ()


def test_an_out_of_band_buy_stops_at_the_upper_edge_regression():
    """Found by the property above: AAA (0.72 %, band 1.15-1.92 %) and BBB (55 %, target
    98.5 %) both below their bands; after BBB's whole shares $1,017 was left, $578 of it
    above the reserve. The plan bought 265 AAA, one share past AAA's upper edge (the $2 it
    spent came off cash, which sat above its target), and the next plan sold 157 AAA back.
    A buy now stops at the upper edge of the ticker's band."""
    rules = RebalanceRules(band_abs=0.02, band_rel=0.25, trade_to=BandTarget.EDGE,
                           drift_priority=0.0, min_trade_pct=0.005, cash_reserve_pct=0.01,
                           time_limit=60.0)  # fmt: skip
    lots = (
        Lot("AAA", 1.0, 1.0, AS_OF, "AAA0"),
        Lot("AAA", 157.0, 1.0, AS_OF - dt.timedelta(days=1), "AAA1"),
        Lot("BBB", 67.0, 1.0, AS_OF, "BBB0"),
    )
    targets = {"AAA": 0.015384615384615385, "BBB": 0.9846153846153847, "CCC": 0.0, "CASH": 0.0}
    prices = {"AAA": 2.0, "BBB": 361.0, "CCC": 1.0}
    first = plan(Account("G", 19428.0, lots), targets, prices, rules, as_of=AS_OF)
    bought = {t.ticker: t.shares for t in first.trades if t.side is Side.BUY}
    assert set(bought) == {"AAA", "BBB"}
    after = {p.ticker: p.weight for p in first.holdings}
    assert 0.75 * targets["AAA"] <= after["AAA"] <= 1.25 * targets["AAA"]
    # 264 shares is the most the edge allows: 158 + 264 = 422 shares, $844 of $43,931
    assert bought["AAA"] <= 264.0
    assert plan(first.account_after, targets, prices, rules, as_of=AS_OF).trades == ()


def test_a_share_larger_than_the_band_is_still_bought_regression():
    """With buys stopped at the upper edge, AAA ($1,300 a share, target 5 % of $20,000,
    band 3.75-6.25 %) could never be bought: no whole share lies inside its band, and it
    stayed at 0 % every month. One share (6.5 %) is the closest to target; the next plan
    keeps it (selling it back is further away)."""
    rules = RebalanceRules(band_abs=0.02, band_rel=0.25, time_limit=60.0)
    lots = (Lot("BBB", 180.0, 100.0, AS_OF - dt.timedelta(days=400), "B0"),)
    targets = {"AAA": 0.05, "BBB": 0.95, "CASH": 0.0}
    prices = {"AAA": 1300.0, "BBB": 100.0}
    first = plan(Account("G", 2000.0, lots), targets, prices, rules, as_of=AS_OF)
    bought = {t.ticker: t.shares for t in first.trades if t.side is Side.BUY}
    assert bought["AAA"] == 1.0
    assert plan(first.account_after, targets, prices, rules, as_of=AS_OF).trades == ()

"""The backtest engine against a hand computation, and its freedom from look-ahead.

Bundled ``sample`` source (monthly month-end closes, offline). Decisions are taken on the
first NYSE session of each month with the data up to it (the previous month-end close),
and fill at the next close the data has (this month's month-end).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from optimizer.account import load_account
from optimizer.backtest import TaxRates, run_backtest
from optimizer.backtest.engine import net_tax
from optimizer.data.sample import sample_dir
from optimizer.jobs.sessions import first_session
from optimizer.rebalance.tax import Side

ACCOUNT = """
[account]
id = "bt"

[data]
source = "{source}"

[estimation]
window_years = 10

[universe.assets.LARGE]
tags = ["equity", "large_cap"]

[universe.assets.SMALL]
tags = ["equity", "small_cap"]

[universe.assets.BOND]
tags = ["bonds"]

[universe.assets.CASH]
tags = ["cash"]

[objective]
kind = "min_variance"

[constraints]
groups = ["equity >= 0.4", "small_cap <= 0.3 * equity", "cash >= 0.02"]

[rebalance]
band_abs = {band}
band_rel = 0.0
fractional = true
share_decimals = 4
min_improvement = 0.0
wash_sale_guard = false  # a month's loss sale would block next month's buy back
spread_bps = 10
commission_per_share = 0.01
"""

WEIGHTS = {"LARGE": 0.45, "SMALL": 0.15, "BOND": 0.35, "CASH": 0.05}
SPEC = "LARGE=0.45,SMALL=0.15,BOND=0.35,CASH=0.05"


def _account(tmp_path: Path, source: str = "sample", band: float = 0.0) -> Path:
    path = tmp_path / "account.toml"
    path.write_text(ACCOUNT.format(source=source, band=band))
    return path


def _hand_path(
    start: tuple[int, int], n_months: int, cash0: float, planned: list[dict[str, float]] | None
) -> list[float]:
    """The fixed-weight path computed directly from the sample's prices with pandas.

    Each month: cash accrues at the CASH series, the target shares are ``w * (V - c) / p``
    at the decision prices, ``c`` the cost of the trades themselves at those prices (a fixed
    point, as the planner takes its targets on the value after costs; docs/rebalancing.md)
    (or, when ``planned`` is given, the planner's share changes of that month: its drift
    tolerance decides whether a near-target position is touched), the orders fill at the
    next month-end close, paying 10 bp of notional plus 0.01 a share.
    """
    prices = pd.read_csv(sample_dir() / "prices.csv", index_col="date", parse_dates=True)
    risky = ["LARGE", "SMALL", "BOND"]
    h = pd.Series(0.0, index=risky)
    cash, last = cash0, None
    values = []
    year, month = start
    for k in range(n_months):
        d = pd.Timestamp(first_session(year, month))
        p_d = prices.loc[:d].iloc[-1]
        e = prices.index[prices.index > d][0]
        p_e = prices.loc[e]
        if last is not None:
            cash *= p_d["CASH"] / prices.loc[:last].iloc[-1]["CASH"]
        value_d = float((h * p_d[risky]).sum()) + cash
        if planned is None:
            c = 0.0
            for _ in range(20):  # w * (V - c(z)) / p, to a fixed point
                z = pd.Series({t: WEIGHTS[t] * (value_d - c) / p_d[t] for t in risky}) - h
                c = float((z.abs() * p_d[risky]).sum()) * 10 / 1e4 + float(z.abs().sum()) * 0.01
        else:
            z = pd.Series({t: planned[k].get(t, 0.0) for t in risky})
        cash *= p_e["CASH"] / p_d["CASH"]
        cost = float((z.abs() * p_e[risky]).sum()) * 10 / 1e4 + float(z.abs().sum()) * 0.01
        cash -= float((z * p_e[risky]).sum()) + cost
        h = h + z
        values.append(float((h * p_e[risky]).sum()) + cash)
        last = e
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return values


def _planned(path) -> list[dict[str, float]]:  # type: ignore[no-untyped-def]
    return [
        {t.ticker: t.shares if t.side.value == "buy" else -t.shares for t in m.trades}
        for m in path.months
    ]


def test_fixed_weights_equal_a_hand_computation_with_costs(tmp_path: Path) -> None:
    bt = run_backtest(_account(tmp_path), "2010-01", "2012-12", benchmarks=(SPEC,),
                      initial_cash=1_000_000)  # fmt: skip
    fixed = next(p for p in bt.benchmarks if p.name == SPEC)
    assert len(fixed.months) == 36
    # fills, costs, cash accrual and marks, from the planner's share counts: to 1e-9
    expected = _hand_path((2010, 1), 36, 1_000_000.0, _planned(fixed))
    assert fixed.values == pytest.approx(expected, rel=1e-9)
    assert sum(m.costs for m in fixed.months) > 100  # costs were paid, and counted
    # from the plain rule (shares w * V / p): the first month exactly; later ones within the
    # planner's 4-decimal shares and its allowance for the costs of the trades
    assert fixed.values[0] == pytest.approx(_hand_path((2010, 1), 1, 1e6, None)[0], rel=1e-9)
    target = _hand_path((2010, 1), 36, 1_000_000.0, None)
    assert fixed.values == pytest.approx(target, rel=1e-4)
    for m in fixed.months:
        for t, w in WEIGHTS.items():
            assert m.weights[t] == pytest.approx(w, abs=0.03)  # one month of drift at most


def test_buy_and_hold_never_trades_after_the_first_month(tmp_path: Path) -> None:
    bt = run_backtest(_account(tmp_path), "2010-01", "2011-06", benchmarks=(SPEC,),
                      initial_cash=1_000_000)  # fmt: skip
    bh = next(p for p in bt.benchmarks if p.kind == "buy-and-hold")
    assert bh.months[0].n_trades == 3
    assert all(m.n_trades == 0 for m in bh.months[1:])
    assert bh.values[0] == pytest.approx(_hand_path((2010, 1), 1, 1e6, None)[0], rel=1e-9)


def _decisions(bt, months: int) -> list[tuple]:  # type: ignore[no-untyped-def]
    out = []
    for path in bt.strategies:
        for m in path.months[:months]:
            trades = tuple((t.ticker, t.side.value, t.shares) for t in m.trades)
            out.append((path.name, m.month, tuple(sorted(m.targets.items())), trades, m.value))
    return out


def test_a_shorter_run_decides_the_same_as_a_longer_one(tmp_path: Path) -> None:
    cfg = _account(tmp_path, band=0.02)
    short = run_backtest(cfg, "2009-01", "2009-12", initial_cash=500_000)
    long = run_backtest(cfg, "2009-01", "2011-06", initial_cash=500_000)
    assert _decisions(short, 12) == _decisions(long, 12)


def test_changing_prices_after_a_month_changes_nothing_before_it(tmp_path: Path) -> None:
    """A copy of the sample whose prices after 2009-12 are shuffled and scaled: the
    decisions and values up to 2009-12 are the same."""
    data = tmp_path / "data"
    data.mkdir()
    prices = pd.read_csv(sample_dir() / "prices.csv", index_col="date", parse_dates=True)
    prices.to_csv(data / "prices.csv")
    shutil.copy(sample_dir() / "rates.csv", data / "rates.csv")
    real = run_backtest(_account(tmp_path, f"csv:{data}", 0.02), "2009-01", "2010-06",
                        initial_cash=500_000)  # fmt: skip
    after = prices.index > pd.Timestamp("2009-12-31")
    shuffled = prices[after].sample(frac=1.0, random_state=3).to_numpy() * 1.7
    prices.loc[after] = shuffled
    prices.to_csv(data / "prices.csv")
    other = tmp_path / "other"
    other.mkdir()
    changed = run_backtest(_account(other, f"csv:{data}", 0.02), "2009-01", "2010-06",
                           initial_cash=500_000)  # fmt: skip
    assert _decisions(real, 12) == _decisions(changed, 12)
    assert _decisions(real, 18) != _decisions(changed, 18)  # the change did reach the run


def test_estimates_are_new_each_month_and_the_problem_is_compiled_once(tmp_path: Path) -> None:
    from optimizer.workflows.pipeline import Pipeline

    pipeline = Pipeline()
    bt = run_backtest(_account(tmp_path), "2010-01", "2010-06", initial_cash=1e6,
                      pipeline=pipeline)  # fmt: skip
    assert pipeline.compilations == 1
    targets = [tuple(m.targets.values()) for m in bt.policy.months]
    assert len(set(targets)) > 1  # the estimate moved with the data


def test_taxes_are_netted_per_year() -> None:
    tax = TaxRates(0.4, 0.2)
    assert net_tax(1000.0, 500.0, 0.0, tax) == pytest.approx((500.0, 0.0))
    assert net_tax(-300.0, 500.0, 0.0, tax) == pytest.approx((40.0, 0.0))
    assert net_tax(1000.0, -400.0, 0.0, tax) == pytest.approx((240.0, 0.0))
    assert net_tax(100.0, 100.0, -500.0, tax) == pytest.approx((0.0, -300.0))


def test_a_taxable_account_is_taxed_at_its_own_rates(tmp_path: Path) -> None:
    """examples/taxaware has [tax] taxable = true: its rates apply without --tax-rates."""
    from tests.conftest import ROOT

    cfg = ROOT / "examples" / "taxaware" / "account.toml"
    bt = run_backtest(cfg, "2012-01", "2012-06", initial_cash=1e6)
    assert any("40.8% on net short-term" in n and "23.8% on net" in n for n in bt.notes)


def test_taxes_are_paid_from_the_account(tmp_path: Path) -> None:
    cfg = _account(tmp_path, band=0.0)
    none = run_backtest(cfg, "2010-01", "2011-12", benchmarks=(SPEC,), initial_cash=1e6)
    taxed = run_backtest(cfg, "2010-01", "2011-12", benchmarks=(SPEC,), initial_cash=1e6,
                         tax=TaxRates(0.4, 0.2))  # fmt: skip
    a = next(p for p in none.benchmarks if p.name == SPEC)
    b = next(p for p in taxed.benchmarks if p.name == SPEC)
    paid = sum(m.taxes for m in b.months)
    assert paid > 0
    assert b.months[12].taxes > 0  # 2010's tax, paid in the first month of 2011
    assert any("taxes: none" in n for n in none.notes)
    assert b.values[-1] < a.values[-1]


def test_real_data_covers_the_covid_window(shared_data: Path) -> None:
    """The real-data example on ../shared/data (skipped without it), around March 2020:
    daily data, so each fill is the session after the decision."""
    config = Path(__file__).resolve().parents[1] / "examples" / "backtest" / "realdata.toml"
    bt = run_backtest(config, "2020-01", "2020-06", benchmarks=("SPY=0.6,TLT=0.4",))
    from optimizer.backtest.metrics import stress

    for path in bt.strategies:
        assert "2020-03 covid crash" in stress(path)
        for m in path.months:
            assert m.executed > m.decided and (m.executed - m.decided).days <= 4
    assert bt.compilations == 1


HOLDINGS = """account,ticker,shares,cost_per_share,acquired,lot_id
bt,LARGE,12000,30.5,2006-03-31,L1
bt,SMALL,2000,41.0,2009-03-31,S1
bt,BOND,6000,60.0,2008-06-30,B1
bt,CASH,25000,,,
"""


def test_the_first_month_is_what_the_monthly_pipeline_plans_on_that_date(tmp_path: Path) -> None:
    """One implementation: month one of the backtest (from the holdings file) decides
    exactly what Pipeline.run decides for the same file with [account] as_of that date."""
    from optimizer.account import load_account
    from optimizer.workflows.pipeline import Pipeline

    (tmp_path / "holdings.csv").write_text(HOLDINGS)
    text = ACCOUNT.format(source="sample", band=0.02)
    (tmp_path / "bt.toml").write_text(
        text.replace('id = "bt"', 'id = "bt"\nholdings = "holdings.csv"')
    )
    (tmp_path / "job.toml").write_text(text.replace(
        'id = "bt"', 'id = "bt"\nholdings = "holdings.csv"\nas_of = 2010-01-04'))  # fmt: skip
    bt = run_backtest(tmp_path / "bt.toml", "2010-01", "2010-01")
    month = bt.policy.months[0]
    assert month.decided == dt.date(2010, 1, 4)
    assert any("holdings.csv" in n for n in bt.notes)
    run = Pipeline().run(load_account(tmp_path / "job.toml"))
    assert month.targets == dict(run.allocation.weights)
    planned = [(t.ticker, t.side, t.shares) for t in run.plan.trades]
    assert [(t.ticker, t.side, t.shares) for t in month.trades] == planned
    assert planned  # the month did trade
    assert bt.policy.start_value == pytest.approx(run.position.value, rel=1e-12)


def test_a_harvest_buys_its_substitute_at_the_market_price(tmp_path: Path) -> None:
    """examples/taxaware from its holdings in January 2017: the policy sells SMALL's loss
    lot and buys MKT, its [tax.harvest] substitute, which the backtest prices and marks
    like the universe (a substitute outside the fetched prices failed the month)."""
    from tests.conftest import ROOT

    bt = run_backtest(ROOT / "examples" / "taxaware" / "account.toml", "2017-01", "2017-01")
    month = bt.policy.months[0]
    trades = {t.ticker: t for t in month.trades}
    assert trades["SMALL"].side is Side.SELL and trades["MKT"].side is Side.BUY
    fetched = load_account(ROOT / "examples" / "taxaware" / "account.toml")
    price = fetched.data.provider(fetched.path).prices(["MKT"], None, None).frame["MKT"]
    assert trades["MKT"].price == pytest.approx(float(price.loc[str(month.executed)]), rel=1e-12)
    held = trades["MKT"].shares * trades["MKT"].price
    assert month.weights["MKT"] == pytest.approx(held / month.value, rel=1e-9)


def test_buys_sized_at_the_decision_never_overdraw_at_the_fill() -> None:
    # orders sized at the decision's closes filled at the next ones: a 2.2 % overnight rise
    # took cash to -274, and with every lot blocked from sale the policy then "kept
    # holdings" for seven months; the largest buy is cut by whole shares instead
    from optimizer.backtest.engine import fill
    from optimizer.backtest.strategies import Decision
    from optimizer.rebalance import Account, RebalanceRules, plan

    rules = RebalanceRules(band_abs=0.0, cash_reserve_pct=0.0, commission_min=1.0)
    day = dt.date(2019, 6, 3)
    account = Account("A", 100_000.0)
    targets = {"SPY": 0.6, "BND": 0.4, "CASH": 0.0}
    planned = plan(account, targets, {"SPY": 274.57, "BND": 80.60}, rules, as_of=day)
    assert planned.cash_after < 300  # invested to the last whole share
    higher = {"SPY": 274.57 * 1.022, "BND": 80.60 * 1.001}
    after, trades, _, note = fill(account, Decision(planned, targets), higher, day, rules)
    assert after.cash >= 0 and note is not None and "buys cut by" in note
    spent = sum(t.notional + t.cost for t in trades)
    assert spent == pytest.approx(100_000.0 - after.cash, abs=1e-6)
    spy = next(t for t in trades if t.ticker == "SPY")
    planned_spy = next(t for t in planned.trades if t.ticker == "SPY")
    assert 0 < planned_spy.shares - spy.shares <= 1 + 0.022 * 100_000 * 0.6 / higher["SPY"]
    # at the decision's own prices nothing is cut
    same = {"SPY": 274.57, "BND": 80.60}
    after, _, _, note = fill(account, Decision(planned, targets), same, day, rules)
    assert note is None and after.cash == pytest.approx(planned.cash_after, abs=1e-6)


def test_a_year_runs_from_its_first_fill_to_the_next_years_first_fill() -> None:
    """Fills are early in each month: "2018" is from the January 2018 fill to the January
    2019 fill (not from one December fill to the next); the first year starts at the
    start value, the last ends at the last fill, and the years chain to the whole run."""
    from optimizer.backtest.metrics import annual_returns
    from optimizer.backtest.model import Month, StrategyPath

    fills = [dt.date(2017, 12, 4), *(dt.date(2018, m, 2) for m in range(1, 13)),
             dt.date(2019, 1, 3), dt.date(2019, 2, 4)]  # fmt: skip
    values = [100.0 + 3 * k + (k % 4) for k in range(len(fills))]
    months = tuple(
        Month(f"{d:%Y-%m}", d - dt.timedelta(days=1), d, v, v, 0.0, 0.0, 0.0, 0.0, 0.0, 0, {}, {})
        for d, v in zip(fills, values, strict=True)
    )
    path = StrategyPath("p", "fixed", "", 90.0, months)
    got = annual_returns(path)
    assert got == pytest.approx({2017: values[1] / 90.0 - 1, 2018: values[13] / values[1] - 1,
                                 2019: values[-1] / values[13] - 1}, rel=1e-15)  # fmt: skip
    total = 1.0
    for r in got.values():
        total *= 1 + r
    assert total == pytest.approx(values[-1] / 90.0, rel=1e-12)

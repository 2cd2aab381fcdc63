"""The proposal rendered from a real optimisation on real prices (../shared/data).

PyPortfolioOpt computes, on monthly SPY, IWM, TLT and BND returns, an efficient frontier,
the max-Sharpe portfolio (proposed) and the performance of a fixed current mix. The page
must draw those numbers: bar heights proportional to the solver's weights (including
its ~1e-17 zeros), frontier and both portfolios on one linear map, and the risk table
showing PyPortfolioOpt's own volatility and return.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.report import render_proposal
from tests.test_report_support import find, parse, proposal_doc

TICKERS = ("SPY", "IWM", "TLT", "BND")
TAGS = {
    "SPY": ["equity", "large_cap"],
    "IWM": ["equity", "small_cap"],
    "TLT": ["bonds"],
    "BND": ["bonds"],
}
CURRENT = {"SPY": 0.45, "IWM": 0.2, "TLT": 0.1, "BND": 0.25}
RF = 0.02


def _prices(folder) -> pd.DataFrame:
    closes = {
        t: pd.read_csv(folder / "yahoo" / f"{t}.csv", index_col="Date", parse_dates=True)["Close"]
        for t in TICKERS
    }
    frame = pd.DataFrame(closes).loc["2008-01-01":"2025-12-31"].dropna()
    return frame.resample("ME").last()


@pytest.fixture(scope="module")
def solved(shared_data):
    from pypfopt import EfficientFrontier, expected_returns, risk_models

    prices = _prices(shared_data)
    mu = expected_returns.mean_historical_return(prices, frequency=12)
    sigma = risk_models.sample_cov(prices, frequency=12)
    ef = EfficientFrontier(mu, sigma)
    ef.max_sharpe(risk_free_rate=RF)
    weights = dict(zip(TICKERS, ef.weights, strict=True))
    ret, vol, sharpe = ef.portfolio_performance(risk_free_rate=RF)
    w_cur = np.array([CURRENT[t] for t in TICKERS])
    cur_ret, cur_vol = (
        float(w_cur @ mu.to_numpy()),
        float(np.sqrt(w_cur @ sigma.to_numpy() @ w_cur)),
    )
    points = []
    lo = EfficientFrontier(mu, sigma)
    lo.min_volatility()
    r_min = lo.portfolio_performance()[0]
    for target in np.linspace(r_min, mu.max() * 0.98, 8):
        f = EfficientFrontier(mu, sigma)
        f.efficient_return(float(target))
        r, v, _ = f.portfolio_performance()
        points.append({"volatility": v, "expected_return": r})
    return {
        "weights": {t: float(w) for t, w in weights.items()},
        "proposed": {"expected_return": ret, "volatility": vol, "sharpe": sharpe},
        "current": {
            "expected_return": cur_ret,
            "volatility": cur_vol,
            "sharpe": (cur_ret - RF) / cur_vol,
        },
        "points": points,
    }


@pytest.fixture(scope="module")
def page(solved):
    doc = proposal_doc()
    for key in ("trades", "trade_summary", "scenarios"):
        del doc[key]
    doc["tags"], doc["current_weights"], doc["weights"] = TAGS, CURRENT, solved["weights"]
    doc["metrics"] = {"proposed": solved["proposed"], "current": solved["current"]}
    doc["frontier"] = {
        "points": solved["points"],
        "current": {k: solved["current"][k] for k in ("volatility", "expected_return")},
        "proposed": {k: solved["proposed"][k] for k in ("volatility", "expected_return")},
    }
    return render_proposal(doc)


def test_real_solution_renders_cleanly(page):
    assert parse(page).errors == []


def test_bars_match_the_solver_weights(page, solved):
    bars = {
        (e.attrs["data-series"], e.attrs["data-category"]): e.num("height")
        for e in find(page, "weights", "rect", "bar")
    }
    k = bars[("current", "SPY")] / CURRENT["SPY"]
    for ticker in TICKERS:
        assert bars[("current", ticker)] == pytest.approx(k * CURRENT[ticker], abs=0.01)
        assert bars[("proposed", ticker)] == pytest.approx(
            k * abs(solved["weights"][ticker]), abs=0.01
        )


def test_frontier_and_portfolios_on_one_linear_map(page, solved):
    pts = find(page, "frontier", "circle", "frontier-point")
    marks = {e.attrs["data-series"]: e for e in find(page, "frontier", "circle", "marker")}
    data = [(p["volatility"], p["expected_return"]) for p in solved["points"]]
    data += [
        (solved[k]["volatility"], solved[k]["expected_return"]) for k in ("current", "proposed")
    ]
    px = [(e.num("cx"), e.num("cy")) for e in [*pts, marks["current"], marks["proposed"]]]
    (v, r), (cx, cy) = np.array(data).T, np.array(px).T
    for x, y in ((v, cx), (r, cy)):
        slope, intercept = np.polyfit(x, y, 1)
        assert np.max(np.abs(slope * x + intercept - y)) < 0.01


def test_risk_table_shows_the_solver_figures(page, solved):
    rows = [e.text for e in find(page, "risk", "tr")]
    vol = next(r for r in rows if r.startswith("Volatility"))
    ret = next(r for r in rows if r.startswith("Expected return"))
    for row, key in ((vol, "volatility"), (ret, "expected_return")):
        assert f"{100 * solved['current'][key]:.1f}%" in row
        assert f"{100 * solved['proposed'][key]:.1f}%" in row

"""Any universe: a 20-stock wide CSV without SPY optimizes, proposes and (with the factor
mapping) runs scenarios; built from ../shared/data (skipped when absent)."""

from __future__ import annotations

import json

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest

from optimizer.account import load_account
from optimizer.scenario.build import build_estimate
from tests.conftest import run_cli
from tests.realdata_support import write_stock_table


@pytest.fixture(scope="module")
def stocks(shared_data, tmp_path_factory):
    """(folder, tickers): stocks.csv (20 columns, no SPY) and a holdings file beside it."""
    folder = tmp_path_factory.mktemp("stocks")
    tickers = write_stock_table(shared_data, folder / "stocks.csv")
    (folder / "holdings.csv").write_text(
        "account,ticker,shares,cost_per_share,acquired,lot_id\n"
        "s,AAPL,100,300,2020-01-10,A1\ns,KO,200,100,2021-03-01,K1\ns,CASH,5000,,,\n"
    )
    return folder, tickers


def _config(folder, tickers, name, extra="", objective="max_sharpe", cash=False):
    """An account file over the 20 stocks (with the holdings file when ``cash``)."""
    assets = "\n".join(f'[universe.assets.{t}]\ntags = ["equity"]\nmax = 0.2' for t in tickers)
    holdings = 'holdings = "holdings.csv"\n' if cash else ""
    if cash:
        assets += '\n[universe.assets.CASH]\ntags = ["cash"]'
    text = (
        f'[account]\nid = "s"\n{holdings}\n[data]\nsource = "csv:stocks.csv"\n'
        f'cash_rate = 0.04\n{extra}\n[objective]\nkind = "{objective}"\n\n{assets}\n'
    )
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def test_optimize_without_market_series_matches_plain_cvxpy(stocks):
    """Min variance with the sample covariance of weekly returns, against cvxpy on returns
    computed here with pandas from the same file."""
    folder, tickers = stocks
    config = _config(folder, tickers, "minvar", '[estimation]\ncovariance = "sample"\n',
                     objective="min_variance")  # fmt: skip
    res = run_cli("optimize", "--config", str(config), "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    prices = pd.read_csv(folder / "stocks.csv", index_col="date", parse_dates=True)
    weekly = prices.loc[prices.index.to_series().resample("W-FRI").last().to_numpy()]
    R = weekly.pct_change().dropna().to_numpy()
    S = np.cov(R, rowvar=False)
    w = cp.Variable(len(tickers))
    cp.Problem(cp.Minimize(cp.quad_form(w, S)), [cp.sum(w) == 1, w >= 0, w <= 0.2]).solve()
    got = np.array([doc["weights"][t] for t in tickers])
    np.testing.assert_allclose(got, w.value, atol=1e-4)
    assert doc["provenance"]["as_of"] == "2026-02-23"


def test_propose_on_the_wide_csv(stocks, tmp_path):
    folder, tickers = stocks
    config = _config(folder, tickers, "propose", cash=True)
    res = run_cli("propose", "--config", str(config), "--out", str(tmp_path), "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["trades"] and abs(sum(doc["weights"].values()) - 1) < 1e-6
    last = pd.read_csv(folder / "stocks.csv", index_col="date").iloc[-1]
    for trade in doc["trades"]:
        if trade["ticker"] != "CASH":
            assert trade["est_price"] == pytest.approx(last[trade["ticker"]], rel=1e-12)


def test_scenarios_without_market_name_the_key_and_the_mapping_works(stocks):
    folder, tickers = stocks
    uses = '[scenarios]\nuse = [{ id = "tariff-shock", probability = 1.0 }]\n'
    res = run_cli("optimize", "--config", str(_config(folder, tickers, "nomkt", uses)))
    assert res.returncode == 3
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and "nomkt.toml" in line
    assert "estimation.factors.equity" in line and "csv:stocks.csv" in line
    mapping = '[estimation.factors.equity]\nkind = "return"\nseries = "AAPL"\n'
    config = _config(folder, tickers, "mapped", uses + mapping)
    res = run_cli("optimize", "--config", str(config), "--format", "json")
    assert res.returncode == 0, res.stderr
    whatif = run_cli("whatif", "--config", str(config), "--format", "json")
    assert whatif.returncode == 0, whatif.stderr
    assert json.loads(whatif.stdout)["columns"] == ["tariff-shock", "robust"]
    # AAPL is the equity factor itself: in tariff-shock its horizon mean is the -12 % shock
    cfg = load_account(config)
    est = build_estimate(cfg.data, cfg.estimation, cfg.scenarios, cfg.tickers,
                         base_dir=cfg.base_dir)  # fmt: skip
    mu = est.scenario("tariff-shock").mu[list(est.tickers).index("AAPL")]
    assert mu == pytest.approx(-0.12, abs=1e-9)

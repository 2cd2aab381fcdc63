"""The baseline estimators against PyPortfolioOpt on a real multi-stock CSV with ragged starts.

The wide CSV holds seven ETFs from ../shared/data/yahoo (SPY from 1993, QQQ 1999, IWM 2000,
TLT/LQD 2002, HYG/BND 2007), on SPY's dates. An account file naming the estimators is run
through ``capalloc optimize`` (``run_optimize`` in-process, one case as a real subprocess);
PyPortfolioOpt's ``expected_returns`` / ``risk_models`` / ``EfficientFrontier`` /
``EfficientCVaR`` run on the same frame (``dropna()`` for the common window, the frame
itself for each series' full history). Weights agree within 1e-4 (absolute).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_cli

TICKERS = ["SPY", "IWM", "QQQ", "TLT", "LQD", "HYG", "BND"]
W_TOL = 1e-4
TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


@pytest.fixture(scope="module")
def wide(shared_data, tmp_path_factory) -> tuple[pd.DataFrame, object]:
    """(frame, path): closes of the seven ETFs on SPY's dates, NaN before each listing."""
    closes = {}
    for t in TICKERS:
        f = shared_data / "yahoo" / f"{t}.csv"
        if not f.exists():
            pytest.skip(f"{f} is absent")
        closes[t] = pd.read_csv(f, index_col=0, parse_dates=True)["Close"]
    frame = pd.DataFrame(closes)
    frame = frame.reindex(frame["SPY"].dropna().index)
    path = tmp_path_factory.mktemp("wide") / "etfs.csv"
    frame.to_csv(path, index_label="date")
    back = pd.read_csv(path, index_col=0, parse_dates=True)  # what both sides read
    starts = back.apply(pd.Series.first_valid_index)
    assert starts["HYG"] > starts["TLT"] > starts["SPY"]  # ragged, as the test needs
    return back, path


def _account(path, tmp_path, estimation: dict, objective: str) -> object:
    lines = [f"{k} = {json.dumps(v)}" for k, v in estimation.items()]
    assets = "\n".join(f"[universe.assets.{t}]" for t in TICKERS)
    text = (
        f'[account]\nid = "ppo"\n[data]\nsource = "csv:{path}"\n'
        '[estimation]\nfrequency = "daily"\n' + "\n".join(lines) + f"\n{assets}\n"
        f'[objective]\nkind = "{objective}"\n'
    )
    out = tmp_path / "account.toml"
    out.write_text(text)
    return out


def _ours(path, tmp_path, estimation: dict, objective: str) -> tuple[np.ndarray, dict]:
    from optimizer.cli.optimize import run_optimize

    doc = run_optimize(_account(path, tmp_path, estimation, objective))
    return np.array([doc["weights"][t] for t in TICKERS]), doc


def _ppo_moments(prices: pd.DataFrame, est: dict) -> tuple[pd.Series, pd.DataFrame]:
    from pypfopt import expected_returns, risk_models

    comp = est.get("compounding", False)
    span = est.get("ema_span", 52)
    if est.get("mean", "historical") == "ema":
        mu = expected_returns.ema_historical_return(prices, compounding=comp, span=span)
    else:
        mu = expected_returns.mean_historical_return(prices, compounding=comp)
    cov = est.get("covariance", "ledoit_wolf")
    if cov == "sample":
        S = risk_models.sample_cov(prices)
    elif cov == "exp":
        S = risk_models.exp_cov(prices, span=span)
    else:
        S = risk_models.CovarianceShrinkage(prices).ledoit_wolf()
    return mu, S


def _ppo_weights(prices: pd.DataFrame, est: dict, objective: str) -> np.ndarray:
    from pypfopt import EfficientFrontier

    mu, S = _ppo_moments(prices, est)
    ef = EfficientFrontier(mu, S, solver="CLARABEL", solver_options=TIGHT)
    if objective == "max_sharpe":
        ef.max_sharpe(risk_free_rate=0.0)
    else:
        ef.min_volatility()
    return np.array([ef.weights[i] for i in range(len(TICKERS))])


CASES = {
    "common-compounded-sample": {"compounding": True, "covariance": "sample"},
    "full-compounded-sample": {"compounding": True, "covariance": "sample", "window": "full"},
    "full-arithmetic-sample": {"covariance": "sample", "window": "full"},
    "full-ema-exp": {
        "compounding": True,
        "mean": "ema",
        "covariance": "exp",
        "ema_span": 500,
        "window": "full",
    },
    "common-ema-ledoit-wolf": {"compounding": True, "mean": "ema", "ema_span": 252},
}


@pytest.mark.parametrize("objective", ["max_sharpe", "min_variance"])
@pytest.mark.parametrize("case", list(CASES))
def test_same_estimators_give_pypfopt_weights(wide, tmp_path, case, objective):
    frame, path = wide
    est = CASES[case]
    prices = frame if est.get("window") == "full" else frame.dropna()
    w, doc = _ours(path, tmp_path, est, objective)
    want = _ppo_weights(prices, est, objective)
    np.testing.assert_allclose(w, want, atol=W_TOL)
    # the output states the window the estimators read
    words = doc["estimate"]["window"]
    if est.get("window") == "full":
        assert "each asset's full history" in words and "SPY from 1993-02-01" in words
        assert doc["provenance"]["first"] == "1993-02-01"
    else:
        assert "the periods all assets share" in words
        assert doc["provenance"]["first"] == str(prices.index[1].date())


def test_full_history_moves_max_sharpe_weights(wide, tmp_path):
    """The choice matters on this data: it is not a test that cannot fail."""
    _, path = wide
    est = {"compounding": True, "covariance": "sample"}
    common, _ = _ours(path, tmp_path, est, "max_sharpe")
    full, _ = _ours(path, tmp_path, {**est, "window": "full"}, "max_sharpe")
    assert np.abs(common - full).max() > 0.05


def test_min_cvar_on_historical_returns_matches_pypfopt_cli(wide, tmp_path):
    """``samples = "historical"``: min CVaR over the daily return matrix itself, as
    PyPortfolioOpt's EfficientCVaR on the same returns; through a real subprocess."""
    from pypfopt import EfficientCVaR, expected_returns

    frame, path = wide
    prices = frame.dropna()
    est = {"covariance": "sample", "samples": "historical"}
    cfg = _account(path, tmp_path, est, "min_cvar")
    got = run_cli("optimize", "--config", str(cfg), "--format", "json")
    assert got.returncode == 0, got.stderr
    doc = json.loads(got.stdout)
    w = np.array([doc["weights"][t] for t in TICKERS])
    returns = expected_returns.returns_from_prices(prices)
    cv = EfficientCVaR(
        expected_returns.mean_historical_return(prices),
        returns,
        beta=0.95,
        solver="CLARABEL",
        solver_options=TIGHT,
    )
    cv.min_cvar()
    want = np.array([cv.weights[i] for i in range(len(TICKERS))])
    np.testing.assert_allclose(w, want, atol=W_TOL)
    _, ppo_cvar = cv.portfolio_performance()
    assert doc["metrics"]["cvar"] == pytest.approx(ppo_cvar, rel=1e-6)
    assert doc["metrics"]["cvar_period"] == "daily"
    assert doc["estimate"]["samples"].startswith(f"{len(returns)} historical daily returns")


def test_capm_market_is_matched_by_period_not_by_date(shared_data, tmp_path):
    """Weekly data where a rate series lacks a Friday (Veterans Day, New Year's Eve) dates
    that week's factor row on Thursday: the CAPM market must still be SPY's level of the
    assets' own weeks. Compared with PyPortfolioOpt's ``capm_return`` on weekly closes
    with SPY as the market (arithmetic means, rf 4 %)."""
    from pypfopt import expected_returns

    from optimizer.account import load_account
    from optimizer.workflows.pipeline import Pipeline

    names = ["QQQ", "LQD", "HYG", "BND"]
    source = f"csv:{shared_data / 'yahoo'},{shared_data / 'fred'}"
    assets = "".join(
        f'[universe.assets.{t}]\ntags = ["{"equity" if t == "QQQ" else "bonds"}"]\n' for t in names
    )
    account = tmp_path / "account.toml"
    account.write_text(
        f'[account]\nid = "a1"\n\n[data]\nsource = "{source}"\nstart = 2010-01-01\n'
        'cash_rate = 0.04\n\n[estimation]\nhorizon = { value = 3, unit = "months" }\n'
        f'risk_free_pct = 4.0\nmean = "capm"\n\n{assets}'
    )
    est = Pipeline().estimate(load_account(account))
    assert est.method.startswith("capm mean")

    def close(t: str) -> pd.Series:
        return pd.read_csv(shared_data / "yahoo" / f"{t}.csv", index_col=0, parse_dates=True)[
            "Close"
        ]

    closes = pd.DataFrame({t: close(t) for t in [*names, "SPY"]}).dropna()
    closes = closes[(closes.index >= "2010-01-01") & (closes.index <= str(est.provenance.as_of))]
    weeks = closes.index.to_period("W-FRI")
    weekly = closes.groupby(weeks).last()
    weekly.index = closes.index.to_series().groupby(weeks).max().to_numpy()
    ref = expected_returns.capm_return(
        weekly[names], market_prices=weekly[["SPY"]], risk_free_rate=0.04,
        compounding=False, frequency=52,
    )  # fmt: skip
    got = np.asarray(est.mu) / est.horizon_years
    np.testing.assert_allclose(got, ref[names].to_numpy(), atol=2e-4)

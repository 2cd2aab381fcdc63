"""Estimates for the optimizer tests: real ETF returns from ../shared/data, or synthetic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.data.base import Provenance
from optimizer.estimate import Estimate, ScenarioMoments

ETFS = ("SPY", "IWM", "QQQ", "TLT", "BND", "LQD", "HYG")
TAGS = {
    "SPY": ["equity", "large_cap"],
    "QQQ": ["equity", "large_cap"],
    "IWM": ["equity", "small_cap"],
    "TLT": ["bonds"],
    "BND": ["bonds"],
    "LQD": ["bonds"],
    "HYG": ["bonds"],
}
HORIZON = 0.25  # years; 63 trading days


def daily_returns(data: Path, tickers=ETFS, start="2015-01-01", end="2022-12-31") -> pd.DataFrame:
    """Daily simple returns of ``tickers`` from the Yahoo CSVs, on their common dates."""
    closes = {}
    for t in tickers:
        df = pd.read_csv(data / "yahoo" / f"{t}.csv", parse_dates=["Date"], index_col="Date")
        closes[t] = df["Close"].astype(float)
    prices = pd.DataFrame(closes).loc[start:end].dropna()
    return prices.pct_change().dropna()


def estimate_from_returns(
    returns: pd.DataFrame, *, rf_annual: float = 0.01, scale: float = 63.0
) -> Estimate:
    """Horizon moments scaled from per-period ones (``scale`` periods: 63 days, or 3 months
    of monthly data); samples are scaled returns shifted to the horizon mean (a simple
    scenario matrix with the right first moments)."""
    X = returns.to_numpy()
    mu = X.mean(axis=0) * scale
    Sigma = np.cov(X.T) * scale
    samples = X * np.sqrt(scale) + (mu - X.mean(axis=0) * np.sqrt(scale))
    tickers = tuple(returns.columns)
    rng = np.random.default_rng(7)
    shocks = {  # horizon mean shifts by sleeve: equity, small-cap extra, bonds, long bonds
        "fed-easing": (0.4, (0.03, 0.01, 0.01, 0.02)),
        "tariff-shock": (0.3, (-0.10, -0.05, 0.02, 0.01)),
        "yield-spike": (0.3, (-0.03, -0.01, -0.04, -0.06)),
    }

    def shift(eq, small, bonds, long):
        return np.array(
            [
                eq * ("equity" in TAGS.get(t, []))
                + small * ("small_cap" in TAGS.get(t, []))
                + bonds * ("bonds" in TAGS.get(t, []))
                + long * (t == "TLT")
                for t in tickers
            ]
        )

    scenarios = tuple(
        ScenarioMoments(
            id=sid,
            title=sid.replace("-", " "),
            probability=p,
            mu=mu + shift(*moves) + rng.normal(scale=0.002, size=len(tickers)),
            Sigma=Sigma,
            factor_moves={},
            mahalanobis=1.0,
            plausibility="ordinary",
            history="test",
        )
        for sid, (p, moves) in shocks.items()
    )
    prov = Provenance("test", tickers, returns.index[0].date(), returns.index[-1].date(), "daily")
    return Estimate(
        tickers=tickers,
        mu=mu,
        Sigma=Sigma,
        horizon_years=HORIZON,
        risk_free=rf_annual * HORIZON,
        provenance=prov,
        scenarios=scenarios,
        samples=samples,
        seed=0,
        method="test: scaled sample moments",
    )


def synthetic_estimate(n: int = 6, n_samples: int = 300, seed: int = 0) -> Estimate:
    """A small random estimate with positive excess returns and three scenarios."""
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(n, 2))
    Sigma = (B @ B.T + np.diag(rng.uniform(0.5, 2.0, n))) * 0.002
    mu = rng.uniform(0.0, 0.04, n)
    samples = rng.multivariate_normal(mu, Sigma, size=n_samples)
    tickers = tuple(f"T{i}" for i in range(n))
    scenarios = tuple(
        ScenarioMoments(
            sid,
            sid,
            1 / 3,
            mu + rng.normal(scale=0.05, size=n),
            Sigma,
            {},
            1.0,
            "ordinary",
            "synthetic",
        )
        for sid in ("a", "b", "c")
    )
    prov = Provenance("synthetic", tickers, None, None, "daily")
    return Estimate(tickers, mu, Sigma, HORIZON, 0.0025, prov, scenarios, samples, seed)

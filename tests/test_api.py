"""The Python front door (docs/api.md), against the internal functions and PyPortfolioOpt.

* The notebook example of docs/api.md is executed as written; its estimate, weights and
  trades equal the same computation through ``build_estimate``, ``Optimizer.build/solve`` and
  ``rebalance.plan.plan`` (weights within 1e-9, trades exactly: the same deterministic path).
* ``Estimate.from_prices`` equals PyPortfolioOpt's ``mean_historical_return`` /
  ``sample_cov`` / ``CovarianceShrinkage`` on the same frame (relative 1e-12), and a max-Sharpe
  allocation on it agrees with PyPortfolioOpt's ``EfficientFrontier.max_sharpe`` within 1e-4.
* ``import optimizer`` loads none of pandas, cvxpy, pydantic (a real subprocess).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import optimizer

ROOT = Path(__file__).resolve().parents[1]
TICKERS = ["LARGE", "MID", "SMALL", "BOND", "CASH"]
TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


def _run_example(doc: str) -> dict:
    """The namespace left by the first python block of ``doc``, run from the repository
    root (it must stay under 10 lines, blank lines aside)."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert len([ln for ln in code.splitlines() if ln.strip()]) < 10
    ns: dict = {}
    cwd = Path.cwd()
    try:
        os.chdir(ROOT)
        exec(compile(code, doc, "exec"), ns)
    finally:
        os.chdir(cwd)
    return ns


@pytest.fixture(scope="module")
def notebook() -> dict:
    return _run_example("docs/api.md")


def test_readme_example_is_the_docs_example(notebook):
    readme = _run_example("README.md")
    pd.testing.assert_series_equal(readme["alloc"].weights_series, notebook["alloc"].weights_series)
    pd.testing.assert_frame_equal(readme["plan"].to_frame(), notebook["plan"].to_frame())


def test_notebook_example_matches_internal_functions(notebook):
    from optimizer.data import DataConfig
    from optimizer.optimize import Inputs, Optimizer, Policy
    from optimizer.rebalance.holdings import load_holdings
    from optimizer.rebalance.plan import plan
    from optimizer.scenario.build import build_estimate
    from optimizer.scenario.config import EstimationConfig, ScenarioSetConfig

    est = build_estimate(
        DataConfig(source="sample", start="1988-01-01"),
        EstimationConfig(horizon={"value": 3, "unit": "months"}),
        ScenarioSetConfig(
            use=[
                {"id": "fed-easing", "probability": 0.3},
                {"id": "tariff-shock", "probability": 0.2},
            ],
        ),
        TICKERS,
    )
    got = notebook["est"]
    np.testing.assert_allclose(got.mu, est.mu, rtol=0, atol=1e-15)
    np.testing.assert_allclose(got.Sigma, est.Sigma, rtol=0, atol=1e-15)
    assert [s.id for s in got.scenarios] == ["fed-easing", "tariff-shock", "baseline"]

    policy = Policy.simple(TICKERS, objective={"kind": "utility", "risk_aversion": 4})
    ref = Optimizer(policy).build(est).solve(Inputs(est))
    weights = notebook["alloc"].weights_series
    assert isinstance(weights, pd.Series) and list(weights.index) == TICKERS
    for t in TICKERS:
        assert weights[t] == pytest.approx(ref.weights[t], abs=1e-9)

    account = load_holdings(ROOT / "examples/whatif/holdings.csv")["what-if-investor"]
    px = notebook["px"]
    last = {t: float(px[t].dropna().iloc[-1]) for t in TICKERS}
    total = sum(ref.weights.values())  # as Pipeline.plan_trades does for a proposal
    targets = {t: w / total for t, w in ref.weights.items() if w > 1e-9}
    ref_plan = plan(account, targets, last, as_of=pd.Timestamp("2017-03-31").date())
    frame = notebook["plan"].to_frame()
    assert list(frame["ticker"]) == [t.ticker for t in ref_plan.trades]
    assert list(frame["shares"]) == [t.shares for t in ref_plan.trades]
    assert notebook["plan"].to_dict() == ref_plan.to_dict()

    table = optimizer.scenario_table(got, notebook["alloc"])
    w = np.array([ref.weights[t] for t in TICKERS])
    for s in est.scenarios:
        assert table.loc[s.id, "portfolio"] == pytest.approx(float(s.mu @ w), abs=1e-9)
        assert table.loc[s.id, "probability"] == s.probability


def test_api_stages_equal_the_proposal_of_an_account_file():
    """The what-if example account through the API, stage by stage, gives the weights and
    the trades of ``optimizer.propose`` on the file (weights and targets within 1e-9, the
    solver's noise with current weights valued independently; trades exactly)."""
    import tomllib

    path = ROOT / "examples/whatif/account.toml"
    toml = tomllib.loads(path.read_text(encoding="utf-8"))
    tickers = list(toml["universe"]["assets"])
    sc = toml["scenarios"]
    est = optimizer.scenario_estimate(
        toml["data"]["source"], tickers, sc["use"], estimation=toml["estimation"], seed=sc["seed"]
    )
    policy = {k: toml[k] for k in ("universe", "objective", "constraints")}
    alloc = optimizer.optimize(est, policy, _current(path, tickers))
    px = optimizer.prices(toml["data"]["source"], [t for t in tickers if t != "CASH"])
    plan = optimizer.plan_trades(
        path.parent / toml["account"]["holdings"], alloc, px, toml.get("rebalance"),
        as_of=est.provenance.as_of,
    )  # fmt: skip
    proposal = optimizer.propose(path)
    for t in tickers:
        assert alloc.weights[t] == pytest.approx(proposal.run.allocation.weights[t], abs=1e-9)
    ours, theirs = plan.to_dict(), proposal.run.plan.to_dict()
    assert ours["trades"] == theirs["trades"]
    pd.testing.assert_frame_equal(plan.to_frame(), proposal.run.plan.to_frame())
    for mine, ref in zip(ours["holdings"], theirs["holdings"], strict=True):
        assert mine["shares"] == ref["shares"]
        assert mine["target"] == pytest.approx(ref["target"], abs=1e-9)  # the solver's noise


def _current(path: Path, tickers: list[str]) -> dict[str, float]:
    """Current weights of the example's holdings at the data's last prices (an independent
    valuation: shares times price, cash as is)."""
    import csv

    px = optimizer.prices("sample", [t for t in tickers if t != "CASH"]).ffill().iloc[-1]
    value = dict.fromkeys(tickers, 0.0)
    with open(path.parent / "holdings.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            t, shares = row["ticker"], float(row["shares"])
            value[t] += shares * (1.0 if t == "CASH" else float(px[t]))
    total = sum(value.values())
    return {t: v / total for t, v in value.items()}


@pytest.mark.parametrize("cov", ["sample", "ledoit_wolf"])
def test_from_prices_equals_pypfopt(cov):
    from pypfopt import expected_returns, risk_models

    px = optimizer.prices("sample", ["LARGE", "SMALL", "BOND"], start="1990-01-01")
    est = optimizer.Estimate.from_prices(px, mean="historical", cov=cov, horizon_years=0.25)
    mu = expected_returns.mean_historical_return(px, compounding=False, frequency=12)
    if cov == "sample":
        S = risk_models.sample_cov(px, frequency=12)
    else:
        S = risk_models.CovarianceShrinkage(px, frequency=12).ledoit_wolf()
    np.testing.assert_allclose(est.mu, 0.25 * mu.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(est.Sigma, 0.25 * S.to_numpy(), rtol=1e-12)
    pd.testing.assert_series_equal(est.mu_series, 0.25 * mu, check_names=False, rtol=1e-12)
    pd.testing.assert_frame_equal(est.Sigma_frame, 0.25 * S, rtol=1e-12)
    assert est.provenance.source == "sample"
    assert est.provenance.first == px.index[1].date()
    assert est.provenance.frequency == "monthly"


def test_capm_from_prices_equals_pypfopt():
    from pypfopt import expected_returns

    px = optimizer.prices("sample", ["LARGE", "SMALL", "BOND", "MKT"], start="1990-01-01")
    assets, market = px[["LARGE", "SMALL", "BOND"]], px["MKT"]
    est = optimizer.Estimate.from_prices(assets, mean="capm", market_prices=market, risk_free=0.02)
    ref = expected_returns.capm_return(
        assets, market_prices=market.to_frame("mkt"), risk_free_rate=0.02, compounding=False,
        frequency=12,
    )  # fmt: skip
    np.testing.assert_allclose(est.mu, ref.to_numpy(), rtol=1e-12)


def test_from_prices_coarser_frequency_reads_period_ends():
    px = optimizer.prices("sample", ["LARGE", "BOND"], start="2000-01-01")
    est = optimizer.Estimate.from_prices(px, frequency="monthly")
    r = px.pct_change().dropna()  # month-end data read monthly: the frame itself
    np.testing.assert_allclose(est.mu, 12 * r.mean().to_numpy(), rtol=1e-12)
    with pytest.raises(optimizer.CapallocError, match="finer frequency"):
        optimizer.Estimate.from_prices(px, frequency="daily")


def test_max_sharpe_on_from_prices_matches_pypfopt():
    from pypfopt import EfficientFrontier

    px = optimizer.prices("sample", ["LARGE", "MID", "SMALL", "BOND"], start="1990-01-01")
    est = optimizer.Estimate.from_prices(px)
    alloc = optimizer.optimize(est, {"objective": {"kind": "max_sharpe"}})
    mu = pd.Series(est.mu, index=est.tickers)
    S = pd.DataFrame(est.Sigma, index=est.tickers, columns=est.tickers)
    ef = EfficientFrontier(mu, S, solver="CLARABEL", solver_options=TIGHT)
    ef.max_sharpe(risk_free_rate=0.0)
    for t, w in ef.clean_weights(rounding=None).items():
        assert alloc.weights_series[t] == pytest.approx(w, abs=1e-4)


def test_from_moments_and_current_weights_as_series():
    mu = pd.Series({"A": 0.06, "B": 0.03})
    Sigma = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["B", "A"], columns=["B", "A"])
    est = optimizer.Estimate.from_moments(mu, Sigma)
    assert est.tickers == ("A", "B")
    assert est.Sigma[0, 0] == 0.01  # reordered to mu's tickers
    # utility max mu'w - (k/2) w'Sigma w on the simplex, unconstrained optimum is interior:
    # w_A - w_B from the first-order condition 0.06 - 4*0.01 w_A = 0.03 - 4*0.04 w_B
    alloc = optimizer.optimize(
        est, {"objective": {"kind": "utility", "risk_aversion": 4}}, pd.Series({"A": 0.5, "B": 0.5})
    )
    wA = alloc.weights["A"]
    assert 0.06 - 4 * 0.01 * wA == pytest.approx(0.03 - 4 * 0.04 * (1 - wA), abs=1e-6)


def test_optimize_package_stays_callable_after_its_modules_load():
    import optimizer.optimize.core  # the import system rebinds optimizer.optimize

    est = optimizer.Estimate.from_moments(
        pd.Series({"A": 0.05, "B": 0.02}), pd.DataFrame(np.eye(2) * 0.01, ["A", "B"], ["A", "B"])
    )
    alloc = optimizer.optimize(est, {"objective": {"kind": "min_variance"}})
    assert alloc.weights["A"] == pytest.approx(0.5, abs=1e-6)
    assert optimizer.optimize.Optimizer is optimizer.optimize.core.Optimizer


def test_bad_date_names_the_key():
    with pytest.raises(optimizer.CapallocError) as err:
        optimizer.prices("sample", ["LARGE"], start="2020-13-01")
    assert err.value.key == "start" and err.value.value == "2020-13-01"


def test_import_optimizer_is_light():
    code = (
        "import sys, optimizer; heavy = {'pandas', 'numpy', 'cvxpy', 'pydantic', 'click'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_plan_trades_names_a_target_without_a_price():
    px = optimizer.prices("sample", ["LARGE", "BOND"], start="2016-01-01")
    px["MID"] = np.nan
    targets = pd.Series({"LARGE": 0.5, "BOND": 0.3, "MID": 0.2})
    lots = ROOT / "examples/whatif/holdings.csv"
    with pytest.raises(optimizer.CapallocError, match="no price") as err:
        optimizer.plan_trades(lots, targets, px, as_of="2017-03-31")
    assert "MID" in str(err.value)


def test_from_prices_takes_a_frame_as_users_have_it_and_refuses_one_it_cannot_read():
    """Newest-first rows (a broker export) and a text date index (``read_csv`` without
    ``parse_dates``) give the same estimate as the frame as served; what cannot be prices
    is an error naming the column and the value, never a silently wrong estimate."""
    px = optimizer.prices("sample", ["LARGE", "SMALL", "BOND"], start="1990-01-01")
    est = optimizer.Estimate.from_prices(px)
    for frame in (px.iloc[::-1], px.set_axis(px.index.strftime("%Y-%m-%d"))):
        again = optimizer.Estimate.from_prices(frame)
        np.testing.assert_allclose(again.mu, est.mu, rtol=1e-12)
        np.testing.assert_allclose(again.Sigma, est.Sigma, rtol=1e-12)

    def refused(frame, key, text, **kw):
        with pytest.raises(optimizer.CapallocError, match=text) as err:
            optimizer.Estimate.from_prices(frame, **kw)
        assert err.value.key == key, err.value

    bad = px.copy()
    bad.iloc[40, 1] = -5.0
    refused(bad, "SMALL", "non-positive price")
    bad.iloc[40, 1] = 0.0
    refused(bad, "SMALL", "non-positive price")
    refused(px.assign(BOND=np.nan), "BOND", "no prices")
    refused(px.astype(str).assign(SMALL="n/a"), "SMALL", "not a number")
    refused(px.reset_index(drop=True), "index", "must be dates")
    refused(pd.concat([px.iloc[:30], px.iloc[29:]]), "index", "duplicated date")
    refused(px.sample(frac=1.0, random_state=1), "index", "not sorted")
    refused(px, "cov", "unknown method", cov="shrunk")


def test_a_misspelt_policy_section_is_an_error_not_an_unconstrained_allocation():
    est = optimizer.Estimate.from_moments(
        pd.Series({"A": 0.06, "B": 0.03}), pd.DataFrame(np.eye(2) * 0.02, ["A", "B"], ["A", "B"])
    )
    with pytest.raises(optimizer.CapallocError, match="unknown policy section") as err:
        optimizer.optimize(est, {"objective": {"kind": "max_sharpe"}, "constrains": {}})
    assert err.value.key == "constrains"


def test_scenario_table_checks_weights_as_stress_does():
    est = optimizer.scenario_estimate("sample", ["LARGE", "SMALL", "BOND"], ["fed-easing"])
    table = optimizer.scenario_table(est, {"LARGE": 0.5, "BOND": 0.5})
    mu = table[["LARGE", "BOND"]].to_numpy() @ np.array([0.5, 0.5])
    np.testing.assert_allclose(table["portfolio"].to_numpy(), mu, rtol=1e-12)
    for weights, key in (({"LARGE": 0.5, "BOND": 0.3}, "weight (sum)"),
                         ({"LARGE": 5.0, "BOND": 5.0}, "weight (sum)"),
                         ({"LARGE": 0.6, "XYZ": 0.4}, "XYZ")):  # fmt: skip
        with pytest.raises(optimizer.CapallocError) as err:
            optimizer.scenario_table(est, weights)
        assert err.value.key == key

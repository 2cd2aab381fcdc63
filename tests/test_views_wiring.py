"""Views in the pipeline: posterior moments of the estimate, probability-weighted CVaR in
the optimizer, the [views] section of the account file, and the outputs (CLI subprocesses).

References: plain cvxpy for the weighted Rockafellar-Uryasev problem, numpy's weighted
average and covariance for the posterior moments, PyPortfolioOpt for Black-Litterman, and
the same account run without its [views] section for the "without views" weights.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import cvxpy as cp
import numpy as np
import pytest
from pypfopt.black_litterman import BlackLittermanModel

from optimizer.config import validate
from optimizer.errors import ConfigError
from optimizer.optimize import Policy, optimize
from optimizer.views import ViewsConfig, apply_views
from tests.conftest import ROOT, run_cli
from tests.optimize_support import synthetic_estimate

EXAMPLE = ROOT / "examples" / "views"


def _views(*specs: dict, **section: object) -> ViewsConfig:
    return validate(ViewsConfig, {**section, "view": list(specs)}, prefix="views")


def _weighted_cvar_cvxpy(R: np.ndarray, p: np.ndarray, level: float) -> tuple[np.ndarray, float]:
    """Long-only, fully invested min CVaR with sample probabilities, written out here."""
    w = cp.Variable(R.shape[1], nonneg=True)
    a = cp.Variable()
    u = cp.Variable(R.shape[0], nonneg=True)
    prob = cp.Problem(cp.Minimize(a + p @ u / (1 - level)), [u >= -R @ w - a, cp.sum(w) == 1])
    prob.solve(solver=cp.CLARABEL)
    return np.asarray(w.value), float(prob.value)


def test_min_cvar_weighs_samples_by_probability() -> None:
    est = synthetic_estimate(n=5, n_samples=400, seed=3)
    p = np.random.default_rng(0).dirichlet(np.full(400, 0.7))
    tilted = dataclasses.replace(est, probabilities=p)
    policy = Policy.simple(est.tickers, objective={"kind": "min_cvar", "cvar_level": 0.9})
    a = optimize(tilted, policy)
    w = np.array([a.weights[t] for t in est.tickers])
    w_ref, cvar_ref = _weighted_cvar_cvxpy(est.samples, p, 0.9)
    np.testing.assert_allclose(w, w_ref, atol=1e-5)
    assert a.metrics.cvar == pytest.approx(cvar_ref, rel=1e-6)
    plain = optimize(est, policy)  # equal probabilities: the unweighted problem
    w_eq, _ = _weighted_cvar_cvxpy(est.samples, np.full(400, 1 / 400), 0.9)
    np.testing.assert_allclose([plain.weights[t] for t in est.tickers], w_eq, atol=1e-5)
    assert np.abs(w - w_eq).max() > 1e-3  # the probabilities did move the answer


def test_posterior_moments_are_the_weighted_sample_moments() -> None:
    est = synthetic_estimate(n=4, n_samples=3000, seed=1)
    cfg = _views(
        {"kind": "return", "series": "T1", "value": 0.05},
        {"kind": "probability", "series": "T2", "below": -0.05, "op": ">=", "value": 0.2},
    )
    post = apply_views(est, cfg)
    p = post.probabilities
    np.testing.assert_allclose(post.mu, np.average(est.samples, axis=0, weights=p), atol=1e-14)
    ref = np.cov(est.samples.T, aweights=p, bias=True)
    np.testing.assert_allclose(post.Sigma, ref, atol=1e-14)
    assert abs(p @ est.samples[:, 1] - 0.05) <= 1e-6
    assert p[est.samples[:, 2] < -0.05].sum() >= 0.2 - 1e-6
    assert post.views.views[0].posterior == pytest.approx(0.05, abs=1e-6)
    assert post.samples is est.samples and est.views is None
    assert apply_views(est, _views()) is est  # no views: the estimate itself


def test_black_litterman_on_the_estimate_matches_pypfopt() -> None:
    est = synthetic_estimate(n=4, n_samples=500, seed=2)
    cfg = _views(
        {"kind": "return", "series": "T0", "value": 0.03, "confidence": 0.7},
        {"kind": "relative", "series": "T1", "versus": "T3", "value": 0.01, "confidence": 0.4},
        method="black_litterman",
        tau=0.1,
    )
    post = apply_views(est, cfg)
    P = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, -1.0]])
    ref = BlackLittermanModel(
        est.Sigma,
        pi=est.mu,
        P=P,
        Q=np.array([0.03, 0.01]),
        omega="idzorek",
        view_confidences=[0.7, 0.4],
        tau=0.1,
    )
    np.testing.assert_allclose(post.mu, ref.bl_returns().to_numpy(), atol=1e-8)
    np.testing.assert_allclose(post.Sigma, ref.bl_cov().to_numpy(), atol=1e-8)
    np.testing.assert_allclose(post.samples - est.samples, np.tile(post.mu - est.mu, (500, 1)))


def test_entropy_pooling_needs_samples() -> None:
    est = dataclasses.replace(synthetic_estimate(), samples=None)
    with pytest.raises(ConfigError) as err:
        apply_views(est, _views({"kind": "return", "series": "T0", "value": 0.01}))
    assert err.value.key == "views.method"


# -- the account file and the outputs, through the CLI ------------------------------------


def _copy_example(tmp_path, with_views: bool = True):
    shutil.copy(EXAMPLE / "holdings.csv", tmp_path / "holdings.csv")
    text = (EXAMPLE / "account.toml").read_text()
    if not with_views:
        head, _, rest = text.partition("[views]")
        text = head + rest[rest.index("[universe.assets.LARGE]") :]
    path = tmp_path / "account.toml"
    path.write_text(text)
    return path


def _json(*args: str) -> dict:
    res = run_cli(*args, "--format", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_example_views_account(tmp_path) -> None:
    out = tmp_path / "out"
    doc = _json("propose", "--config", str(EXAMPLE / "account.toml"), "--out", str(out))
    views = doc["views"]
    assert [v["confidence"] for v in views["views"]] == [0.6, 0.6, 0.5, 0.3]
    for v in views["views"]:  # imposed at confidence 1, each holds to 1e-6
        slack = {">=": v["target"] - v["imposed"], "<=": v["imposed"] - v["target"]}[v["op"]]
        assert slack <= 1e-6, v
        assert abs(v["posterior"] - v["prior"]) <= abs(v["imposed"] - v["prior"]) + 1e-12
    assert views["relative_entropy"] > 0 and views["effective_scenarios"] < 10_000
    assert doc["weights"] == views["weights"]["with_views"]
    plain = _json("propose", "--config", str(_copy_example(tmp_path, with_views=False)))
    assert "views" not in plain or plain["views"] is None
    for t, w in plain["weights"].items():  # "without views" is the account without them
        assert views["weights"]["without_views"][t] == pytest.approx(w, abs=1e-7)
    assert max(abs(x) for x in views["weight_change"].values()) > 0.01
    html = (out / "report.html").read_text()
    assert "Views and their effect" in html and "Russell 2000 (SMALL) at 2,600" in html
    saved = json.loads((out / "proposal.json").read_text())
    assert saved["views"]["views"][0]["name"] == views["views"][0]["name"]


def test_whatif_shows_the_views(tmp_path) -> None:
    doc = _json("whatif", "--config", str(EXAMPLE / "account.toml"))
    assert doc["weights"]["robust"] == doc["views"]["weights"]["with_views"]
    assert len(doc["views"]["views"]) == 4
    table = run_cli("whatif", "--config", str(EXAMPLE / "account.toml"))
    assert table.returncode == 0 and "Effect of the views on the allocation" in table.stdout


@pytest.mark.parametrize(
    ("view", "key", "words"),
    [
        ('kind = "return"\nseries = "IWM"\nvalue = 0.05', "views.view[0].series", "'IWM'"),
        ('kind = "return"\nseries = "SMALL"\nvalue = 0.05\nconfidence = 2', "views.view.0", "2"),
        ('kind = "return"\nseries = "SMALL"\nop = ">="\nvalue = 3.0', "views.view[0].value", "3.0"),
    ],
    ids=["unknown-series", "confidence-above-1", "outside-the-scenarios"],
)
def test_bad_views_exit_3_with_one_line(tmp_path, view: str, key: str, words: str) -> None:
    path = _copy_example(tmp_path, with_views=False)
    text = path.read_text().replace(
        "[universe.assets.LARGE]", f"[[views.view]]\n{view}\n\n[universe.assets.LARGE]"
    )
    path.write_text(text)
    res = run_cli("propose", "--config", str(path))
    assert res.returncode == 3, res.stderr
    line = res.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert str(path) in line and key in line and words in line
    assert res.stdout == ""


def test_contradicting_views_are_named_on_the_command_line(tmp_path) -> None:
    path = _copy_example(tmp_path, with_views=False)
    views = "".join(
        f'[[views.view]]\nkind = "return"\nseries = "SMALL"\nop = "{op}"\nvalue = {v}\n\n'
        for op, v in ((">=", 0.05), ("==", 0.01), ("<=", 0.0))
    )
    text = path.read_text().replace("[universe.assets.LARGE]", views + "[universe.assets.LARGE]")
    path.write_text(text)
    res = run_cli("propose", "--config", str(path))
    assert res.returncode == 3, res.stderr
    line = res.stderr.strip()
    assert "views contradict each other" in line and "\n" not in line
    # every pair of the three contradicts: an irreducible set names exactly two of them
    assert sum(f"views.view[{k}]:" in line for k in range(3)) == 2


def test_historical_samples_scale_to_the_horizon() -> None:
    # monthly historical samples, a 3-month horizon: moments are 3 periods' worth, and an
    # annual volatility view is held per month (value * sqrt(1/12))
    est = dataclasses.replace(
        synthetic_estimate(n=3, n_samples=2000, seed=4), samples_period="monthly"
    )
    cfg = _views({"kind": "volatility", "series": "T0", "value": 0.2})
    post = apply_views(est, cfg)
    p, x = post.probabilities, est.samples[:, 0]
    mean = np.sum(p * x)
    assert np.sqrt(np.sum(p * (x - mean) ** 2)) == pytest.approx(0.2 / np.sqrt(12), abs=1e-6)
    np.testing.assert_allclose(post.mu, 3 * np.average(est.samples, axis=0, weights=p))
    assert post.Sigma[0, 0] == pytest.approx(3 * 0.04 / 12, abs=1e-6)


def test_the_figures_docs_views_quotes_are_the_examples_own(tmp_path):
    # docs/views.md quotes the views example's outcome: the same run gives those figures
    import re

    from tests.conftest import ROOT, run_cli

    res = run_cli("propose", "--config", str(ROOT / "examples" / "views" / "account.toml"),
                  "--format", "json", "--out", str(tmp_path / "out"), timeout=180)  # fmt: skip
    assert res.returncode == 0, res.stderr
    v = json.loads(res.stdout)["views"]
    mu = v["expected_return"]
    moved = v["weight_change"]["MID"]
    quoted = (
        f"from {mu['without_views']['SMALL']:.1%} to {mu['with_views']['SMALL']:.1%}",
        f"moves {moved:.1%} of the portfolio from LARGE to MID",
        f"relative entropy {v['relative_entropy']:.3f}",
        f"{v['effective_scenarios']:,.0f} effective scenarios of {v['n_scenarios']:,}",
    )
    text = " ".join((ROOT / "docs" / "views.md").read_text().split()).replace("−", "-")
    for words in quoted:
        words = re.sub(r"(\d)%", r"\1 %", words)
        assert words in text, words
    assert v["weight_change"]["LARGE"] == pytest.approx(-moved, abs=1e-9)

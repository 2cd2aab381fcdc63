"""Entropy pooling and views against independent computations.

References: closed forms (two and three scenarios), cvxpy's exponential-cone solve of the
primal (Clarabel), and the statistics recomputed from the posterior probabilities.
"""

from __future__ import annotations

import math

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.config import validate
from optimizer.errors import ConfigError
from optimizer.views import (
    LinearViews,
    ViewConfig,
    ViewsConfig,
    effective_scenarios,
    entropy_pooling,
    find_conflict,
    pool_views,
    relative_entropy,
)

TICKERS = ("LARGE", "SMALL", "BOND")


def _matrix(S: int = 4000, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    C = np.array([[0.08, 0.07, 0.0], [0.07, 0.12, -0.01], [0.0, -0.01, 0.02]]) ** 1
    L = np.linalg.cholesky(C * 0.25)
    return np.array([0.02, 0.025, 0.01]) + rng.standard_normal((S, 3)) @ L.T * 0.5


def _view(**kw: object) -> ViewConfig:
    return validate(ViewConfig, kw, prefix="views.view[0]")


def _primal_cvxpy(q: np.ndarray, lin: LinearViews) -> np.ndarray:
    """The primal by cvxpy (exponential cone, Clarabel): an independent solver."""
    p = cp.Variable(len(q), nonneg=True)
    cons = [cp.sum(p) == 1]
    if len(lin.b):
        cons.append(lin.A @ p == lin.b)
    if len(lin.h):
        cons.append(lin.G @ p <= lin.h)
    cp.Problem(cp.Minimize(cp.sum(cp.rel_entr(p, q))), cons).solve(solver=cp.CLARABEL)
    return np.asarray(p.value)


def test_two_scenarios_by_hand() -> None:
    # x = (0, 1), q = (0.3, 0.7), mean view 0.5: the only p is (0.5, 0.5)
    q = np.array([0.3, 0.7])
    lin = LinearViews(np.array([[0.0, 1.0]]), np.array([0.5]), np.zeros((0, 2)), np.zeros(0))
    out = entropy_pooling(q, lin)
    np.testing.assert_allclose(out.p, [0.5, 0.5], atol=1e-9)
    expected = 0.5 * math.log(0.5 / 0.3) + 0.5 * math.log(0.5 / 0.7)
    assert relative_entropy(out.p, q) == pytest.approx(expected, abs=1e-9)
    assert effective_scenarios(out.p) == pytest.approx(2.0, abs=1e-8)


def test_three_scenarios_closed_form() -> None:
    # p_s ~ q_s exp(theta x_s); theta = log 2 on x = (-1, 0, 1) gives p = (1, 2, 4) / 7 and
    # mean 3/7: the view "mean = 3/7" must return exactly that tilt
    q = np.full(3, 1 / 3)
    x = np.array([[-1.0, 0.0, 1.0]])
    lin = LinearViews(x, np.array([3 / 7]), np.zeros((0, 3)), np.zeros(0))
    out = entropy_pooling(q, lin)
    np.testing.assert_allclose(out.p, np.array([1, 2, 4]) / 7, atol=1e-9)
    assert out.multipliers[0] == pytest.approx(-math.log(2), abs=1e-6)


def test_mixed_views_match_cvxpy_primal() -> None:
    X = _matrix(1500)
    S = len(X)
    q = np.random.default_rng(1).dirichlet(np.full(S, 50.0))
    lin = LinearViews(
        np.vstack([X[:, 0], X[:, 1] - X[:, 2]]),
        np.array([0.03, 0.02]),
        np.vstack([-(X[:, 1] < -0.1).astype(float), X[:, 2]]),
        np.array([-0.12, 0.004]),
    )
    ours = entropy_pooling(q, lin)
    ref = _primal_cvxpy(q, lin)
    assert ours.converged and ours.max_violation < 1e-9
    np.testing.assert_allclose(ours.p, ref, atol=1e-6)
    assert relative_entropy(ours.p, q) <= relative_entropy(np.clip(ref, 1e-300, None), q) + 1e-7


def test_no_views_is_the_prior() -> None:
    X = _matrix(500)
    q = np.full(len(X), 1 / len(X))
    p, outcomes, notes = pool_views(X, q, [], TICKERS, 0.25)
    np.testing.assert_array_equal(p, q)
    assert outcomes == () and notes == ()


def test_slack_inequality_leaves_the_prior() -> None:
    X = _matrix(800)
    q = np.full(len(X), 1 / len(X))
    prior = float(q @ X[:, 0])
    view = _view(kind="return", series="LARGE", op=">=", value=prior - 0.05)
    p, (out,), _ = pool_views(X, q, [view], TICKERS, 0.25)
    np.testing.assert_allclose(p, q, atol=1e-12)
    assert out.posterior == pytest.approx(prior, abs=1e-12)


ALL_KINDS = [
    {"kind": "return", "series": "SMALL", "op": "==", "value": 0.05},
    {"kind": "level", "series": "SMALL", "op": ">=", "value": 2665, "spot": 2500},
    {"kind": "relative", "series": "SMALL", "versus": "LARGE", "op": "<=", "value": -0.01},
    {"kind": "probability", "series": "LARGE", "below": -0.10, "op": ">=", "value": 0.2},
    {"kind": "volatility", "series": "BOND", "op": "==", "value": 0.08},
    {"kind": "correlation", "series": "LARGE", "versus": "BOND", "op": "==", "value": -0.3},
]


@pytest.mark.parametrize("spec", ALL_KINDS, ids=[s["kind"] for s in ALL_KINDS])
def test_each_kind_holds_to_1e6(spec: dict) -> None:
    X = _matrix()
    q = np.full(len(X), 1 / len(X))
    view = _view(**spec)
    p, (out,), notes = pool_views(X, q, [view], TICKERS, 0.25)
    assert not notes
    assert abs(p.sum() - 1) < 1e-12 and p.min() >= 0
    got = _recompute(view, X, p)  # the statistic from p, written out here
    target = {"level": 2665 / 2500 - 1, "volatility": 0.08 * math.sqrt(0.25)}.get(
        view.kind.value, view.value
    )
    assert out.target == pytest.approx(target, abs=1e-15)
    ok = {"==": abs(got - target) <= 1e-6, ">=": got >= target - 1e-6, "<=": got <= target + 1e-6}
    assert ok[view.op.value], (got, target)
    assert out.posterior == pytest.approx(got, abs=1e-12)


def _recompute(view: ViewConfig, X: np.ndarray, p: np.ndarray) -> float:
    i = TICKERS.index(view.series)
    x = X[:, i]
    mean = np.sum(p * x)
    if view.kind.value in ("return", "level"):
        return mean
    if view.kind.value == "relative":
        return np.sum(p * (x - X[:, TICKERS.index(view.versus)]))
    if view.kind.value == "probability":
        return np.sum(p[x < view.below])
    var = np.sum(p * (x - mean) ** 2)
    if view.kind.value == "volatility":
        return math.sqrt(var)
    y = X[:, TICKERS.index(view.versus)]
    my = np.sum(p * y)
    cov = np.sum(p * (x - mean) * (y - my))
    return cov / math.sqrt(var * np.sum(p * (y - my) ** 2))


def test_five_views_hold_together() -> None:
    X = _matrix(10_000)
    q = np.full(len(X), 1 / len(X))
    specs = [ALL_KINDS[0], ALL_KINDS[2], ALL_KINDS[3], ALL_KINDS[4], ALL_KINDS[5]]
    views = [_view(**s) for s in specs]
    p, outcomes, notes = pool_views(X, q, views, TICKERS, 0.25)
    assert not notes
    for v, out in zip(views, outcomes, strict=True):
        got = _recompute(v, X, p)
        slack = {"==": abs(got - out.target), ">=": out.target - got, "<=": got - out.target}
        assert slack[v.op.value] <= 1e-6, (v.name(), got, out.target)


@pytest.mark.parametrize("c", [0.0, 0.3, 1.0])
def test_confidence_blends_prior_and_posterior(c: float) -> None:
    X = _matrix(2000)
    q = np.full(len(X), 1 / len(X))
    full, _, _ = pool_views(X, q, [_view(kind="return", series="SMALL", value=0.06)], TICKERS, 1)
    p, (out,), _ = pool_views(
        X, q, [_view(kind="return", series="SMALL", value=0.06, confidence=c)], TICKERS, 1
    )
    np.testing.assert_allclose(p, (1 - c) * q + c * full, atol=1e-13)
    prior = float(q @ X[:, 1])
    assert out.posterior == pytest.approx(prior + c * (0.06 - prior), abs=1e-9)
    assert out.imposed == pytest.approx(0.06 if c > 0 else prior, abs=1e-9)


def test_mixed_confidences_pool_nested_posteriors() -> None:
    # confidences 0.8 and 0.5: p = 0.2 q + 0.3 p({A}) + 0.5 p({A, B})
    X = _matrix(2000)
    q = np.full(len(X), 1 / len(X))
    a = {"kind": "return", "series": "SMALL", "value": 0.06}
    b = {"kind": "return", "series": "BOND", "value": 0.0}
    only_a, _, _ = pool_views(X, q, [_view(**a)], TICKERS, 1)
    both, _, _ = pool_views(X, q, [_view(**a), _view(**b)], TICKERS, 1)
    p, _, _ = pool_views(X, q, [_view(**a, confidence=0.8), _view(**b, confidence=0.5)], TICKERS, 1)
    np.testing.assert_allclose(p, 0.2 * q + 0.3 * only_a + 0.5 * both, atol=1e-13)


def test_view_outside_the_scenario_range_names_itself() -> None:
    X = _matrix(1000)
    q = np.full(len(X), 1 / len(X))
    views = [
        _view(kind="return", series="LARGE", value=0.03),
        _view(kind="return", series="SMALL", op=">=", value=5.0, label="small caps double"),
    ]
    with pytest.raises(ConfigError) as err:
        pool_views(X, q, views, TICKERS, 0.25)
    assert err.value.key == "views.view[1].value"
    assert "small caps double" in err.value.message
    assert f"..{X[:, 1].max():.4g}" in err.value.message


def test_conflicting_views_are_named() -> None:
    X = _matrix(1000)
    q = np.full(len(X), 1 / len(X))
    views = [
        _view(kind="return", series="BOND", value=0.01),
        _view(kind="return", series="SMALL", op=">=", value=0.08),
        _view(kind="return", series="SMALL", op="<=", value=0.04),
    ]
    with pytest.raises(ConfigError) as err:
        pool_views(X, q, views, TICKERS, 0.25)
    msg = err.value.message
    assert "views.view[1]" in msg and "views.view[2]" in msg and "views.view[0]" not in msg


def test_find_conflict_is_irreducible() -> None:
    x = np.array([-1.0, 0.0, 1.0])
    lin = LinearViews(np.vstack([x, x]), np.array([0.5, -0.5]), np.atleast_2d(-x), np.array([0.9]))
    rows = find_conflict(lin)
    assert rows is not None and len(rows) == 2
    assert find_conflict(lin.subset([0])) is None


def test_unknown_series_is_a_config_error() -> None:
    X = _matrix(100)
    q = np.full(len(X), 1 / len(X))
    with pytest.raises(ConfigError) as err:
        pool_views(X, q, [_view(kind="return", series="IWM", value=0.1)], TICKERS, 1)
    assert err.value.key == "views.view[0].series" and err.value.value == "IWM"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"view": [{"kind": "relative", "series": "A", "value": 0.1}]}, "views.view.0"),
        ({"view": [{"kind": "return", "series": "A", "value": 0.1, "confidence": 1.5}]},
         "views.view.0.confidence"),
        ({"view": [{"kind": "probability", "series": "A", "value": 0.5}]}, "views.view.0"),
        ({"view": [{"kind": "return", "series": "A", "value": 0.1, "op": ">"}]},
         "views.view.0.op"),
        ({"method": "black_litterman",
          "view": [{"kind": "volatility", "series": "A", "value": 0.1}]}, "views"),
    ],
)  # fmt: skip
def test_bad_views_section(raw: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate(ViewsConfig, raw, file="acct.toml", prefix="views")
    assert err.value.file == "acct.toml" and err.value.key == key


def test_volatility_view_holds_the_mean_and_correlation_the_volatilities() -> None:
    # Meucci / skfolio: a second-moment view keeps what no other view states
    X = _matrix(5000)
    q = np.full(len(X), 1 / len(X))
    m0, sd0 = q @ X, np.sqrt(q @ (X - q @ X) ** 2)
    vol = _view(kind="volatility", series="SMALL", value=0.5)
    p, _, _ = pool_views(X, q, [vol], TICKERS, 0.25)
    assert p @ X[:, 1] == pytest.approx(m0[1], abs=1e-9)
    corr = _view(kind="correlation", series="LARGE", versus="BOND", value=0.5)
    p, (out,), _ = pool_views(X, q, [corr], TICKERS, 0.25)
    assert out.posterior == pytest.approx(0.5, abs=1e-6)
    m = p @ X
    np.testing.assert_allclose(m[[0, 2]], m0[[0, 2]], atol=1e-9)
    np.testing.assert_allclose(np.sqrt(p @ (X - m) ** 2)[[0, 2]], sd0[[0, 2]], atol=1e-9)
    assert _recompute(corr, X, p) == pytest.approx(0.5, abs=1e-6)
    # with a mean view on the same series, the mean moves and the volatility still holds
    both = [_view(kind="return", series="SMALL", value=0.06), vol]
    p, _, _ = pool_views(X, q, both, TICKERS, 0.25)
    assert p @ X[:, 1] == pytest.approx(0.06, abs=1e-6)
    assert _recompute(vol, X, p) == pytest.approx(0.25, abs=1e-6)


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "probability", "series": "LARGE", "below": -10.0, "op": ">=", "value": 0.1},
        {"kind": "probability", "series": "LARGE", "above": -10.0, "op": "<=", "value": 0.5},
    ],
    ids=["event-never-happens", "event-always-happens"],
)
def test_impossible_event_probability_names_itself(spec: dict) -> None:
    X = _matrix(1000)
    q = np.full(len(X), 1 / len(X))
    with pytest.raises(ConfigError) as err:
        pool_views(X, q, [_view(**spec)], TICKERS, 0.25)
    assert err.value.key == "views.view[0].value" and "no scenario mix gives" in err.value.message


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_eq=st.integers(0, 3),
    n_ineq=st.integers(0, 3),
    S=st.integers(5, 300),
)
def test_feasible_random_views_hold_and_match_cvxpy(seed: int, n_eq: int, n_ineq: int, S: int):
    # targets are the values of a random probability vector r, so the views are feasible
    # by construction; the posterior must hold them and be the primal's optimum
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(n_eq + n_ineq, S))
    q = rng.dirichlet(np.full(S, 2.0))
    r = rng.dirichlet(np.full(S, 1.0))
    targets = rows @ r
    lin = LinearViews(
        rows[:n_eq], targets[:n_eq], rows[n_eq:], targets[n_eq:] + rng.uniform(0, 0.1, n_ineq)
    )
    out = entropy_pooling(q, lin)
    assert out.converged and out.max_violation <= 1e-6
    assert abs(out.p.sum() - 1) < 1e-12 and out.p.min() >= 0
    if lin.n_rows:
        ref = _primal_cvxpy(q, lin)
        assert relative_entropy(out.p, q) <= relative_entropy(np.clip(ref, 0, None), q) + 1e-6

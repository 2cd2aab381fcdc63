"""Infeasibility diagnosis on known conflicts, and one clear error per kind of bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from optimizer.errors import ConfigError, DataError, InfeasibleError
from optimizer.optimize import Policy, optimize
from tests.optimize_support import synthetic_estimate

TAGS = {
    "T0": ["equity"],
    "T1": ["equity", "small_cap"],
    "T2": ["equity"],
    "T3": ["bonds"],
    "T4": ["bonds"],
    "T5": ["cash"],
}


def _policy(est, objective=None, constraints=None, assets=None):
    spec = {t: {"tags": TAGS[t], **(assets or {}).get(t, {})} for t in est.tickers}
    return Policy.simple(
        est.tickers,
        objective=objective or {"kind": "min_variance"},
        constraints=constraints or {},
        assets=spec,
    )


def test_conflicting_groups_are_diagnosed_with_the_amount_to_move():
    est = synthetic_estimate()
    groups = ["equity >= 0.9", "bonds >= 0.25", "T5 <= 0.5"]
    with pytest.raises(InfeasibleError) as info:
        optimize(est, _policy(est, constraints={"groups": groups}))
    d = info.value.diagnosis
    names = {c.constraint for c in d.conflicts}
    lower_bounds = {f"{t} >= 0" for t in est.tickers}  # going short also closes the gap
    assert names and names <= {"equity >= 0.9", "bonds >= 0.25"} | lower_bounds
    assert d.total_slack == pytest.approx(0.15, abs=1e-6)  # 0.9 + 0.25 - 1
    assert str(info.value).startswith("constraints conflict: ")
    assert "\n" not in str(info.value)
    # moving each named constraint by the stated amount makes the policy feasible
    moved = {c.constraint: c.needs + 1e-7 for c in d.conflicts}
    eq = 0.9 - moved.get("equity >= 0.9", 0.0)
    bonds = 0.25 - moved.get("bonds >= 0.25", 0.0)
    assets = {t: {"min": -moved.get(f"{t} >= 0", 0.0)} for t in est.tickers}
    fixed = [f"equity >= {eq}", f"bonds >= {bonds}", "T5 <= 0.5"]
    a = optimize(est, _policy(est, constraints={"groups": fixed}, assets=assets))
    assert sum(a.weights.values()) == pytest.approx(1.0, abs=1e-9)


def test_bound_against_group_conflict_names_both_sides():
    est = synthetic_estimate()
    assets = {"T0": {"max": 0.2}, "T1": {"max": 0.2}, "T2": {"max": 0.2}}
    with pytest.raises(InfeasibleError) as info:
        optimize(est, _policy(est, constraints={"groups": ["equity >= 0.7"]}, assets=assets))
    d = info.value.diagnosis
    assert d.total_slack == pytest.approx(0.1, abs=1e-6)
    assert {c.constraint for c in d.conflicts} <= {
        "equity >= 0.7",
        "T0 <= 0.2",
        "T1 <= 0.2",
        "T2 <= 0.2",
    }
    assert info.value.exit_code == 6


def test_scenario_loss_conflict_with_turnover():
    est = synthetic_estimate()
    s = est.scenario("a")
    worst = int(np.argmin(s.mu))
    current = {est.tickers[worst]: 1.0}
    cap = max(0.0, -float(np.max(s.mu))) + 0.001  # needs moving nearly all of the weight
    loss = f"a loss <= {cap}"
    with pytest.raises(InfeasibleError) as info:
        optimize(est, _policy(est, constraints={"turnover": 0.2, "scenario_loss": [loss]}), current)
    assert any(c.constraint in (loss, "turnover <= 0.2") for c in info.value.diagnosis.conflicts)


def test_a_limit_that_keeps_a_bound_out_of_reach_is_named_beside_it():
    """From half bonds, half cash, a turnover limit of 0.4 lets equity reach 0.2 (0.2 in,
    0.2 out): the elastic relaxation moves the equity bound by 0.3, the cheaper side, and the
    message names the turnover limit it runs against, found from the relaxation's duals."""
    est = synthetic_estimate()
    current = {"T3": 0.5, "T5": 0.5}
    policy = _policy(est, constraints={"groups": ["equity >= 0.5"], "turnover": 0.4})
    with pytest.raises(InfeasibleError) as info:
        optimize(est, policy, current)
    d = info.value.diagnosis
    assert [(c.constraint, round(c.needs, 6)) for c in d.conflicts] == [("equity >= 0.5", 0.3)]
    assert d.binding == ("turnover <= 0.4",)
    assert str(info.value).endswith(
        "equity >= 0.5 must be loosened by 0.3 (against turnover <= 0.4)"
    )
    # the policy with the bound moved by the stated amount is feasible, and it is tight:
    # the turnover limit is what binds
    a = optimize(est, _policy(est, constraints={"groups": ["equity >= 0.2"], "turnover": 0.4}),
                 current)  # fmt: skip
    assert sum(a.weights[t] for t in ("T0", "T1", "T2")) == pytest.approx(0.2, abs=1e-6)


def test_max_sharpe_without_positive_excess_return_is_explained():
    est = synthetic_estimate()
    est = dataclasses.replace(est, risk_free=float(est.mu.max()) + 0.01)
    with pytest.raises(InfeasibleError, match="max Sharpe needs an asset whose expected"):
        optimize(est, _policy(est, {"kind": "max_sharpe"}))


def test_max_sharpe_when_constraints_exclude_positive_excess():
    est = synthetic_estimate()
    mu = est.mu.copy()
    mu[5] = est.risk_free + 0.05  # only the cash-tagged T5 beats the risk-free return ...
    mu[:5] = est.risk_free - 0.01
    est = dataclasses.replace(est, mu=mu)
    with pytest.raises(InfeasibleError, match="none within the constraints"):  # ... capped
        optimize(est, _policy(est, {"kind": "max_sharpe"}, assets={"T5": {"max": 0.0}}))


def test_nan_in_expected_returns():
    est = synthetic_estimate()
    mu = est.mu.copy()
    mu[2] = np.nan
    with pytest.raises(DataError, match="expected returns are not finite") as info:
        optimize(dataclasses.replace(est, mu=mu), _policy(est))
    assert "T2" in str(info.value)


def _not_psd(est):
    S = est.Sigma.copy()
    S[0, 1] = S[1, 0] = np.sqrt(S[0, 0] * S[1, 1]) * 1.5  # correlation 1.5
    return dataclasses.replace(est, Sigma=S)


def test_covariance_not_psd_refused_when_configured():
    est = _not_psd(synthetic_estimate())
    with pytest.raises(DataError, match="not positive semidefinite") as info:
        optimize(est, _policy(est, constraints={"covariance": "refuse"}))
    assert "constraints.covariance" in str(info.value)


def test_covariance_not_psd_repaired_with_a_warning():
    est = _not_psd(synthetic_estimate())
    a = optimize(est, _policy(est))
    assert any("repaired" in w for w in a.warnings)
    vals, vecs = np.linalg.eigh(est.Sigma)
    repaired = (vecs * np.clip(vals, 0, None)) @ vecs.T
    w = np.array(list(a.weights.values()))
    assert a.metrics.volatility == pytest.approx(np.sqrt(w @ repaired @ w), rel=1e-9)


def test_unknown_tag_lists_known_names():
    est = synthetic_estimate()
    with pytest.raises(ConfigError) as info:
        optimize(est, _policy(est, constraints={"groups": ["", "mid_cap <= 0.2"][1:]}))
    msg = str(info.value)
    assert "constraints.groups[0]" in msg and "'mid_cap'" in msg
    assert "known: bonds, cash, equity, small_cap, T0" in msg


def test_bounds_that_cannot_reach_one():
    est = synthetic_estimate()
    assets = {t: {"max": 0.1} for t in est.tickers}
    with pytest.raises(ConfigError, match=r"sum to 0\.6, so weights cannot reach 1") as info:
        optimize(est, _policy(est, assets=assets))
    assert "universe.assets.*.max" in str(info.value)


@pytest.mark.parametrize(
    ("constraints", "fragment"),
    [
        ({"groups": ["equity >> 0.5"]}, "cannot read"),
        ({"groups": ["equity * bonds <= 0.5"]}, "two names"),
        ({"scenario_loss": ["nowhere loss <= 5%"]}, "unknown scenario; known: a, b, c"),
        ({"scenario_loss": ["a loses 5%"]}, "expected '<scenario id> loss <= <number>[%]'"),
        ({"turnover": -1}, "constraints.turnover"),
        ({"bogus": 1}, "unknown key"),
    ],
)
def test_bad_constraint_config_is_one_line(constraints, fragment):
    est = synthetic_estimate()
    with pytest.raises(ConfigError) as info:
        optimize(est, _policy(est, constraints=constraints))
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_objective_kind_needs_its_number():
    est = synthetic_estimate()
    with pytest.raises(ConfigError, match="needs target_volatility"):
        optimize(est, _policy(est, {"kind": "target_volatility"}))


def test_min_cvar_without_samples():
    est = dataclasses.replace(synthetic_estimate(), samples=None)
    with pytest.raises(ConfigError, match="needs Monte Carlo samples"):
        optimize(est, _policy(est, {"kind": "min_cvar"}))


def test_an_index_in_the_universe_is_a_warning_not_an_asset():
    est = synthetic_estimate(n=3)
    est = dataclasses.replace(est, tickers=("SPY", "^VIX", "TLT"))
    a = optimize(est, Policy.simple(est.tickers, objective={"kind": "min_variance"}))
    assert any("^VIX: an index level, not an investable asset" in w for w in a.warnings)
    plain = synthetic_estimate(n=3)
    b = optimize(plain, Policy.simple(plain.tickers, objective={"kind": "min_variance"}))
    assert not any("index level" in w for w in b.warnings)
    assert [a.weights[t] for t in est.tickers] == [b.weights[t] for t in plain.tickers]

"""``capalloc stress`` and ``capalloc scenarios``, through a real subprocess."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import ROOT, run_cli

BAD = ROOT / "tests" / "bad_input" / "scenarios"


@pytest.fixture(scope="module")
def real_source(shared_data):
    return f"csv:{shared_data / 'yahoo'},{shared_data / 'fred'}"


@pytest.fixture(scope="module", params=["yahoo+fred", "yahoo"])
def stress_source(request, shared_data):
    """Yahoo prices with FRED rates (2-year short rate), or the Yahoo folder alone (^FVX)."""
    if request.param == "yahoo":
        return f"csv:{shared_data / 'yahoo'}"
    return f"csv:{shared_data / 'yahoo'},{shared_data / 'fred'}"


@pytest.fixture(scope="module")
def equal_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "weights.csv"
    path.write_text("ticker,weight\nSPY,0.3334\nIWM,0.3333\nTLT,0.3333\n")
    return path


@pytest.fixture(scope="module")
def sample_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "weights.csv"
    path.write_text("ticker,weight\nLARGE,0.4\nSMALL,0.3\nBOND,0.3\n")
    return path


@pytest.fixture(scope="module")
def real_stress(stress_source, equal_weights):
    res = run_cli(
        "stress",
        "--weights",
        str(equal_weights),
        "--source",
        stress_source,
        "--start",
        "2005-01-01",
        "--scenario",
        "sp500-correction-6200",
        "--scenario",
        "yield-spike",
        "--value",
        "300000",
        "--format",
        "json",
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_sp500_correction_hurts_small_caps_more(real_stress):
    s = real_stress["scenarios"]["sp500-correction-6200"]
    per = s["per_asset"]
    assert per["IWM"]["return"] < per["SPY"]["return"] < 0
    assert s["per_factor"]["equity"] < 0 and s["per_factor"]["size"] < 0
    assert s["history"].startswith("2005-01")
    assert s["plausibility"] and s["mahalanobis"] > 0
    spot = s["spots"]["SP500"]  # the level the 6,200 target is measured from, and why
    assert spot["target"] == 6200 and "carried to" in spot["source"]
    assert s["factor_moves"]["equity"]["move"] == pytest.approx(6200 / spot["level"] - 1)


def test_yield_spike_as_shipped(real_stress):
    s = real_stress["scenarios"]["yield-spike"]
    w = real_stress["weights"]
    ret = {t: s["per_asset"][t]["return"] for t in w}
    for t in w:  # the asset's own return, and its weighted contribution beside it
        assert s["per_asset"][t]["contribution"] == pytest.approx(w[t] * ret[t], abs=1e-15)
    assert ret["IWM"] < ret["SPY"] < 0
    assert -0.20 <= ret["TLT"] <= -0.13  # about 13 to 20 % for +100 bp
    assert s["factor_moves"]["long_rate"] == {"move": pytest.approx(100), "unit": "bp"}
    assert "2022-01" in s["history"] and "pinned" in s["history"]


def test_stress_document_is_self_consistent(real_stress):
    doc = real_stress
    assert set(doc) >= {"weights", "scenarios", "provenance"}
    assert doc["provenance"]["source"].startswith("csv:")
    for s in doc["scenarios"].values():
        per = s["per_asset"]
        assert sum(a["contribution"] for a in per.values()) == pytest.approx(s["return"])
        assert all(a["money"] == pytest.approx(300_000 * a["contribution"]) for a in per.values())
        units = {"long_rate": "bp", "short_rate": "bp", "credit": "bp", "vol": "log_change"}
        for f, m in s["factor_moves"].items():  # every move carries its unit
            assert m["unit"] == units.get(f, "return")
        # intercept plus factor contributions add up to the portfolio return
        assert sum(s["per_factor"].values()) == pytest.approx(s["return"], abs=1e-12)
        assert s["money"] == pytest.approx(300_000 * s["return"])


def test_holdings_are_valued_at_last_prices(shared_data, real_source, tmp_path):
    import pandas as pd

    holdings = tmp_path / "holdings.csv"
    holdings.write_text("ticker,shares,cost\nSPY,10,400\nTLT,50,90\n")
    res = run_cli(
        "stress", "--holdings", str(holdings), "--source", real_source,
        "--start", "2015-01-01", "--scenario", "baseline", "--format", "json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    last = {
        t: pd.read_csv(shared_data / "yahoo" / f"{t}.csv")["Close"].iloc[-1] for t in ("SPY", "TLT")
    }
    value = 10 * last["SPY"] + 50 * last["TLT"]
    assert doc["value"] == pytest.approx(value)
    assert doc["weights"]["SPY"] == pytest.approx(10 * last["SPY"] / value)


def test_stress_table_on_the_sample(sample_weights):
    res = run_cli("stress", "--weights", str(sample_weights), "--source", "sample")
    assert res.returncode == 0, res.stderr
    assert "sp500-correction-6200" in res.stdout and "skipped yield-spike" in res.stdout
    # the sample ends in 2017: the 2025 reference cannot be carried, and the table says so
    assert "SP500 to 6,200.00 from 6,800.00" in res.stdout
    assert "the move from the reference applies" in " ".join(res.stdout.split())


def test_scenarios_list_show_validate():
    res = run_cli("scenarios", "list", "--format", "json")
    assert res.returncode == 0, res.stderr
    ids = set(json.loads(res.stdout)["scenarios"])
    assert ids >= {"baseline", "fed-easing", "tariff-shock", "yield-spike", "sp500-correction-6200"}
    res = run_cli("scenarios", "show", "sp500-correction-6200", "--format", "json")
    doc = json.loads(res.stdout)["scenarios"]["sp500-correction-6200"]
    assert doc["shocks"][0]["reference"]["level"] == 6800
    res = run_cli("scenarios", "show", "yield-spike")
    assert res.returncode == 0 and "+100 bp" in res.stdout
    res = run_cli("scenarios", "validate", str(ROOT / "scenarios"))
    assert res.returncode == 0 and res.stdout.count("ok ") == len(ids)


def test_user_scenario_dir(tmp_path, sample_weights):
    (tmp_path / "my-drop.toml").write_text(
        'id = "my-drop"\ntitle = "Mine"\nnarrative = "A user scenario."\n'
        'horizon = { value = 2, unit = "weeks" }\n[[shocks]]\nfactor = "equity"\n'
        "return_pct = -4\n"
    )
    res = run_cli("scenarios", "list", "--scenario-dir", str(tmp_path), "--format", "json")
    assert "my-drop" in json.loads(res.stdout)["scenarios"]
    res = run_cli(
        "stress", "--weights", str(sample_weights), "--source", "sample",
        "--scenario-dir", str(tmp_path), "--scenario", "my-drop", "--format", "json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    s = json.loads(res.stdout)["scenarios"]["my-drop"]
    assert s["factor_moves"]["equity"] == {"move": pytest.approx(-0.04), "unit": "return"}
    assert s["horizon"] == "2 weeks"


def test_every_scenario_is_stressed_when_their_probabilities_sum_above_one(
    tmp_path, sample_weights
):
    """A user's scenario with a probability beside the built-in ones (0.75 together) takes
    the library past 1: stress, which never mixes them, still runs every scenario, each
    with the probability its file states, and says so; named together they are a mixture
    and the sum is still an error."""
    (tmp_path / "my-drop.toml").write_text(
        'id = "my-drop"\ntitle = "Mine"\nnarrative = "A user scenario."\nprobability = 0.3\n'
        'horizon = { value = 1, unit = "months" }\n[[shocks]]\nfactor = "equity"\n'
        "return_pct = -4\n"
    )
    base = ("stress", "--weights", str(sample_weights), "--source", "sample",
            "--scenario-dir", str(tmp_path))  # fmt: skip
    res = run_cli(*base, "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    shown = {sid: s["probability"] for sid, s in doc["scenarios"].items()}
    assert shown["my-drop"] == 0.3 and shown["fed-easing"] == 0.3 and shown["tariff-shock"] == 0.1
    assert any("sum to 1.05" in n for n in doc["notes"])
    mixture = [a for sid in ("my-drop", "fed-easing", "sp500-correction-6200", "tariff-shock")
               for a in ("--scenario", sid)]  # fmt: skip
    res = run_cli(*base, *mixture, "--format", "json")
    assert res.returncode == 0 and json.loads(res.stdout)["notes"] == [], res.stderr
    res = run_cli(*base, *mixture, "--scenario", "yield-spike")
    assert res.returncode == 5 and "above 1" in res.stderr


def _stress_dir(case):
    folder = BAD / "stress" / case
    args = ["--scenario-dir", str(folder)]
    for f in sorted(folder.glob("*.toml")):
        args += ["--scenario", f.stem]
    return args


# (name, arguments after the command, exit code, fragments the one line must contain)
CASES = [
    ("malformed", ["validate", "files/malformed.toml"], 5, ["malformed TOML"]),
    ("unknown factor", ["validate", "files/unknown-factor.toml"], 5,
     ["shocks[0].factor='momentum'", "unknown factor"]),
    ("unknown index", ["validate", "files/unknown-index.toml"], 5,
     ["shocks[0].index='DAX'", "unknown index"]),
    ("missing units", ["validate", "files/missing-units.toml"], 5,
     ["shocks[0].factor='equity'", "0 units"]),
    ("missing horizon unit", ["validate", "files/missing-horizon-unit.toml"], 5,
     ["horizon.unit", "missing"]),
    ("two units", ["validate", "files/two-units.toml"], 5, ["2 units"]),
    ("wrong unit", ["validate", "files/wrong-unit.toml"], 5,
     ["shocks[0].return_pct=1.0", "use change_bp"]),
    ("id mismatch", ["validate", "files/id-mismatch.toml"], 5, ["id='not-the-file-name'"]),
    ("correlation stress range", ["validate", "files/correlation-stress-range.toml"], 5,
     ["stress.correlation_stress=1.5"]),
    ("unknown key", ["validate", "files/unknown-key.toml"], 5, ["unknown key", "shocks"]),
    ("replay backwards", ["validate", "files/replay-backwards.toml"], 5, ["replay.end="]),
    ("probability range", ["validate", "files/probability-range.toml"], 5, ["probability=1.2"]),
    ("replay with a horizon", ["validate", "files/replay-with-horizon.toml"], 5,
     ["horizon='3 months'", "a replay's horizon is its window"]),
    ("replay factor twice", ["validate", "files/replay-factor-twice.toml"], 5,
     ["replay.factors='equity'", "listed twice"]),
    ("reference on a factor", ["validate", "files/reference-on-a-factor.toml"], 5,
     ["shocks[0].reference='equity'", "index level"]),
    ("intermediate levels not numbers", ["validate", "files/intermediate-not-numbers.toml"], 5,
     ["shocks.0.intermediate=", "a number, not true/false"]),
    ("intermediate levels off the way", ["validate", "files/intermediate-off-the-way.toml"], 5,
     ["shocks[0].intermediate='6550, 7100'", "on the way down from the reference 6,800"]),
    ("weekly pin on monthly data", ["stress", *_stress_dir("weekly-pin-on-monthly")], 5,
     ["weekly-pin.toml", "history.frequency='weekly'", "use monthly or coarser"]),
    ("correlation of a factor without series",
     ["stress", *_stress_dir("correlation-without-series")], 5,
     ["vol-correlation.toml", "stress.correlations[0].factors='vol'", "no series"]),
    # run over every scenario, only what the data cannot carry is skipped: a stress that
    # breaks the covariance is the file's own error
    ("not psd among all scenarios",
     ["stress", "--scenario-dir", str(BAD / "stress" / "not-psd")], 5,
     ["impossible-correlations.toml", "positive semidefinite"]),
    ("probabilities above one", ["stress", *_stress_dir("probabilities-above-one")], 5,
     ["likely-rally.toml", "probability=0.6", "above 1"]),
    ("level without reference", ["stress", *_stress_dir("level-without-reference")], 5,
     ["sp500-no-reference.toml", "shocks[0].reference='SP500'", "spot level"]),
    ("not psd after stress", ["stress", *_stress_dir("not-psd")], 5,
     ["impossible-correlations.toml", "stress.correlations=", "positive semidefinite"]),
    ("pinned window outside data", ["stress", *_stress_dir("pinned-outside-data")], 5,
     ["after-the-data.toml", "history='2022-01-01..end of data'"]),
    ("window longer than data", ["stress", "--config", "accounts/window-too-long.toml"], 3,
     ["window-too-long.toml", "estimation.window_years=90", "longer than the data"]),
    ("use probabilities above one",
     ["stress", "--config", "accounts/use-probabilities-above-one.toml"], 3,
     ["use-probabilities-above-one.toml", "scenarios.use[1].probability=0.4"]),
    ("unknown estimator", ["stress", "--config", "accounts/unknown-estimator.toml"], 3,
     ["unknown-estimator.toml", "estimation.covariance='shrunk'"]),
    ("weights sum", ["stress", "--weights", "weights/sum-below-one.csv"], 3,
     ["sum-below-one.csv", "weight (sum)=0.9"]),
    ("weight text", ["stress", "--weights", "weights/text-weight.csv"], 3,
     ["text-weight.csv", "line 3: weight='half'"]),
    ("weights header", ["stress", "--weights", "weights/wrong-header.csv"], 3,
     ["wrong-header.csv", "header='symbol,weight'"]),
    ("duplicate ticker", ["stress", "--weights", "weights/duplicate.csv"], 3,
     ["duplicate.csv", "ticker='LARGE'"]),
    ("unknown scenario", ["stress", "--scenario", "no-such-scenario"], 5,
     ["scenario='no-such-scenario'", "known:"]),
    ("history too short", ["stress", "--start", "2016-01-01"], 4,
     ["history='2016-02-29..2017-03-31'", "too short for the factor regression"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "code", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line(name, args, code, fragments, sample_weights):
    command, rest = (
        args[0],
        [str(BAD / a) if a.endswith((".toml", ".csv")) else a for a in args[1:]],
    )
    if command == "validate":
        argv = ["scenarios", "validate", *rest]
    else:
        argv = ["stress", *rest]
        if "--weights" not in rest:
            argv += ["--weights", str(sample_weights)]
        if "--config" not in rest:
            argv += ["--source", "sample"]
    res = run_cli(*argv)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == code, res.stderr
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    kind = {3: "config error", 4: "data error", 5: "scenario error"}[code]
    assert lines[0].startswith(f"capalloc: {kind}: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_mixture_samples_reproduce_across_processes(tmp_path):
    code = (
        "import numpy as np, sys\n"
        "from optimizer.data.settings import DataConfig\n"
        "from optimizer.scenario.build import build_estimate\n"
        "from optimizer.scenarios import EstimationConfig, ScenarioSetConfig\n"
        "sset = ScenarioSetConfig(use=[{'id': 'tariff-shock'}, {'id': 'fed-easing'}],"
        " n_samples=500, seed=42)\n"
        "est = build_estimate(DataConfig(source='sample'), EstimationConfig(), sset,"
        " ['LARGE', 'SMALL', 'BOND'])\n"
        "np.save(sys.argv[1], est.samples)\n"
    )
    import subprocess
    import sys

    paths = [tmp_path / "a.npy", tmp_path / "b.npy"]
    for p in paths:
        subprocess.run([sys.executable, "-c", code, str(p)], check=True, cwd=ROOT)
    np.testing.assert_array_equal(np.load(paths[0]), np.load(paths[1]))


def test_holdings_are_valued_on_the_as_of_date(shared_data, tmp_path):
    """With IWM's file (the size factor's series) ending 18 days before the others, the
    as-of date is IWM's last date, and the holdings (SPY, TLT) are valued on it, not at
    their own last closes."""
    import shutil

    import pandas as pd

    folder = tmp_path / "yahoo"
    shutil.copytree(shared_data / "yahoo", folder)
    iwm = pd.read_csv(folder / "IWM.csv")
    iwm[iwm["Date"] <= "2026-02-05"].to_csv(folder / "IWM.csv", index=False)
    holdings = tmp_path / "holdings.csv"
    holdings.write_text("ticker,shares,cost\nSPY,10,400\nTLT,50,90\n")
    res = run_cli(
        "stress", "--holdings", str(holdings), "--source",
        f"csv:{folder},{shared_data / 'fred'}", "--start", "2015-01-01", "--scenario",
        "baseline", "--format", "json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["provenance"]["as_of"] == "2026-02-05"
    close = {
        t: pd.read_csv(shared_data / "yahoo" / f"{t}.csv").set_index("Date")["Close"]
        for t in ("SPY", "TLT")
    }
    value = 10 * close["SPY"].loc["2026-02-05"] + 50 * close["TLT"].loc["2026-02-05"]
    assert doc["value"] == pytest.approx(value, rel=1e-12)


def test_validating_a_folder_without_scenarios_is_an_error(tmp_path):
    # "nothing to check" printed nothing and exited 0, as if every file were valid
    (tmp_path / "notes.txt").write_text("not a scenario\n")
    res = run_cli("scenarios", "validate", str(tmp_path))
    assert res.returncode == 5 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert str(tmp_path) in res.stderr and "no scenario files" in res.stderr


def test_a_replay_past_the_as_of_date_is_refused_not_read_from_a_longer_series(
    shared_data, real_source, equal_weights, tmp_path
):
    """The 10-year yield series runs months past the ETFs: a replay window after the ETFs'
    last day (the as-of date) reads yields nobody had on that date. It is refused, and a
    window that ends on the as-of date still runs."""
    import pandas as pd

    etf_end = pd.read_csv(shared_data / "yahoo" / "SPY.csv")["Date"].iloc[-1]
    rate_end = pd.read_csv(shared_data / "fred" / "DGS10.csv")["observation_date"].iloc[-1]
    if rate_end <= etf_end:
        pytest.skip("the yield series does not run past the ETFs in this data")
    as_of = pd.Timestamp(etf_end)
    windows = {
        "after": (as_of + pd.Timedelta(days=7), pd.Timestamp(rate_end)),
        "across": (as_of - pd.Timedelta(days=30), pd.Timestamp(rate_end)),
        "until": (as_of - pd.Timedelta(days=30), as_of),
    }
    for name, (start, end) in windows.items():
        (tmp_path / f"{name}.toml").write_text(
            f'id = "{name}"\ntitle = "replay"\nnarrative = "x"\n[replay]\n'
            f'start = {start.date()}\nend = {end.date()}\nfactors = ["equity", "long_rate"]\n'
        )
    base = ("stress", "--weights", str(equal_weights), "--source", real_source,
            "--start", "2008-01-01", "--scenario-dir", str(tmp_path))  # fmt: skip
    for name in ("after", "across"):
        r = run_cli(*base, "--scenario", name)
        assert r.returncode == 5, (name, r.stdout, r.stderr)
        assert "does not cover the replay window" in r.stderr
        assert f"..{etf_end})" in r.stderr  # it covers up to the as-of date, not the yields'
    r = run_cli(*base, "--scenario", "until", "--format", "json")
    assert r.returncode == 0, r.stderr
    (res,) = json.loads(r.stdout)["scenarios"].values()
    spy = pd.read_csv(shared_data / "yahoo" / "SPY.csv", index_col="Date", parse_dates=True)
    close = spy["Close"]
    start, end = windows["until"]
    realised = close.loc[:end].iloc[-1] / close.loc[: start - pd.Timedelta(days=1)].iloc[-1] - 1
    assert res["per_asset"]["SPY"]["return"] == pytest.approx(realised, abs=1e-9)

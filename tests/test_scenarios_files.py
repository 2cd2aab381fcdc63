"""Scenario files: the shipped set, units, loading and the library's folders."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from optimizer.errors import ScenarioError
from optimizer.factors import FactorKind
from optimizer.scenario.model import shock_value
from optimizer.scenarios import (
    FACTOR_KINDS,
    ScenarioLibrary,
    builtin_dir,
    load_scenario,
)
from tests.conftest import ROOT

SHIPPED = {
    "baseline",
    "fed-easing",
    "tariff-shock",
    "yield-spike",
    "sp500-correction-6200",
    "rate-shock-2022",
    "tariff-replay-2025",
}


def test_builtin_folder_in_a_source_checkout():
    assert builtin_dir() == ROOT / "scenarios"


def test_shipped_scenarios_are_complete():
    lib = ScenarioLibrary.with_extra()
    scenarios = {s.id: s for s in lib.all()}
    assert set(scenarios) == SHIPPED
    for s in scenarios.values():
        assert s.title and len(s.narrative.split()) > 30 and s.sources, s.id
        assert s.horizon is not None or s.replay is not None
    total = sum(s.probability or 0 for s in scenarios.values())
    assert total <= 1


def test_sp500_correction_reference_levels():
    s = load_scenario(ROOT / "scenarios" / "sp500-correction-6200.toml")
    shock = s.shocks[0]
    assert (shock.index, shock.level, shock.intermediate) == ("SP500", 6200, [6550])
    assert shock.reference.level == 6800 and shock.reference.date.year == 2025
    assert shock.reference.date.month == 12 and shock.reference.source
    assert s.horizon.text() == "3 months" and s.horizon_years == pytest.approx(0.25)


def test_yield_spike_pins_the_post_2022_regime():
    s = load_scenario(ROOT / "scenarios" / "yield-spike.toml")
    assert s.history.start == dt.date(2022, 1, 1) and s.history.frequency.value == "monthly"
    assert s.shocks[0].factor == "long_rate" and s.shocks[0].change_bp == 100


def test_units_convert_to_factor_units():
    s = load_scenario(ROOT / "scenarios" / "fed-easing.toml")
    assert shock_value(s.shocks[0], FactorKind.RATE_CHANGE) == pytest.approx(-0.005)
    from optimizer.scenarios import Shock

    vol = Shock(factor="vol", change_pct=50)
    assert shock_value(vol, FACTOR_KINDS["vol"]) == pytest.approx(math.log(1.5))
    eq = Shock(factor="equity", return_pct=-12)
    assert shock_value(eq, FACTOR_KINDS["equity"]) == pytest.approx(-0.12)
    assert shock_value(Shock(index="SP500", level=6200), FactorKind.RETURN) is None


def test_user_folder_overrides_builtin_by_id(tmp_path):
    (tmp_path / "baseline.toml").write_text(
        'id = "baseline"\ntitle = "My baseline"\nnarrative = "Mine."\n'
        'horizon = { value = 6, unit = "months" }\n'
    )
    lib = ScenarioLibrary.with_extra([tmp_path])
    assert lib.get("baseline").title == "My baseline"
    with pytest.raises(ScenarioError, match="scenario folder not found"):
        ScenarioLibrary.with_extra([tmp_path / "missing"])
    with pytest.raises(ScenarioError, match="unknown scenario; known: baseline"):
        lib.get("nope")


def test_factor_shocked_twice(tmp_path):
    path = tmp_path / "twice.toml"
    path.write_text(
        'id = "twice"\ntitle = "t"\nnarrative = "n"\nhorizon = { value = 1, unit = "months" }\n'
        '[[shocks]]\nfactor = "equity"\nreturn_pct = -5\n'
        '[[shocks]]\nindex = "SP500"\nreturn_pct = -6\n'
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert "shocks[1]" in str(err.value) and "shocked twice" in str(err.value)


def test_the_same_id_in_two_user_folders_is_an_error_a_built_in_may_be_replaced(tmp_path):
    text = ('id = "{id}"\ntitle = "t"\nnarrative = "n"\n'
            'horizon = {{ value = 1, unit = "months" }}\n'
            '[[shocks]]\nfactor = "equity"\nreturn_pct = {pct}\n')  # fmt: skip
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, pct in ((a, -10), (b, -20)):
        folder.mkdir()
        (folder / "eq-drop.toml").write_text(text.format(id="eq-drop", pct=pct))
        (folder / "fed-easing.toml").write_text(text.format(id="fed-easing", pct=pct))
    only_a = ScenarioLibrary.with_extra([a, a])  # one folder given twice is one folder
    assert only_a.paths()["fed-easing"] == a / "fed-easing.toml"  # replaces the built-in
    assert only_a.get("eq-drop").shocks[0].return_pct == -10
    with pytest.raises(ScenarioError, match="same scenario id in two folders") as err:
        ScenarioLibrary.with_extra([a, b]).paths()
    assert err.value.value == "eq-drop" and str(b / "eq-drop.toml") in str(err.value)

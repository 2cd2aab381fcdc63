"""``capalloc optimize`` through a real subprocess: JSON document, and one stderr line with
the documented exit code for each kind of bad input (bundled sample data, offline)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import run_cli

BASE = """
[data]
source = "sample"

[estimation]
window_years = 30
horizon = { value = 3, unit = "months" }

[scenarios]
use = [{ id = "tariff-shock", probability = 0.3 }, { id = "fed-easing", probability = 0.3 }]
n_samples = 2000
seed = 3

[universe.assets.LARGE]
tags = ["equity", "large_cap"]
max = 0.6

[universe.assets.SMALL]
tags = ["equity", "small_cap"]
max = 0.3

[universe.assets.BOND]
tags = ["bonds"]

[universe.assets.CASH]
tags = ["cash"]
"""


def _run(tmp_path, text, *args):
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return run_cli("optimize", "--config", str(path), *args), path


def _one_line(res, code, *fragments):
    assert res.returncode == code, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    for f in fragments:
        assert f in lines[0]
    assert res.stdout == ""


def test_json_document(tmp_path):
    text = (
        BASE
        + """
[objective]
kind = "min_cvar"
cvar_level = 0.9

[constraints]
groups = ["equity >= 0.5", "small_cap <= 0.4 * equity", "cash >= 0.02"]
scenario_loss = ["tariff-shock loss <= 15%"]
"""
    )
    res, _ = _run(tmp_path, text, "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert {"weights", "metrics", "scenarios", "constraints", "solver", "provenance"} <= set(doc)
    w = doc["weights"]
    assert sum(w.values()) == pytest.approx(1.0, abs=1e-8)
    assert w["LARGE"] + w["SMALL"] >= 0.5 - 1e-7
    assert w["SMALL"] <= 0.4 * (w["LARGE"] + w["SMALL"]) + 1e-7
    assert w["CASH"] >= 0.02 - 1e-7
    assert doc["scenarios"]["tariff-shock"]["return"] >= -0.15 - 1e-7
    assert doc["metrics"]["small_cap_share_of_equity"] == pytest.approx(
        w["SMALL"] / (w["LARGE"] + w["SMALL"]), rel=1e-9
    )
    assert doc["solver"]["name"] == "HIGHS"
    assert np.isfinite(doc["metrics"]["cvar"])


def test_table_output(tmp_path):
    res, _ = _run(tmp_path, BASE + '[objective]\nkind = "min_variance"\n')
    assert res.returncode == 0, res.stderr
    assert "Allocation (min_variance)" in res.stdout and "tariff-shock" in res.stdout


def test_unknown_tag_exit_3(tmp_path):
    res, path = _run(tmp_path, BASE + '[constraints]\ngroups = ["mid_cap <= 0.2"]\n')
    _one_line(
        res,
        3,
        str(path),
        "constraints.groups[0]",
        "unknown tag or ticker 'mid_cap'",
        "known: bonds, cash, equity, large_cap, small_cap",
    )


def test_bounds_cannot_reach_one_exit_3(tmp_path):
    text = BASE.replace('tags = ["bonds"]', 'tags = ["bonds"]\nmax = 0.05').replace(
        'tags = ["cash"]', 'tags = ["cash"]\nmax = 0.01'
    )
    res, path = _run(tmp_path, text)
    _one_line(res, 3, str(path), "universe.assets.*.max", "cannot reach 1")


def test_unknown_objective_key_exit_3(tmp_path):
    res, path = _run(tmp_path, BASE + '[objective]\nkind = "max_sharpe"\nrisk = 2\n')
    _one_line(res, 3, str(path), "objective.risk", "unknown key")


def test_bad_objective_kind_exit_3(tmp_path):
    res, _ = _run(tmp_path, BASE + '[objective]\nkind = "max_return"\n')
    _one_line(res, 3, "objective.kind", "max_return")


def test_contradictory_constraints_exit_6(tmp_path):
    # each group alone can hold (equity up to 0.9 by its max bounds); together they cannot
    text = BASE + '[constraints]\ngroups = ["equity >= 0.85", "bonds >= 0.2"]\n'
    res, _ = _run(tmp_path, text)
    _one_line(res, 6, "constraints conflict:", "must be loosened by")

"""The HiGHS wrapper (optimizer/highs.py): silent, no option that breaks later instances, every
status checked; and every ``--format json`` path that runs HiGHS prints one JSON document.

These tests fence the installed highspy: a release that prints on every construction, or
whose global scheduler conflicts again, fails here instead of corrupting user output.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from optimizer import highs
from optimizer.rebalance import Account, Lot, RebalanceRules, plan
from optimizer.rebalance.milp import solve_milp
from optimizer.rebalance.rules import SolverChoice
from optimizer.rebalance.solve import Method, Problem, feasible, objective
from tests.conftest import ROOT, run_cli

AS_OF = dt.date(2026, 11, 20)


def _problem() -> Problem:
    """A three-ticker trade problem whose cash term couples the tickers (the MILP's case)."""
    return Problem(
        p=np.array([101.3, 257.9, 523.15]),
        h=np.array([40.0, 10.0, 0.0]),
        t=np.array([2500.0, 3100.0, 1900.0]),
        band=np.array([50.0, 60.0, 40.0]),
        lo=np.array([-40.0, -10.0, 0.0]),
        hi=np.array([25.0, 20.0, 10.0]),
        step=1.0,
        min_order=100.0,
        cash0=3000.0,
        cash_target=300.0,
        reserve=150.0,
        lam=1.0,
        comm_share=0.0,
        comm_min=1.0,
        spread=0.0003,
        inside=1.0,
        cash_band=50.0,
        value=8000.0,
    )


def _brute_force(prob: Problem) -> float:
    """The optimum by enumerating every feasible whole-share trade (independent of HiGHS)."""
    ranges = [range(int(lo), int(hi) + 1) for lo, hi in zip(prob.lo, prob.hi, strict=True)]
    best = np.inf
    for z in itertools.product(*ranges):
        z = np.array(z, dtype=float)
        if feasible(prob, z):
            best = min(best, objective(prob, z))
    return best


def test_an_lp_with_default_threads_then_a_milp_gives_the_milp_optimum():
    import highspy

    other = highspy.Highs()  # as another library would: default options, run first
    other.setOptionValue("output_flag", False)
    other.addVar(0.0, 1.0)
    other.changeColCost(0, -1.0)
    assert highs.run(other) == "Optimal"
    prob = _problem()
    for _ in range(3):  # and again: no instance may spoil the next
        z, why = solve_milp(prob)
        assert why == "optimal" and z is not None
        assert objective(prob, z) == pytest.approx(_brute_force(prob), abs=0.02)


def test_process_wide_options_are_refused():
    with pytest.raises(ValueError, match="threads"):
        highs.new(threads=1)


def test_a_bad_option_is_a_highs_failure():
    with pytest.raises(highs.HighsFailure, match="time_limit"):
        highs.new(time_limit="soon")


def test_nothing_reaches_stdout_or_stderr_at_the_descriptor_level():
    code = (
        "import highspy\n"
        "from optimizer import highs\n"
        "for _ in range(3):\n"
        "    h = highs.new()\n"
        "    h.addVar(0.0, 1.0); h.changeColCost(0, -1.0)\n"
        "    assert highs.run(h) == 'Optimal'\n"
        "highspy.Highs()  # a later plain construction must not print either\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr == ""


def _fallback_account() -> tuple[Account, dict, dict]:
    lots = (Lot("AAA", 100.0, 50.0, dt.date(2020, 1, 2), "A1"),)
    return Account("acct", 20_000.0, lots), {"AAA": 0.5, "BBB": 0.5}, {"AAA": 61.0, "BBB": 33.0}


def test_milp_time_limit_is_a_visible_fallback():
    account, targets, prices = _fallback_account()
    rules = RebalanceRules(solver=SolverChoice.MILP, time_limit=1e-9)
    result = plan(account, targets, prices, rules, as_of=AS_OF)
    assert result.method is Method.GREEDY
    assert result.warnings and "greedy fallback" in result.warnings[0]
    assert result.to_dict()["warnings"] == list(result.warnings)


def test_an_exception_inside_highs_takes_the_fallback(monkeypatch):
    import highspy

    def broken(self):
        raise RuntimeError("solver crashed")

    monkeypatch.setattr(highspy.Highs, "run", broken)
    account, targets, prices = _fallback_account()
    result = plan(account, targets, prices, RebalanceRules(solver=SolverChoice.MILP), as_of=AS_OF)
    assert result.method is Method.GREEDY
    assert "RuntimeError: solver crashed" in result.warnings[0]
    assert result.trades  # the fallback still plans


def _proposal_config(tmp_path, kind: str) -> str:
    for name in ("account.toml", "holdings.csv"):
        shutil.copy(ROOT / "examples" / "proposal" / name, tmp_path / name)
    path = tmp_path / "account.toml"
    text = path.read_text().replace('kind = "max_sharpe"', f'kind = "{kind}"')
    path.write_text(text.replace("[rebalance]\n", '[rebalance]\nsolver = "milp"\n'))
    return str(path)


@pytest.mark.parametrize("fmt_out", ["json"])
def test_propose_min_cvar_with_the_milp_prints_one_json_document(tmp_path, fmt_out):
    config = _proposal_config(tmp_path, "min_cvar")
    res = run_cli("propose", "--config", config, "--out", str(tmp_path / "p"), "--format", fmt_out)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["solver"]["name"] == "HIGHS"
    assert doc["trade_summary"]["method"] == "milp", doc["trade_summary"]
    assert not [w for w in doc["warnings"] if "fallback" in w]
    saved = json.loads((tmp_path / "p" / "proposal.json").read_text())
    assert saved["trade_summary"]["method"] == "milp"


def test_example_proposal_json_is_one_document(tmp_path):
    res = run_cli(
        "propose",
        "--config",
        str(ROOT / "examples" / "proposal" / "account.toml"),
        "--out",
        str(tmp_path / "p"),
        "--format",
        "json",
    )
    assert res.returncode == 0, res.stderr
    assert "weights" in json.loads(res.stdout)
    assert "HiGHS" not in res.stderr


def test_rebalance_with_the_milp_prints_one_json_document(tmp_path):
    config = tmp_path / "rules.toml"
    config.write_text('[rebalance]\nsolver = "milp"\nband_abs = 0.0\n')
    bad = ROOT / "tests" / "bad_input" / "rebalance"
    res = run_cli(
        "rebalance", "--holdings", str(bad / "holdings.csv"), "--targets",
        str(bad / "targets.csv"), "--prices", str(bad / "prices.csv"), "--as-of", "2026-11-20",
        "--config", str(config), "--format", "json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc["metrics"]["methods"]) <= {"milp", "none"}, doc["metrics"]["methods"]
    assert "milp" in doc["metrics"]["methods"]
    assert all(not m["method"].startswith("greedy") for m in doc["metrics"]["by_account"].values())


def test_run_monthly_json_is_one_document_and_records_no_fallback(tmp_path):
    accounts = tmp_path / "accounts"
    shutil.copytree(ROOT / "examples" / "monthly", accounts)
    for config in accounts.glob("*/account.toml"):
        text = config.read_text()
        config.write_text(text.replace("[rebalance]\n", '[rebalance]\nsolver = "milp"\n'))
    res = run_cli(
        "run-monthly", "--accounts", str(accounts), "--db", str(tmp_path / "l.db"),
        "--orders-dir", str(tmp_path / "orders"), "--period", "2026-01", "--allow-stale",
        "--format", "json", timeout=180,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["metrics"]["n_failed"] == 0 and doc["metrics"]["n_traded"] >= 1


FALLBACK = '[rebalance]\nsolver = "milp"\ntime_limit = 1e-9\nband_abs = 0.0\n'


def test_a_milp_fallback_is_a_warning_in_rebalance_json_and_table(tmp_path):
    config = tmp_path / "rules.toml"
    config.write_text(FALLBACK)
    bad = ROOT / "tests" / "bad_input" / "rebalance"
    args = ["rebalance", "--holdings", str(bad / "holdings.csv"), "--targets",
            str(bad / "targets.csv"), "--prices", str(bad / "prices.csv"), "--as-of",
            "2026-11-20", "--config", str(config)]  # fmt: skip
    res = run_cli(*args, "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["warnings"] and all("greedy fallback" in w for w in doc["warnings"])
    table = run_cli(*args)
    assert table.returncode == 0 and "warning: MILP failed" in table.stdout


def test_a_milp_fallback_reaches_the_proposal_and_the_ledger(tmp_path):
    config = _proposal_config(tmp_path, "max_sharpe")
    path = tmp_path / "account.toml"
    path.write_text(
        path.read_text().replace('solver = "milp"\n', 'solver = "milp"\ntime_limit = 1e-9\n')
    )
    res = run_cli("propose", "--config", config, "--out", str(tmp_path / "p"), "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["trade_summary"]["method"] == "greedy-fallback"
    assert any("greedy fallback" in w for w in doc["warnings"])
    assert "greedy fallback" in (tmp_path / "p" / "report.html").read_text()

    accounts = tmp_path / "accounts"
    shutil.copytree(ROOT / "examples" / "monthly", accounts)
    for path in accounts.glob("*/account.toml"):
        path.write_text(
            path.read_text().replace("[rebalance]\n", FALLBACK.replace("band_abs = 0.0\n", ""))
        )
    db = tmp_path / "l.db"
    res = run_cli(
        "run-monthly", "--accounts", str(accounts), "--db", str(db), "--orders-dir",
        str(tmp_path / "orders"), "--period", "2026-01", "--allow-stale", "--format", "json",
        timeout=180,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    traded = [a for a in doc["accounts"] if a["status"] == "traded"]
    assert traded and all(any("greedy fallback" in w for w in a["warnings"]) for a in traded)
    assert any("greedy fallback" in w for w in doc["warnings"])
    import sqlite3

    rows = (
        sqlite3.connect(db)
        .execute("select account, warnings_json from account_runs where status = 'traded'")
        .fetchall()
    )
    assert rows and all(any("greedy fallback" in x for x in json.loads(w)) for _, w in rows)

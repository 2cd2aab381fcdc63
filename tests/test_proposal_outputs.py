"""What the proposal and the other outputs say: post-trade weights, blocked lots, labels,
column order, regret orientation, no float noise, and numbers never cut at 80 columns.

The post-trade weights are recomputed here from the holdings file, the trades and the
residual cash of the document (independent of the planner's own positions), to 1e-9.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

EXAMPLE = ROOT / "examples" / "proposal"


@pytest.fixture(scope="module")
def blocked_run(tmp_path_factory) -> tuple[dict, Path, str]:
    """The example client with block_short_term_gains and a MID lot bought 5 months ago at
    a gain: the planner wants MID at 0 % but may not sell that lot."""
    folder = tmp_path_factory.mktemp("blocked")
    shutil.copy(EXAMPLE / "account.toml", folder)
    text = (EXAMPLE / "holdings.csv").read_text()
    (folder / "holdings.csv").write_text(
        text.replace("MID,1000,74.75,2014-05-30,M1", "MID,1000,74.75,2016-10-31,M1")
    )
    cfg = folder / "account.toml"
    cfg.write_text(
        cfg.read_text().replace(
            'lot_method = "hifo"', 'lot_method = "hifo"\nblock_short_term_gains = true'
        )
    )
    res = run_cli("propose", "--config", str(cfg), "--out", str(folder / "out"), "--format", "json")
    assert res.returncode == 0, res.stderr
    table = run_cli("propose", "--config", str(cfg), env={"COLUMNS": "80"})
    assert table.returncode == 0, table.stderr
    return json.loads(res.stdout), folder, table.stdout


def test_blocked_lot_is_in_proposal_json_with_lot_shares_and_reason(blocked_run):
    doc, folder, _ = blocked_run
    saved = json.loads((folder / "out" / "proposal.json").read_text())
    blocked = saved["trade_summary"]["blocked"]
    mid = [b for b in blocked if b["ticker"] == "MID"]
    assert len(mid) == 1 and mid[0]["rule"] == "block_short_term_gains"
    assert mid[0]["lots"] == [{"lot_id": "M1", "acquired": "2016-10-31", "shares": 1000.0}]
    assert "short-term gain" in mid[0]["reason"]
    assert doc["weights"]["MID"] == 0.0  # the target is still 0 %


def test_post_trade_weights_recomputed_from_holdings_and_trades(blocked_run):
    doc, folder, _ = blocked_run
    shares: dict[str, float] = {}
    with (folder / "holdings.csv").open() as f:
        for row in csv.DictReader(f):
            if row["ticker"] != "CASH":
                shares[row["ticker"]] = shares.get(row["ticker"], 0.0) + float(row["shares"])
    prices = {}
    for t in doc["trades"]:
        sign = 1 if t["side"] == "buy" else -1
        shares[t["ticker"]] = shares.get(t["ticker"], 0.0) + sign * t["shares"]
        prices[t["ticker"]] = t["est_price"]
    prices = {t: prices.get(t, 100.0) for t in shares}  # the sample's closes are all 100
    cash = doc["trade_summary"]["residual_cash"]
    total = sum(shares[t] * prices[t] for t in shares) + cash
    after = doc["post_trade_weights"]
    for t in shares:
        assert after[t] == pytest.approx(shares[t] * prices[t] / total, abs=1e-9)
    assert after["CASH"] == pytest.approx(cash / total, abs=1e-9)
    assert after["MID"] == pytest.approx(1000 * 100 / total, abs=1e-9) and after["MID"] > 0.05


def test_report_html_shows_after_trades_and_the_blocked_lot(blocked_run):
    _, folder, _ = blocked_run
    html = (folder / "out" / "report.html").read_text()
    assert "After trades" in html and "Proposed (target)" in html
    block = html[html.index('id="blocked"') :]
    block = block[: block.index("</section>")]
    assert "M1" in block and "2016-10-31" in block and "1,000" in block
    assert "short-term gain" in block
    assert "Expected returns" in html and "probability-weighted mixture" in html


def test_table_shows_after_trades_blocked_lot_and_current_before_proposed(blocked_run):
    _, _, out = blocked_run
    assert "after" in out and "trades" in out and "Blocked" in out
    blocked = out[out.index("Blocked") :]
    assert re.search(r"MID\s+│\s+sell\s+│\s+M1\s+│\s+1000", blocked)
    header = next(line for line in out.splitlines() if "metric" in line)
    assert header.index("current") < header.index("proposed")
    assert "expected return (annual, scenario mix)" in out
    assert "Expected returns: the probability-weighted mixture" in out


NUMBER = re.compile(r"-?[\d,]*\.?\d+%?")


@pytest.mark.parametrize(
    "args",
    [
        ("propose", "--config", str(EXAMPLE / "account.toml")),
        ("whatif", "--config", str(ROOT / "examples" / "whatif" / "account.toml")),
    ],
    ids=["propose", "whatif"],
)
def test_piped_at_80_columns_no_number_is_cut(args):
    """Every percentage of the JSON document appears whole in the 80-column table."""
    table = run_cli(*args, env={"COLUMNS": "80"})
    doc = json.loads(run_cli(*args, "--format", "json").stdout)
    assert table.returncode == 0 and "…" not in table.stdout
    cells = {c.strip() for line in table.stdout.splitlines() for c in line.split("│")}
    weights = doc["weights"]
    if args[0] == "whatif":
        want = [w for col in weights.values() for w in col.values()]
    else:
        want = list(weights.values())
    for w in want:
        assert f"{100 * w:.2f}%" in cells or (abs(w) < 5e-5 and "0.00%" in cells)


def test_table_cells_are_never_cut_in_a_narrow_terminal(tmp_path):
    """The table helper itself, at 40 columns: numbers whole, text folded, nothing lost."""
    script = (
        "from optimizer.cli.output import table\n"
        "table('t', ['name', 'a', 'b', 'c', 'd'], "
        "[('a rather long description', 1234567.891, '-10.93%', '235,600', 0.5)])\n"
    )
    res = run_cli_python(script, {"COLUMNS": "40"})
    assert "…" not in res
    for number in ("1,234,567.8910", "-10.93%", "235,600", "0.5000"):
        assert number in res
    words = re.findall(r"[a-z]+", res)
    assert {"rather", "long", "description"} <= set(words)


def run_cli_python(script: str, env: dict[str, str]) -> str:
    import os
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return res.stdout


def _tiny(x, path=""):
    """Every float in a JSON document that is not 0 but below 1e-9 in absolute value."""
    if isinstance(x, dict):
        return [t for k, v in x.items() for t in _tiny(v, f"{path}.{k}")]
    if isinstance(x, list):
        return [t for i, v in enumerate(x) for t in _tiny(v, f"{path}[{i}]")]
    return [(path, x)] if isinstance(x, float) and x != 0 and abs(x) < 1e-9 else []


def test_optimize_json_has_no_float_noise():
    """The example's raw optimum has MID at about 2e-13: exported as exactly 0."""
    res = run_cli("optimize", "--config", str(EXAMPLE / "account.toml"), "--format", "json")
    doc = json.loads(res.stdout)
    assert _tiny(doc) == []
    assert doc["weights"]["MID"] == 0.0
    assert sum(doc["weights"].values()) == pytest.approx(1.0, abs=1e-8)


def test_proposal_and_whatif_json_have_no_float_noise(blocked_run):
    doc, folder, _ = blocked_run
    assert _tiny(doc) == []
    assert _tiny(json.loads((folder / "out" / "proposal.json").read_text())) == []
    whatif = run_cli(
        "whatif", "--config", str(ROOT / "examples/whatif/account.toml"), "--format", "json"
    )
    assert _tiny(json.loads(whatif.stdout)) == []


def test_a_deposit_is_in_the_document_the_report_and_the_table(tmp_path):
    out = tmp_path / "out"
    config = str(EXAMPLE / "account.toml")
    res = run_cli("propose", "--config", config, "--deposit", "50000", "--out", str(out))
    assert res.returncode == 0, res.stderr
    line = (
        "The trades include a deposit of $50,000.00: the targets are shares of the value after it"
    )
    assert line in res.stdout and line in (out / "report.html").read_text()
    doc = json.loads(run_cli("propose", "--config", config, "--deposit", "50000",
                             "--format", "json").stdout)  # fmt: skip
    summary = doc["trade_summary"]
    assert summary["deposit"] == 50_000 and summary["withdraw"] == 0
    # the value the targets are shares of: the holdings at the sample's last prices (every
    # series ends at 100), the cash, and the deposit
    with open(EXAMPLE / "holdings.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    held = sum(float(r["shares"]) * (1 if r["ticker"] == "CASH" else 100) for r in rows)
    assert summary["value_before"] == pytest.approx(held + 50_000, abs=1e-6)
    assert f"{summary['value_before']:,.2f}" in line_value(res.stdout)
    # the current weights are the account's with the deposit in its cash, as the trades'
    # drift is: the table, the change column and each trade's reason read one account
    assert doc["account"]["value"] == pytest.approx(held + 50_000, abs=1e-6)
    cash = sum(float(r["shares"]) for r in rows if r["ticker"] == "CASH") + 50_000
    assert doc["current_weights"]["CASH"] == pytest.approx(cash / (held + 50_000), abs=1e-12)
    drifts = [(t["ticker"], re.search(r"drift ([+-]?[\d.]+)%", t["reason"])) for t in doc["trades"]]
    assert any(m for _, m in drifts), doc["trades"]
    for t, m in drifts:
        if m:
            stated = 100 * (doc["current_weights"][t] - doc["weights"][t])
            assert float(m.group(1)) == pytest.approx(stated, abs=0.006), (t, m.group(0))


def line_value(text: str) -> str:
    return next(x for x in text.splitlines() if "include a deposit" in x)

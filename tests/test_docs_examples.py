"""Every TOML and command example in docs/ is validated by the project's own code.

- Each ```toml block parses. A block with an ``[account]`` table is a full account file,
  loaded with ``load_account`` (files it names are created empty beside it). Other blocks
  of account sections validate each section with the model that owns it; blocks of
  scenario-file keys (``history``, ``[replay]``, ...) validate each key with the scenario
  model's field.
- Each ``capalloc ...`` line of a ```bash block is parsed by the real command-line
  interface (click: every option name, choice and type; the command itself is not run);
  the offline ``data show`` examples are also run as subprocesses.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from typing import Any

import click
import pytest
from pydantic import TypeAdapter

from tests.conftest import ROOT, run_cli

DOCS = sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def _blocks(lang: str) -> list[tuple[str, str]]:
    out = []
    for doc in DOCS:
        text = doc.read_text()
        for m in FENCE.finditer(text):
            if m.group(1) == lang:
                line = text[: m.start()].count("\n") + 1
                out.append((f"{doc.name}:{line}", m.group(2)))
    return out


TOML_BLOCKS = _blocks("toml")


def _section_models() -> dict[str, Any]:
    from optimizer.account import AccountInfo, AdvisorInfo
    from optimizer.data import DataConfig
    from optimizer.optimize.policy import ConstraintsConfig, ObjectiveConfig, UniverseConfig
    from optimizer.rebalance.rules import RebalanceRules
    from optimizer.rebalance.taxlots import TaxConfig
    from optimizer.scenario.config import EstimationConfig, ScenarioSetConfig
    from optimizer.views import ViewsConfig

    return {
        "account": AccountInfo,
        "advisor": AdvisorInfo,
        "data": DataConfig,
        "estimation": EstimationConfig,
        "scenarios": ScenarioSetConfig,
        "universe": UniverseConfig,
        "objective": ObjectiveConfig,
        "constraints": ConstraintsConfig,
        "rebalance": RebalanceRules,
        "views": ViewsConfig,
        "tax": TaxConfig,
    }


def test_docs_have_toml_and_command_examples():
    assert len(TOML_BLOCKS) >= 6 and len(COMMANDS) >= 8


@pytest.mark.parametrize(("where", "text"), TOML_BLOCKS, ids=[w for w, _ in TOML_BLOCKS])
def test_toml_example_is_valid(where, text, tmp_path):
    from optimizer.account import load_account
    from optimizer.config import validate
    from optimizer.scenario.model import Scenario

    raw = tomllib.loads(text)
    models = _section_models()
    if "account" in raw:
        for key in ("holdings", "prices", "recent_trades"):
            if key in raw["account"]:
                (tmp_path / raw["account"][key]).write_text("")
        path = tmp_path / "account.toml"
        path.write_text(text)
        cfg = load_account(path)
        assert cfg.account.id == raw["account"]["id"]
        return
    if set(raw) <= set(models):
        for name, value in raw.items():
            validate(models[name], value, file=where, prefix=name)
        return
    fields = Scenario.model_fields
    unknown = set(raw) - set(fields)
    assert not unknown, f"{where}: neither account sections nor scenario keys: {unknown}"
    for name, value in raw.items():
        TypeAdapter(fields[name].annotation).validate_python(value)


def test_inline_factor_mapping_in_configuration_md_is_valid():
    """The `[estimation.factors.size]` example of the table in configuration.md."""
    from optimizer.config import validate
    from optimizer.scenario.config import EstimationConfig

    text = (ROOT / "docs" / "configuration.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `factors` |"))
    pairs = dict(re.findall(r'`(\w+) = "([^"]+)"`', row))
    assert set(pairs) == {"kind", "series", "minus"}
    validate(EstimationConfig, {"factors": {"size": pairs}}, prefix="estimation")


def _commands() -> list[tuple[str, list[str]]]:
    out = []
    for where, text in _blocks("bash"):
        joined = text.replace("\\\n", " ")
        for line in joined.splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words and words[0] == "capalloc":
                    out.append((where, words[1:]))
    return out


COMMANDS = _commands()


def _parse(command: click.Command, name: str, args: list[str]) -> None:
    """Parse ``args`` as click would for ``command``, down the subcommands, without running
    anything (a bad option, choice or value raises a UsageError)."""
    ctx = command.make_context(name, list(args))
    if isinstance(command, click.Group):
        rest = [*getattr(ctx, "_protected_args", getattr(ctx, "protected_args", [])), *ctx.args]
        assert rest, f"{name}: no subcommand"
        sub_name, sub, sub_args = command.resolve_command(ctx, rest)
        assert sub is not None, f"unknown command {sub_name}"
        _parse(sub, str(sub_name), sub_args)


@pytest.mark.parametrize(
    ("where", "args"), COMMANDS, ids=[f"{w}:{' '.join(a[:2])}" for w, a in COMMANDS]
)
def test_command_example_parses(where, args):
    from optimizer.cli import app

    _parse(app, "capalloc", args)


OFFLINE = [
    (w, a)
    for w, a in COMMANDS
    if a[:2] == ["data", "show"] and "yahoo" not in " ".join(a).replace("data/yahoo", "")
]


@pytest.mark.parametrize(("where", "args"), OFFLINE, ids=[" ".join(a) for _, a in OFFLINE])
def test_offline_data_examples_run(where, args):
    if any("../shared/data" in a for a in args) and not (ROOT.parent / "shared/data").is_dir():
        pytest.skip("../shared/data is not present")
    res = run_cli(*args)
    assert res.returncode == 0, f"{where}: {res.stderr}"


def test_a_bad_option_is_caught_by_the_parse():
    """The parse is not a test that cannot fail."""
    from optimizer.cli import app

    with pytest.raises(click.UsageError):
        _parse(app, "capalloc", ["propose", "--config", "a.toml", "--formt", "json"])
    with pytest.raises(click.BadParameter):
        _parse(app, "capalloc", ["optimize", "--config", "a.toml", "--format", "yaml"])


def test_a_bad_toml_example_would_fail():
    from optimizer.config import validate
    from optimizer.errors import ConfigError
    from optimizer.scenario.config import EstimationConfig

    bad = {"factors": {"size": {"kind": "return", "series": "IWM", "minus": "SPY"}}}
    with pytest.raises(ConfigError, match="relative_return"):
        validate(EstimationConfig, bad, prefix="estimation")


def test_cli_md_help_blocks_are_the_commands_own():
    # docs/cli.md quotes each command's --help; scripts/cli_help.py rewrites them
    import subprocess
    import sys

    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "cli_help.py"), "--check"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr


def test_scenarios_md_real_data_table_is_what_stress_prints(shared_data, tmp_path):
    """The "Results on real data" table of docs/scenarios.md, and the TLT level exposure
    beside it, from the command the page gives (to the table's 0.1 % rounding)."""
    import json

    text = (ROOT / "docs" / "scenarios.md").read_text()
    section = text.split("## Results on real data", 1)[1].split("\n## ", 1)[0]
    weights = tmp_path / "w.csv"
    weights.write_text("ticker,weight\nSPY,0.3333333333\nIWM,0.3333333333\nTLT,0.3333333334\n")
    res = run_cli("stress", "--weights", str(weights), "--source",
                  f"csv:{shared_data / 'yahoo'},{shared_data / 'fred'}",
                  "--start", "2005-01-01", "--format", "json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    rows = re.findall(r"^\| ([\w-]+)(?: \(replay\))? \|[^|]*\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|",
                      section, re.M)  # fmt: skip
    rows = [r for r in rows if r[0] in doc["scenarios"]]
    assert len(rows) == len(doc["scenarios"]) == 7
    for sid, spy, iwm, tlt, plausibility in rows:
        got = doc["scenarios"][sid]
        for ticker, cell in zip(("SPY", "IWM", "TLT"), (spy, iwm, tlt), strict=True):
            shown = float(cell.replace("%", "").replace("+", "").strip())
            assert round(100 * got["per_asset"][ticker]["return"], 1) == shown, (sid, ticker)
        assert got["plausibility"].startswith(plausibility.strip()), sid
    level = doc["rate_exposures"]["TLT"]["level"]
    assert f"gives TLT a level exposure of {level:.1f}," in " ".join(text.split())


def test_scenarios_md_far_shock_figures_are_what_stress_prints(shared_data, tmp_path):
    import json

    text = " ".join((ROOT / "docs" / "scenarios.md").read_text().split())
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "far-shock.toml").write_text(
        'id = "far-shock"\ntitle = "Far shock"\nnarrative = "10-year up 2000 bp in a month."\n'
        'horizon = { value = 1, unit = "months" }\n\n'
        '[[shocks]]\nfactor = "long_rate"\nchange_bp = 2000\n'
    )
    weights = tmp_path / "w.csv"
    weights.write_text("ticker,weight\nSPY,0.3333333333\nIWM,0.3333333333\nTLT,0.3333333334\n")
    res = run_cli("stress", "--weights", str(weights), "--source",
                  f"csv:{shared_data / 'yahoo'},{shared_data / 'fred'}", "--start", "2005-01-01",
                  "--end", "2022-03-31", "--scenario-dir", str(folder), "--scenario",
                  "far-shock", "--format", "json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)["scenarios"]["far-shock"]
    r = {t: 100 * v["return"] for t, v in got["per_asset"].items()}
    figures = f"gives SPY {r['SPY']:+.0f} %, IWM {r['IWM']:+.0f} % and TLT −{-r['TLT']:.0f} %"
    assert figures in text
    assert f"distance ({got['mahalanobis']:.0f} standard deviations)" in text
    assert f'("{got["plausibility"]}")' in text

"""The CLI shell: help, version, usage errors and the one-line error contract."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import run_cli


def test_help_lists_commands_without_heavy_imports():
    code = (
        "import sys\n"
        "from optimizer.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('cvxpy', 'riskfolio', 'yfinance', 'pypfopt', 'pandas')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "Usage: capalloc" in out.stdout
    assert "HEAVY []" in out.stdout


def test_version():
    res = run_cli("--version")
    assert res.returncode == 0
    assert "capalloc" in res.stdout


def test_unknown_command_is_one_line_usage_error():
    res = run_cli("no-such-command")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("capalloc: usage error:")
    assert "Traceback" not in res.stderr


def test_no_subcommand_prints_help_and_succeeds():
    for args in ((), ("data",)):
        res = run_cli(*args)
        assert res.returncode == 0
        assert res.stdout.startswith("Usage: capalloc")
        assert res.stderr == ""


def test_reader_closing_the_pipe_early_is_not_an_error():
    """`capalloc ... | head -1`: both the JSON and the table paths end with exit 0. The
    reader closes before the command writes, so every write meets a closed pipe."""
    for args in (
        ["data", "show", "--source", "sample", "--format", "json"],
        ["scenarios", "list"],
    ):
        proc = subprocess.Popen(
            [sys.executable, "-m", "optimizer", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0, err
        assert "Traceback" not in err


def test_table_cells_are_plain_text(capsys):
    # an error "add it to [universe.assets] of account.toml" lost its key in the monthly
    # job's table (rich took the brackets for markup)
    from optimizer.cli.output import table

    table("accounts", ["account", "error"], [["a1", "add it to [universe.assets] of x.toml"]])
    assert "add it to [universe.assets] of x.toml" in " ".join(capsys.readouterr().out.split())


def test_json_mode_repeats_the_documents_warnings_on_stderr(tmp_path):
    # stdout stays one JSON document; a person, or a cron log, still sees each warning
    import json
    import shutil

    from tests.conftest import ROOT

    folder = tmp_path / "p"
    shutil.copytree(ROOT / "examples" / "proposal", folder)
    holdings = folder / "holdings.csv"
    text = holdings.read_text()
    holdings.write_text(text.replace("smith-family,LARGE,5000", "smith-famly,LARGE,5000", 1))
    res = run_cli("propose", "--config", str(folder / "account.toml"), "--format", "json",
                  "--out", str(tmp_path / "out"), timeout=180)  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    typo = [w for w in doc["warnings"] if "smith-famly" in w]
    assert typo, doc["warnings"]
    lines = res.stderr.strip().splitlines()
    assert f"capalloc: warning: {typo[0]}" in lines
    assert all(line.startswith("capalloc: warning: ") for line in lines)
    assert len(lines) == len(doc["warnings"])


def test_whatif_refuses_an_output_in_a_missing_folder_and_creates_none(tmp_path):
    from tests.conftest import ROOT

    config = ROOT / "examples" / "whatif" / "account.toml"
    target = tmp_path / "no" / "such" / "x.csv"
    res = run_cli("whatif", "--config", str(config), "--csv", str(target), timeout=120)
    assert res.returncode == 3, res.stderr
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("capalloc: config error: --csv='") and "x.csv'" in line
    assert line.endswith(": folder does not exist")
    assert not (tmp_path / "no").exists()

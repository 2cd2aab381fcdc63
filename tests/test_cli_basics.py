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

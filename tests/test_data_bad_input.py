"""The bad-input corpus: each malformed file or argument set gives exactly one clear line
on stderr, the documented exit code, and no traceback, through a real subprocess."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.conftest import run_cli

CORPUS = Path(__file__).parent / "bad_input" / "data"
CASES = tomllib.loads((CORPUS / "cases.toml").read_text(encoding="utf-8"))["case"]


def test_corpus_is_large_enough():
    assert len(CASES) >= 15
    assert len({c["id"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input_gives_one_line_and_exit_code(case):
    args = [a.replace("{dir}", str(CORPUS)) for a in case["args"]]
    res = run_cli("data", "show", *args)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == case["exit"], res.stderr
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout == ""
    for text in case["expect"]:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"

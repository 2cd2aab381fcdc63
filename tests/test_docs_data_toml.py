"""The TOML examples about data, cash and factors in docs/ parse and validate."""

from __future__ import annotations

import re
import tomllib

import pytest

from optimizer.config import validate
from optimizer.data import DataConfig
from optimizer.scenario.config import EstimationConfig
from tests.conftest import ROOT

BLOCK = re.compile(r"```toml\n(.*?)```", re.S)


def _blocks(name):
    text = (ROOT / "docs" / name).read_text(encoding="utf-8")
    return [b for b in BLOCK.findall(text) if "[data]" in b or "[estimation" in b]


@pytest.mark.parametrize("name", ["configuration.md", "data-sources.md"])
def test_data_and_estimation_examples_validate(name, tmp_path):
    blocks = _blocks(name)
    assert blocks
    for block in blocks:
        raw = tomllib.loads(block)
        if "data" in raw:
            data = validate(DataConfig, raw["data"], file=tmp_path / "x.toml", prefix="data")
            assert data.source
        if "estimation" in raw:
            est = validate(
                EstimationConfig, raw["estimation"], file=tmp_path / "x.toml", prefix="estimation"
            )
            assert est.factors


def test_cash_example_is_what_the_realdata_example_uses():
    block = next(b for b in _blocks("configuration.md") if "cash_rate" in b)
    raw = tomllib.loads(block)
    assert raw["data"]["cash_rate"] == 0.04 and raw["universe"]["assets"]["CASH"]["tags"] == [
        "cash"
    ]
    example = tomllib.loads((ROOT / "examples" / "realdata" / "account.toml").read_text())
    assert example["data"]["cash_rate"] == raw["data"]["cash_rate"]

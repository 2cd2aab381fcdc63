"""parse_toml's kept parse: the monthly job's id check leaves its parse for the account
file's loading, which takes it; nothing else ever shares that dict."""

from __future__ import annotations

import tomli

from optimizer.config import parse_toml


def test_a_kept_parse_is_taken_once_by_the_next_parse_of_the_same_text():
    text = '[account]\nid = "a1"\n[rebalance]\nband_abs = 0.03\n'
    first = parse_toml(text, keep=True)
    assert first == tomli.loads(text)
    taken = parse_toml(text)
    assert taken is first  # the kept parse, not a second one
    taken["account"]["id"] = "changed by its taker"
    again = parse_toml(text)
    assert again == tomli.loads(text) and again is not taken  # parsed anew afterwards


def test_a_kept_parse_serves_only_the_same_text():
    kept = parse_toml("x = 1\n", keep=True)
    other = parse_toml("x = 2\n")
    assert other == {"x": 2} and kept == {"x": 1}
    assert parse_toml("x = 1\n") is kept  # still there for its own text


def _reference_depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((_reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_reference_depth(v) for v in value), default=0)
    return 0


def test_nesting_depth_is_the_recursive_count_up_to_one_past_the_limit():
    import random

    from optimizer.config import _depth
    from optimizer.limits import MAX_TOML_DEPTH

    rng = random.Random(7)

    def grow(level: int):
        if level > 40 or rng.random() < 0.25:
            return rng.choice([1, "x", 2.5, True])
        kids = [grow(level + 1) for _ in range(rng.randint(0, 3))]
        return {f"k{i}": k for i, k in enumerate(kids)} if rng.random() < 0.5 else kids

    values = [grow(0) for _ in range(400)]
    chain: object = 1
    for _ in range(MAX_TOML_DEPTH + 5):  # a lone deep chain, and the limit's neighbours
        chain = [chain]
        values.append(chain)
    for value in values:
        expected = _reference_depth(value)
        if expected <= MAX_TOML_DEPTH:
            assert _depth(value) == expected
        else:
            assert _depth(value) == MAX_TOML_DEPTH + 1  # counting stops there


def test_a_document_nested_past_the_limit_is_one_error_line():
    import pytest

    from optimizer.errors import ConfigError

    deep = "x = " + "[" * 2000 + "]" * 2000 + "\n"
    with pytest.raises(ConfigError, match="nested more than"):
        parse_toml(deep, file="deep.toml")


def test_a_validated_section_is_shared_only_by_the_same_data():
    import datetime as dt

    import pytest

    from optimizer.config import validate
    from optimizer.data import DataConfig
    from optimizer.errors import ConfigError
    from optimizer.rebalance.rules import RebalanceRules
    from optimizer.scenario.config import EstimationConfig

    shared: dict = {}
    first = validate(RebalanceRules, {"band_abs": 0.03, "min_trade": 250}, shared=shared)
    assert validate(RebalanceRules, {"band_abs": 0.03, "min_trade": 250}, shared=shared) is first
    other = validate(RebalanceRules, {"band_abs": 0.04, "min_trade": 250}, shared=shared)
    assert other is not first and other.band_abs == 0.04 and first.band_abs == 0.03
    # a success kept for one table never answers for a bad one, however close
    with pytest.raises(ConfigError) as err:
        validate(
            RebalanceRules,
            {"band_abs": "0.03", "min_trade": 250},
            prefix="rebalance",
            shared=shared,
        )
    assert err.value.key == "rebalance.band_abs"
    # the same words under another model are that model's, and a date is not its text
    assert validate(EstimationConfig, {}, shared=shared) is not validate(
        RebalanceRules, {}, shared=shared
    )
    dated = validate(DataConfig, {"end": dt.date(2024, 1, 31)}, shared=shared)
    assert dated.end == dt.date(2024, 1, 31)
    with pytest.raises(ConfigError):
        validate(DataConfig, {"end": "not a date"}, shared=shared)
    assert validate(DataConfig, {"end": dt.date(2024, 1, 31)}, shared=shared) is dated
    assert validate(DataConfig, {"end": "2024-01-31"}, shared=shared) is not dated
    # without a shared cache every call has its own objects: a caller that edits the lists
    # inside one policy does not edit the next one made from the same words
    from optimizer.optimize.policy import Policy

    one = Policy.simple(["SPY", "BND"], constraints={"groups": ["equity <= 0.6"]})
    one.constraints.groups.append("bonds >= 0.9")
    two = Policy.simple(["SPY", "BND"], constraints={"groups": ["equity <= 0.6"]})
    assert two.constraints.groups == ["equity <= 0.6"]


def test_a_number_past_the_float_range_is_named_as_such():
    import pytest

    from optimizer.config import validate
    from optimizer.errors import ConfigError
    from optimizer.rebalance.rules import RebalanceRules

    for text in ("band_abs = 1e400", "band_abs = inf", "band_abs = -1e999"):
        with pytest.raises(ConfigError) as err:
            validate(RebalanceRules, tomli.loads(text), file="a.toml", prefix="rebalance")
        message = err.value.render()
        assert "rebalance.band_abs=" in message and "finite number" in message
        assert "numbers past the float range, such as 1e400, read as inf" in message
    with pytest.raises(ConfigError) as err:  # a finite slip gets no such words
        validate(RebalanceRules, {"band_abs": -1.0}, file="a.toml", prefix="rebalance")
    assert "float range" not in err.value.render()

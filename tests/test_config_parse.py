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

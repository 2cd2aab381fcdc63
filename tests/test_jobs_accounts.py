"""Account discovery (both layouts) and the inputs hash."""

from __future__ import annotations

import hashlib

import pytest

from optimizer.errors import ConfigError
from optimizer.jobs.accounts import discover_accounts, inputs_hash
from optimizer.jobs.calendar import parse_period
from optimizer.jobs.model import FallbackPolicy
from tests.jobs_support.accounts import make_accounts

JAN, FEB = parse_period("2026-01"), parse_period("2026-02")


def test_subfolder_layout(tmp_path):
    ids = make_accounts(tmp_path, 3)
    (tmp_path / "_archive").mkdir()
    (tmp_path / ".hidden").mkdir()
    specs = discover_accounts(tmp_path, fallback=FallbackPolicy.KEEP_HOLDINGS)
    assert [s.account_id for s in specs] == ids
    assert specs[0].config_path == tmp_path / "a000" / "account.toml"
    assert {s.fallback for s in specs} == {FallbackPolicy.KEEP_HOLDINGS}


def test_csv_layout_with_per_account_fallback(tmp_path):
    make_accounts(tmp_path / "data", 2)
    (tmp_path / "accounts.csv").write_text(
        "account,config,holdings,fallback\n"
        "alpha,data/a000/account.toml,data/a000/holdings.csv,keep-holdings\n"
        "beta,data/a001/account.toml,data/a001/holdings.csv,\n"
    )
    specs = discover_accounts(tmp_path)
    assert [(s.account_id, s.fallback) for s in specs] == [
        ("alpha", FallbackPolicy.KEEP_HOLDINGS),
        ("beta", FallbackPolicy.NONE),
    ]
    assert specs[1].holdings_path == tmp_path / "data" / "a001" / "holdings.csv"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("account,config\nx,c.toml\n", "missing columns holdings; the header reads"),
        ("account;config;holdings\nx;c.toml;h.csv\n", "the header reads 'account;config;holdings'"),
        ("account,config,holdings\nx,c.toml,h.csv\nx,d.toml,h.csv\n", "account listed twice"),
        ("account,config,holdings\nbad id,c.toml,h.csv\n", "invalid account id"),
        ("account,config,holdings\nx,,h.csv\n", "config: required column is empty"),
        ("account,config,holdings,fallback\nx,c.toml,h.csv,sometimes\n", "unknown fallback"),
        (
            'account,config,holdings\ny,c.toml,h.csv\nx,"c.toml,h.csv\nz,c.toml,h.csv\n',
            "accounts.csv:3: a quote opened on this line is never closed",
        ),
    ],
)
def test_bad_accounts_csv_names_file_row_and_value(tmp_path, text, needle):
    (tmp_path / "accounts.csv").write_text(text)
    with pytest.raises(ConfigError) as info:
        discover_accounts(tmp_path)
    message = str(info.value)
    assert needle in message
    assert str(tmp_path / "accounts.csv") in message
    assert "\n" not in message


def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match="no accounts found"):
        discover_accounts(tmp_path)
    with pytest.raises(ConfigError, match="accounts folder not found"):
        discover_accounts(tmp_path / "nope")


def test_hash_is_sha256_of_period_config_holdings(tmp_path):
    make_accounts(tmp_path, 1)
    spec = discover_accounts(tmp_path)[0]
    config, holdings = spec.config_path.read_bytes(), spec.holdings_path.read_bytes()
    expected = hashlib.sha256(
        b"period=2026-01\n"
        + f"config:{len(config)}\n".encode() + config
        + f"holdings:{len(holdings)}\n".encode() + holdings
    ).hexdigest()  # fmt: skip
    assert inputs_hash(spec, JAN) == expected


def test_hash_changes_with_each_input(tmp_path):
    make_accounts(tmp_path, 1)
    spec = discover_accounts(tmp_path)[0]
    scenario = tmp_path / "a000" / "my_scenarios.toml"
    scenario.write_text("[shock]\nspy = -0.1\n")
    base = inputs_hash(spec, JAN)
    assert inputs_hash(spec, JAN) == base
    assert inputs_hash(spec, FEB) != base
    spec.config_path.write_text(spec.config_path.read_text() + 'scenarios = "my_scenarios.toml"\n')
    with_ref = inputs_hash(spec, JAN)
    assert with_ref != base
    scenario.write_text("[shock]\nspy = -0.2\n")  # a referenced file changes the hash too
    assert inputs_hash(spec, JAN) != with_ref
    spec.holdings_path.write_text(spec.holdings_path.read_text() + "QQQ,1,400\n")
    assert len({base, with_ref, inputs_hash(spec, JAN)}) == 3


def test_a_config_with_a_byte_order_mark_still_hashes_the_files_it_names(tmp_path):
    # the pipeline reads such a file (as Windows editors write it); the hash must see the
    # files it names too, or a changed prices file would not show as changed-after-done
    make_accounts(tmp_path, 1)
    spec = discover_accounts(tmp_path)[0]
    prices = tmp_path / "a000" / "prices.csv"
    prices.write_text("ticker,price\nSPY,500\n")
    text = 'prices = "prices.csv"\n' + spec.config_path.read_text()
    spec.config_path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    before = inputs_hash(spec, JAN)
    prices.write_text("ticker,price\nSPY,510\n")
    assert inputs_hash(spec, JAN) != before


def test_unreadable_inputs_are_config_errors(tmp_path):
    make_accounts(tmp_path, 1)
    spec = discover_accounts(tmp_path)[0]
    spec.config_path.write_text('[targets\nfile = "x.csv"\n')
    assert len(inputs_hash(spec, JAN)) == 64  # hashed as bytes; the pipeline reports it
    spec.holdings_path.unlink()
    with pytest.raises(ConfigError, match="file not found"):
        inputs_hash(spec, JAN)

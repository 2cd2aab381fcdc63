"""Validation, alignment, layouts and the [data] config, on small files written here."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.config import validate
from optimizer.data import ValidationPolicy, get_provider, require_history
from optimizer.data.csv_source import CsvProvider
from optimizer.data.frequency import Frequency
from optimizer.data.settings import DataConfig
from optimizer.data.validate import RawSeries, check_gaps
from optimizer.errors import ConfigError, DataError


def _write_yahoo(path, dates, closes):
    rows = ["Date,Close,High,Low,Open,Volume"]
    rows += [f"{d:%Y-%m-%d},{c},{c},{c},{c},100" for d, c in zip(dates, closes, strict=True)]
    path.write_text("\n".join(rows) + "\n")


def test_holiday_in_one_file_is_forward_filled_and_counted(tmp_path):
    days = pd.bdate_range("2024-01-01", periods=30)
    _write_yahoo(tmp_path / "A.csv", days, np.arange(30) + 100.0)
    _write_yahoo(tmp_path / "B.csv", days.delete([10, 11]), np.arange(28) + 50.0)
    data = CsvProvider([tmp_path]).prices(["A", "B"])
    assert len(data.frame) == 30
    b = data.frame["B"]
    assert b.iloc[10] == b.iloc[9] == b.iloc[11]  # two days carried forward
    cov = {c.ticker: c for c in data.coverage}
    assert (cov["B"].filled, cov["B"].missing, cov["B"].longest_gap) == (2, 2, 2)
    assert (cov["A"].filled, cov["A"].missing) == (0, 0)


def test_common_window_is_explicit(tmp_path):
    days = pd.bdate_range("2024-01-01", periods=40)
    _write_yahoo(tmp_path / "A.csv", days, np.linspace(10, 20, 40))
    _write_yahoo(tmp_path / "B.csv", days[5:38], np.linspace(10, 20, 33))
    data = CsvProvider([tmp_path]).prices(["A", "B"])
    assert data.frame.index[0] == days[5] and data.frame.index[-1] == days[37]
    assert data.provenance.first == days[5].date() and data.provenance.last == days[37].date()
    (warning,) = data.warnings
    assert "common window 2024-01-08..2024-02-21" in warning
    assert "A 2024-01-01..2024-02-23" in warning


def test_ffill_bound_and_monthly_gaps(tmp_path):
    months = pd.date_range("2000-01-31", periods=24, freq="ME")
    kept = months.delete([5, 6, 7])
    _write_yahoo(tmp_path / "M.csv", kept, np.linspace(1, 2, 21))
    with pytest.raises(DataError, match="3 missing monthly observations between 2000-05-31"):
        CsvProvider([tmp_path], policy=ValidationPolicy(max_ffill=2)).prices(["M"])
    data = CsvProvider([tmp_path], policy=ValidationPolicy(max_ffill=3)).prices(["M"])
    assert data.provenance.frequency == "monthly"
    assert data.coverage[0].missing == 3


def test_future_dates_use_the_policy_clock(tmp_path):
    days = pd.bdate_range("2024-01-01", periods=10)
    _write_yahoo(tmp_path / "A.csv", days, np.arange(10) + 1.0)
    early = ValidationPolicy(today=dt.date(2024, 1, 5))
    with pytest.raises(DataError, match="date in the future"):
        CsvProvider([tmp_path], policy=early).prices(["A"])
    assert len(CsvProvider([tmp_path]).prices(["A"]).frame) == 10


def test_require_history():
    frame = pd.DataFrame(
        {"X": np.arange(12.0), "Y": np.arange(12.0)},
        index=pd.date_range("2020-01-31", periods=12, freq="ME"),
    )
    require_history(frame, 12, "a one-year window")
    with pytest.raises(DataError) as err:
        require_history(frame, 60, "a 60-month regression")
    text = str(err.value)
    assert "X,Y" in text and "needs 60 observations, has 12" in text
    assert "2020-01-31..2020-12-31" in text


def test_wide_yahoo_multi_and_fred_layouts(tmp_path):
    days = pd.bdate_range("2024-03-01", periods=15, name="Date")
    wide = pd.DataFrame({"AAA": np.linspace(1, 2, 15), "BBB": np.linspace(3, 4, 15)}, days)
    wide.rename_axis("date").to_csv(tmp_path / "wide.csv")
    multi = pd.concat({"Close": wide.rename(columns={"AAA": "CCC", "BBB": "DDD"})}, axis=1)
    multi.columns = multi.columns.set_names(["Price", "Ticker"])
    multi.to_csv(tmp_path / "download.csv")  # what yf.download(...).to_csv() writes
    fred = ["observation_date,RATE"] + [
        f"{d:%Y-%m-%d},{v}" for d, v in zip(days, range(15), strict=True)
    ]
    fred[3] = f"{days[2]:%Y-%m-%d},"  # a blank holiday
    fred[5] = f"{days[4]:%Y-%m-%d},."  # FRED's old missing-value marker
    (tmp_path / "RATE.csv").write_text("\n".join(fred) + "\n")
    p = CsvProvider([tmp_path])
    assert p.available() == ["AAA", "BBB", "CCC", "DDD", "RATE"]
    assert p.available_rates() == ["RATE"]
    got = p.prices(["AAA", "DDD"]).frame
    np.testing.assert_allclose(got["AAA"], wide["AAA"])
    np.testing.assert_allclose(got["DDD"], wide["BBB"])
    rate = p.rates(["RATE"])
    assert len(rate.frame) == 13 and rate.coverage[0].observations == 13
    with pytest.raises(DataError, match="is a rate series"):
        p.prices(["RATE"])


def test_several_folders_and_case_insensitive_tickers(shared_data):
    p = get_provider(f"csv:{shared_data / 'yahoo'},{shared_data / 'fred'}")
    assert {"SPY", "DGS10", "^TNX"} <= set(p.available())
    # found whatever the case; named as asked (a config's SPY from a file spy.csv is SPY)
    assert p.prices(["spy"]).frame.columns.tolist() == ["spy"]
    assert p.prices(["spy"]).frame["spy"].equals(p.prices(["SPY"]).frame["SPY"].rename("spy"))
    rates = p.rates(["DGS10"], start=dt.date(2020, 1, 1), end=dt.date(2020, 12, 31))
    assert rates.provenance.first == dt.date(2020, 1, 2)
    assert rates.provenance.last == dt.date(2020, 12, 31)


def test_data_config_validates_and_builds_providers(tmp_path):
    cfg = validate(DataConfig, {"source": "csv:prices", "max_ffill": 3}, file="acct.toml")
    assert cfg.policy().max_ffill == 3 and cfg.stale_after_days == 30
    days = pd.bdate_range("2024-01-01", periods=10)
    (tmp_path / "prices").mkdir()
    _write_yahoo(tmp_path / "prices" / "A.csv", days, np.arange(10) + 1.0)
    provider = cfg.provider(relative_to=tmp_path / "acct.toml")
    assert provider.available() == ["A"]
    with pytest.raises(ConfigError, match=r"acct.toml: data.max_ffill=-1"):
        validate(DataConfig, {"max_ffill": -1}, file="acct.toml", prefix="data")
    before = r"data.end=.*2019-01-01.*end is before start \(2020-01-01\)"
    with pytest.raises(ConfigError, match=before):
        validate(DataConfig, {"start": "2020-01-01", "end": "2019-01-01"}, prefix="data")
    with pytest.raises(ConfigError, match="unknown key"):
        validate(DataConfig, {"sauce": "sample"}, prefix="data")


def test_dates_with_time_and_offset_keep_the_written_day(tmp_path):
    lines = ["Date,Close,High,Low,Open,Volume"]
    days = pd.bdate_range("2024-03-01", periods=6)
    for i, d in enumerate(days):
        offset = "+09:00" if i % 2 else "-05:00"
        lines.append(f"{d:%Y-%m-%d} 00:00:00{offset},{10 + i},1,1,1,1")
    (tmp_path / "TZ.csv").write_text("\n".join(lines) + "\n")
    frame = CsvProvider([tmp_path]).prices(["TZ"]).frame
    assert list(frame.index) == list(days)
    np.testing.assert_allclose(frame["TZ"], 10.0 + np.arange(6))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=10, max_value=80),
    holes=st.sets(st.integers(min_value=1, max_value=78), max_size=30),
    max_ffill=st.integers(min_value=0, max_value=6),
)
def test_gap_check_matches_longest_run_of_missing_business_days(n, holes, max_ffill):
    days = pd.bdate_range("2021-03-01", periods=n)
    holes = {h for h in holes if h < n - 1}  # first and last day stay
    kept = days.delete(sorted(holes))
    longest = run = 0
    for i in range(n):
        run = run + 1 if i in holes else 0
        longest = max(longest, run)
    raw = RawSeries("X", pd.Series(1.0, index=kept), "generated")
    if longest > max_ffill:
        with pytest.raises(DataError, match=f"{longest} missing daily observations"):
            check_gaps(raw, Frequency.DAILY, max_ffill)
    else:
        assert check_gaps(raw, Frequency.DAILY, max_ffill) == (len(holes), longest)

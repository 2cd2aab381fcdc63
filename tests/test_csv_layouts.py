"""Price files in the layouts other vendors and tools write, built from the real closes in
../shared/data: each is read as the same numbers, or refused with one line naming the file."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from optimizer.data import get_provider
from optimizer.errors import DataError
from tests.conftest import ROOT, run_cli

START, END = dt.date(2024, 1, 1), dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def closes(shared_data):
    """Real SPY and IWM closes 2024-2025 (what the files below are made from)."""
    out = {}
    for t in ("SPY", "IWM"):
        frame = pd.read_csv(shared_data / "yahoo" / f"{t}.csv", index_col="Date", parse_dates=True)
        out[t] = frame["Close"].loc[str(START) : str(END)]
    return out


def _served(folder, *tickers, rates=False):
    provider = get_provider(f"csv:{folder}")
    got = provider.rates(list(tickers)) if rates else provider.prices(list(tickers))
    return got.frame


@pytest.mark.parametrize(
    "header",
    [
        "Date,Open,High,Low,Close,Adj. Close,Volume",  # a spreadsheet's spelling
        # Tiingo
        "date,close,high,low,open,volume,adjClose,adjHigh,adjLow,adjOpen,adjVolume,divCash,splitFactor",
        # Alpha Vantage
        "timestamp,open,high,low,close,adjusted_close,volume,dividend_amount,split_coefficient",
        "Date,Open,High,Low,Close,Adj_Close,Volume",
    ],
)
def test_the_adjusted_close_is_used_whatever_its_spelling(tmp_path, closes, header):
    # the unadjusted close is 10 % higher and drifts: reading it would be wrong numbers
    spy = closes["SPY"]
    names = header.split(",")
    rows = [header]
    for i, (day, adj) in enumerate(spy.items()):
        raw = adj * 1.1 + 0.01 * i
        cells = {n: "100" for n in names}
        cells[names[0]] = f"{day:%Y-%m-%d}"
        for n in names:
            low = n.lower().replace("_", "").replace(".", "").replace(" ", "")
            if low == "close":
                cells[n] = repr(raw)
            elif low in ("adjclose", "adjustedclose"):
                cells[n] = repr(float(adj))
        rows.append(",".join(cells[n] for n in names))
    (tmp_path / "SPY.csv").write_text("\n".join(rows) + "\n")
    got = _served(tmp_path, "SPY")["SPY"]
    assert np.allclose(got.to_numpy(), spy.to_numpy(), rtol=0, atol=1e-12)


def test_a_lowercase_ohlc_file_is_one_ticker_not_a_wide_file(tmp_path, closes):
    spy = closes["SPY"]
    rows = ["date,open,high,low,close,volume"]
    rows += [f"{d:%Y-%m-%d},1,1,1,{c!r},5" for d, c in spy.items()]
    (tmp_path / "spy.csv").write_text("\n".join(rows) + "\n")
    got = _served(tmp_path, "SPY")
    assert got.columns.tolist() == ["SPY"]
    assert np.array_equal(got["SPY"].to_numpy(), spy.to_numpy())


def test_a_row_with_more_values_than_the_header_is_refused(tmp_path, closes):
    # unquoted thousands separators: "2024-01-02,4,742.83" would read 4 as the price
    rows = ["date,SPX"] + [f"{d:%Y-%m-%d},{c * 10:,.2f}" for d, c in closes["SPY"].items()]
    (tmp_path / "wide.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as err:
        _served(tmp_path, "SPX")
    message = err.value.render()
    assert "wide.csv" in message and "more values than the header's 2 columns" in message
    first = closes["SPY"].index[0]
    assert f"row {first:%Y-%m-%d}" in message and "\n" not in message


def test_fred_files_before_2024_are_rates(tmp_path, shared_data):
    new = pd.read_csv(shared_data / "fred" / "DGS10.csv")
    old = new.rename(columns={"observation_date": "DATE"}).fillna(".")  # FRED's old format
    old.to_csv(tmp_path / "DGS10.csv", index=False)
    got = _served(tmp_path, "DGS10", rates=True)["DGS10"]
    want = _served(shared_data / "fred", "DGS10", rates=True)["DGS10"]
    pd.testing.assert_series_equal(got, want)
    with pytest.raises(DataError, match="FRED's layout"):
        _served(tmp_path, "DGS10")
    # under the name FRED's site gives every download, it is a wide file: the error says
    # how to make it FRED's
    (tmp_path / "DGS10.csv").rename(tmp_path / "fredgraph.csv")
    with pytest.raises(DataError, match=r"rename it DGS10\.csv"):
        _served(tmp_path, "DGS10", rates=True)


@pytest.mark.parametrize(
    ("name", "header", "ticker"),
    [  # DATE in capitals is FRED's old header only in a file named for its series
        ("SPY.csv", "DATE,Close", "SPY"),
        ("prices.csv", "DATE,SPY", "SPY"),
        ("spy.csv", "DATE,Adj Close", "SPY"),
    ],
)
def test_a_date_column_in_capitals_is_not_always_fred(tmp_path, closes, name, header, ticker):
    rows = [header] + [f"{d:%Y-%m-%d},{c!r}" for d, c in closes["SPY"].items()]
    (tmp_path / name).write_text("\n".join(rows) + "\n")
    got = _served(tmp_path, ticker)[ticker]
    np.testing.assert_array_equal(got.to_numpy(), closes["SPY"].to_numpy())


@pytest.mark.parametrize(
    ("header", "newest_first"),
    [
        ("Date,Close/Last,Volume,Open,High,Low", True),  # Nasdaq.com, newest first
        ("Date,Price,Open,High,Low,Vol.,Change %", True),  # Investing.com
        ("Date,Last,Volume", False),
    ],
)
def test_other_sites_close_columns_and_newest_first_files(tmp_path, closes, header, newest_first):
    # these were read as wide files of tickers "Close/Last", "Volume", ... (Volume a price
    # with split warnings), and a file newest first was refused as unsorted
    spy = closes["SPY"]
    names = header.split(",")
    rows = []
    for i, (day, close) in enumerate(spy.items()):
        cells = [f"{day:%Y-%m-%d}", repr(close)] + [str(1000 + i)] * (len(names) - 2)
        rows.append(",".join(cells))
    rows = rows[::-1] if newest_first else rows
    (tmp_path / "SPY.csv").write_text("\n".join([header, *rows]) + "\n")
    got = _served(tmp_path, "SPY")["SPY"]
    np.testing.assert_array_equal(got.to_numpy(), spy.to_numpy())
    assert (got.index == spy.index).all()


def test_a_close_named_twice_is_refused(tmp_path, closes):
    rows = ["Date,Close,Close"] + [
        f"{d:%Y-%m-%d},{c!r},{c / 2!r}" for d, c in closes["SPY"].items()
    ]
    (tmp_path / "SPY.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as err:
        _served(tmp_path, "SPY")
    assert "SPY.csv" in err.value.render() and "the close is named twice" in err.value.render()


def test_what_pandas_writes_and_spreadsheet_leftovers(tmp_path, closes):
    # to_csv of a frame whose index has no name (first header cell empty), two blank lines
    # before the header, and rows of commas only at the end (a spreadsheet's last rows)
    frame = pd.DataFrame(closes)
    frame.index.name = None
    text = frame.to_csv()
    (tmp_path / "prices.csv").write_text("\n\n" + text + ",,\n,,\n")
    got = _served(tmp_path, "SPY", "IWM")
    assert np.array_equal(got.to_numpy(), frame.to_numpy())


def test_a_seven_day_series_beside_weekday_funds_does_not_fill_their_weekends(tmp_path, closes):
    # a series with Saturday and Sunday values (as crypto has): its weekend rows are
    # dropped, so IWM is not forward-filled over weekends (zero returns), and the weekend's
    # move is in Monday's return
    days = pd.date_range(START, END, freq="D")
    rng = np.random.default_rng(3)
    coin = pd.Series(40000 * np.exp(np.cumsum(rng.normal(0, 0.03, len(days)))), index=days)
    pd.DataFrame({"Date": days.strftime("%Y-%m-%d"), "Close": coin.to_numpy()}).to_csv(
        tmp_path / "COIN-USD.csv", index=False
    )
    pd.DataFrame({"Date": closes["IWM"].index.strftime("%Y-%m-%d"), "Close": closes["IWM"]}).to_csv(
        tmp_path / "IWM.csv", index=False
    )
    provider = get_provider(f"csv:{tmp_path}")
    both = provider.prices(["COIN-USD", "IWM"])
    alone = provider.prices(["IWM"]).frame["IWM"]
    assert (both.frame.index.dayofweek < 5).all()
    iwm = both.frame["IWM"].loc[alone.index[0] : alone.index[-1]]
    extra = iwm.index.difference(alone.index)  # the fund's holidays (forward-filled)
    assert len(extra) <= 25 and (extra.dayofweek < 5).all()  # not the 208 weekends
    assert np.allclose(iwm.loc[alone.index].to_numpy(), alone.to_numpy())
    monday = both.frame.index[both.frame.index.dayofweek == 0][3]
    friday = monday - pd.Timedelta(days=3)
    assert both.frame.loc[monday, "COIN-USD"] / both.frame.loc[friday, "COIN-USD"] == (
        coin[monday] / coin[friday]
    )
    assert any("Saturday/Sunday values dropped" in n for n in both.provenance.notes)


def test_a_sunday_to_thursday_market_keeps_its_sundays(tmp_path, closes):
    # a market that trades Sunday to Thursday (Riyadh): its Sundays are trading days, five
    # a week like New York's; dropping them put two days' move in Monday's return and gave
    # a year of about 200 returns annualised as 252. A stray Saturday row in a weekday
    # series is still dropped
    iwm = closes["IWM"]
    sunday = iwm.index - pd.Timedelta(days=1)  # the same closes, dated a day earlier
    pd.DataFrame({"Date": sunday.strftime("%Y-%m-%d"), "Close": iwm.to_numpy()}).to_csv(
        tmp_path / "2222.SR.csv", index=False
    )
    spy = closes["SPY"]
    stray = pd.concat([spy, pd.Series([1.0], index=[pd.Timestamp("2025-06-07")])]).sort_index()
    pd.DataFrame({"Date": stray.index.strftime("%Y-%m-%d"), "Close": stray.to_numpy()}).to_csv(
        tmp_path / "SPY.csv", index=False
    )
    provider = get_provider(f"csv:{tmp_path}")
    alone = provider.prices(["2222.SR"])
    assert np.array_equal(alone.frame["2222.SR"].to_numpy(), iwm.to_numpy())
    assert not any("dropped" in n for n in alone.provenance.notes)
    # beside a Monday-Friday fund its Sunday folds into Monday, as a crypto weekend does:
    # six rows a week would give each series a zero return a week (17 % of its rows)
    both = provider.prices(["2222.SR", "SPY"])
    assert (both.frame.index.dayofweek < 5).all()
    assert any(
        "2222.SR" in n and "Saturday/Sunday values dropped" in n for n in both.provenance.notes
    )
    fund = provider.prices(["SPY"])
    assert pd.Timestamp("2025-06-07") not in fund.frame.index
    assert np.array_equal(fund.frame["SPY"].to_numpy(), spy.to_numpy())
    assert any("SPY: 1 Saturday/Sunday values dropped" in n for n in fund.provenance.notes)


def test_a_config_finds_files_whose_tickers_are_lower_case(tmp_path, shared_data):
    # files spy.csv, qqq.csv, ... and a config naming SPY, QQQ: the same proposal as the
    # real files give (it crashed with an internal KeyError)
    lower = tmp_path / "lower"
    lower.mkdir()
    for f in (shared_data / "yahoo").iterdir():
        shutil.copy(f, lower / f.name.lower())
    config = (ROOT / "examples" / "realdata" / "account.toml").read_text()
    shutil.copy(ROOT / "examples" / "realdata" / "holdings.csv", tmp_path / "holdings.csv")
    docs = []
    for folder in (shared_data / "yahoo", lower):
        text = config.replace(
            'source = "csv:../../../shared/data/yahoo,../../../shared/data/fred"',
            f'source = "csv:{folder},{shared_data / "fred"}"',
        )
        (tmp_path / "account.toml").write_text(text)
        res = run_cli("propose", "--config", str(tmp_path / "account.toml"), "--format", "json")
        assert res.returncode == 0, res.stderr
        docs.append(json.loads(res.stdout))
    assert docs[0]["weights"] == docs[1]["weights"]
    assert docs[0]["trades"] == docs[1]["trades"]


def _site_file(series, header, row, *, sep=",", newest_first=True):
    """``series`` written as a site writes it: ``row(day, close)`` -> the cells of a line."""
    lines = [sep.join(row(d, c)) for d, c in series.items()]
    return "\n".join([header, *(lines[::-1] if newest_first else lines)]) + "\n"


def _comma_decimal(x: float) -> str:
    return f"{x:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")


@pytest.mark.parametrize(
    ("name", "header", "row", "sep"),
    [
        (  # Nasdaq.com: month/day/year, dollar signs, newest first
            "nasdaq",
            "Date,Close/Last,Volume,Open,High,Low",
            lambda d, c: [f"{d:%m/%d/%Y}", f"${c:.2f}", "81817203", f"${c:.2f}", "$1.00", "$1.00"],
            ",",
        ),
        (  # Investing.com: every cell quoted, thousands separators, a percent column
            "investing",
            '"Date","Price","Open","High","Low","Vol.","Change %"',
            lambda d, c: [
                f'"{d:%m/%d/%Y}"',
                f'"{c * 10:,.2f}"',
                '"1.00"',
                '"1.00"',
                '"1.00"',
                '"45.2M"',
                '"0.54%"',
            ],
            ",",
        ),
        (  # a German spreadsheet: semicolons, day.month.year, decimal comma, point groups
            "german",
            "Datum;Schlusskurs;Volumen",
            lambda d, c: [f"{d:%d.%m.%Y}", _comma_decimal(c * 10), "1.000"],
            ";",
        ),
        (  # a French one: day/month/year, space groups, a euro sign after the number
            "french",
            "Date;Close;Volume",
            lambda d, c: [f"{d:%d/%m/%Y}", _comma_decimal(c * 10).replace(".", " ") + " €", "1"],
            ";",
        ),
        (  # tab-separated, year/month/day
            "tabs",
            "Date\tClose\tVolume",
            lambda d, c: [f"{d:%Y/%m/%d}", f"{c:.2f}", "1"],
            "\t",
        ),
    ],
)
def test_dates_and_numbers_as_sites_and_spreadsheets_write_them(
    tmp_path, closes, name, header, row, sep
):
    spy = closes["SPY"]
    text = _site_file(spy, header, row, sep=sep)
    if name in ("german", "french"):  # a wide file: the date column, then one ticker
        text = text.replace(header, header.replace("Schlusskurs", "Close"), 1)
    (tmp_path / "SPY.csv").write_text(text, encoding="utf-8")
    got = _served(tmp_path, "SPY")["SPY"]
    scale = 10 if name in ("investing", "german", "french") else 1
    np.testing.assert_allclose(got.to_numpy(), spy.to_numpy() * scale, rtol=0, atol=0.005 * scale)
    assert (got.index == spy.index).all()


def test_dates_that_read_alike_month_first_and_day_first_are_refused(tmp_path):
    # 2024-01-02..2024-01-12 as 01/02/2024..01/12/2024: read day first, they are the 1st
    # of February..December, in order as well
    days = pd.bdate_range("2024-01-02", "2024-01-12")
    rows = ["Date,Close"] + [f"{d:%m/%d/%Y},{100 + i}" for i, d in enumerate(days)]
    (tmp_path / "SPY.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as err:
        _served(tmp_path, "SPY")
    message = err.value.render()
    assert "SPY.csv" in message and "month/day/year and as day/month/year" in message
    assert "YYYY-MM-DD" in message
    # a 13th decides it (and a date no order reads is named with its line)
    rows += ["01/15/2024,110"]
    (tmp_path / "SPY.csv").write_text("\n".join(rows) + "\n")
    assert _served(tmp_path, "SPY").index[-1] == pd.Timestamp("2024-01-15")
    rows += ["01/32/2024,111"]
    (tmp_path / "SPY.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"01/32/2024.*not a date on line 12"):
        _served(tmp_path, "SPY")


@pytest.mark.parametrize(
    ("cell", "hint"),
    [
        ('"4.638,93"', "one decimal mark"),  # beside cells with a decimal point
        ('"0.54%"', "no percent signs"),
        ("#N/A", "leave a missing value blank"),
        ("-", "leave a missing value blank"),
    ],
)
def test_a_price_that_is_not_a_plain_number_says_how_to_write_it(tmp_path, closes, cell, hint):
    rows = ["Date,Close"] + [f"{d:%Y-%m-%d},{c!r}" for d, c in closes["SPY"].items()]
    rows[5] = rows[5].split(",")[0] + "," + cell
    (tmp_path / "SPY.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as err:
        _served(tmp_path, "SPY")
    message = err.value.render()
    assert "SPY.csv" in message and "not a number" in message and hint in message


@pytest.mark.parametrize(("cell", "value"), [('"$463.89"', 463.89), ('"4,638.93"', 4638.93)])
def test_a_currency_sign_or_thousands_separator_in_one_cell_is_read(tmp_path, closes, cell, value):
    rows = ["Date,Close"] + [f"{d:%Y-%m-%d},{c!r}" for d, c in closes["SPY"].items()]
    rows[5] = rows[5].split(",")[0] + "," + cell
    (tmp_path / "SPY.csv").write_text("\n".join(rows) + "\n")
    got = _served(tmp_path, "SPY")["SPY"]
    assert got.iloc[4] == value
    assert np.array_equal(np.delete(got.to_numpy(), 4), np.delete(closes["SPY"].to_numpy(), 4))


def test_tickers_spelled_like_price_fields_are_tickers(tmp_path, closes):
    # Lowe's is LOW and Opendoor OPEN: a wide file of them, and yfinance's two-line header
    # for them, are tickers (the fields are matched whatever their case elsewhere)
    spy, iwm = closes["SPY"], closes["IWM"]
    wide = pd.DataFrame({"LOW": spy.to_numpy(), "OPEN": iwm.to_numpy()}, index=spy.index)
    wide.index.name = "date"
    wide.to_csv(tmp_path / "wide.csv")
    got = _served(tmp_path, "LOW", "OPEN")
    assert np.array_equal(got.to_numpy(), wide.to_numpy())
    multi = tmp_path / "multi"
    multi.mkdir()
    rows = ["Price,Close,Close,Open,Open", "Ticker,LOW,OPEN,LOW,OPEN", "Date,,,,"]
    rows += [f"{d:%Y-%m-%d},{a!r},{b!r},1,1" for d, a, b in zip(spy.index, spy, iwm, strict=True)]
    (multi / "download.csv").write_text("\n".join(rows) + "\n")
    got = _served(multi, "LOW", "OPEN")
    assert np.array_equal(got.to_numpy(), wide.to_numpy())
    one = tmp_path / "one"
    one.mkdir()
    wide[["LOW"]].to_csv(one / "lowes.csv")
    assert np.array_equal(_served(one, "LOW")["LOW"].to_numpy(), spy.to_numpy())


def test_a_title_line_an_empty_adjusted_close_and_an_oversized_cell(tmp_path, closes):
    # a title above the header was taken for a one-column header (every row "too wide");
    # an Adj Close column left empty beside Close gave "no observations"; a cell past the
    # csv module's limit was an internal error
    spy = closes["SPY"]
    rows = [f"{d:%Y-%m-%d},{c!r},,100" for d, c in spy.items()]
    text = "SPDR S&P 500 ETF Trust daily prices\nDate,Close,Adj Close,Volume\n" + "\n".join(rows)
    (tmp_path / "SPY.csv").write_text(text + "\n")
    got = _served(tmp_path, "SPY")["SPY"]
    np.testing.assert_array_equal(got.to_numpy(), spy.to_numpy())
    wide = tmp_path / "wide"  # a title over a wide file's header too
    wide.mkdir()
    frame = pd.DataFrame(closes).rename_axis("date")
    (wide / "prices.csv").write_text("Closes exported 2026-02-24\n" + frame.to_csv())
    np.testing.assert_array_equal(_served(wide, "SPY", "IWM").to_numpy(), frame.to_numpy())
    (tmp_path / "SPY.csv").write_text("Date,Close\n2024-01-02," + "9" * 200_000 + "\n")
    with pytest.raises(DataError) as err:
        _served(tmp_path, "SPY")
    assert "SPY.csv" in err.value.render() and "not a CSV file" in err.value.render()


def test_monthly_series_dated_on_other_days_are_one_clear_error(tmp_path, closes):
    # SPY on month ends, IWM on the 1st: "missing value on ... after forward-fill", with
    # no file named
    spy = closes["SPY"].resample("ME").last()
    iwm = closes["IWM"].resample("MS").first()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    spy.rename_axis("date").to_csv(tmp_path / "a" / "SPY.csv", date_format="%Y-%m-%d")
    iwm.rename_axis("date").to_csv(tmp_path / "b" / "IWM.csv", date_format="%Y-%m-%d")
    with pytest.raises(DataError) as err:
        get_provider(f"csv:{tmp_path / 'a'},{tmp_path / 'b'}").prices(["SPY", "IWM"])
    message = err.value.render()
    assert "dated on different days" in message and "IWM.csv" in message  # the odd one
    assert "only IWM: 2024-02-01, 2024-03-01" in message
    assert "only SPY: 2024-01-31, 2024-02-29" in message


def test_thinly_traded_funds_line_up_and_calendar_month_ends_do_not(tmp_path, closes):
    # eight funds each missing a different tenth of the days shared under half the days
    # all at once, and were refused; business against calendar month ends share 70 % of
    # their dates and gave 151 "monthly" rows for 118 months
    spy = closes["SPY"]
    rng = np.random.default_rng(1)
    for i in range(8):
        keep = spy[rng.random(len(spy)) > 0.1]
        keep.rename_axis("date").to_csv(tmp_path / f"T{i}.csv", date_format="%Y-%m-%d")
    got = _served(tmp_path, *[f"T{i}" for i in range(8)])
    assert got.notna().all().all() and len(got) >= 0.95 * len(spy)
    months = tmp_path / "months"
    months.mkdir()
    calendar = pd.Series(range(1, 25), index=pd.date_range("2024-01-31", periods=24, freq="ME"))
    business = pd.Series(range(1, 25), index=pd.date_range("2024-01-31", periods=24, freq="BME"))
    calendar.rename("AAA").rename_axis("date").to_csv(months / "AAA.csv", date_format="%Y-%m-%d")
    business.rename("BBB").rename_axis("date").to_csv(months / "BBB.csv", date_format="%Y-%m-%d")
    with pytest.raises(DataError, match="dated on different days"):
        _served(months, "AAA", "BBB")


@pytest.mark.parametrize(
    ("header", "tickers"),
    [("date,SPY,LAST", ["LAST", "SPY"]), ("date,PRICE,LAST", ["LAST", "PRICE"])],
)
def test_tickers_spelled_like_a_close_stay_tickers(tmp_path, closes, header, tickers):
    # LAST or PRICE in capitals with no price field beside them are tickers, as LOW is
    rows = [header] + [f"{d:%Y-%m-%d},{c!r},{c * 2!r}" for d, c in closes["SPY"].items()]
    (tmp_path / "prices.csv").write_text("\n".join(rows) + "\n")
    assert get_provider(f"csv:{tmp_path}").available() == tickers


def test_whole_numbers_grouped_by_points_beside_semicolons_are_thousands(tmp_path, shared_data):
    # the Russell 2000 near 1,000 points, rounded, in a German spreadsheet: 1.000 is a
    # thousand (it was read 1.0, a fall of 99.9 % with no warning), in a wide file too
    rut = pd.read_csv(shared_data / "yahoo" / "^RUT.csv", index_col="Date", parse_dates=True)
    rut = rut["Close"].loc["2013-06-01":"2013-08-31"].round()
    spy = closes_of(shared_data, "SPY").loc[rut.index]

    def eu(x: float, decimals: int) -> str:
        return f"{x:,.{decimals}f}".replace(",", " ").replace(".", ",").replace(" ", ".")

    rows = [f"{d:%d.%m.%Y};{eu(r, 0)}" for d, r in rut.items()]
    assert any("." in r.split(";")[1] for r in rows) and any(
        "." not in r.split(";")[1] for r in rows
    )
    (tmp_path / "RUT.csv").write_text("Datum;Close\n" + "\n".join(rows) + "\n")
    wide = tmp_path / "wide"
    wide.mkdir()
    rows = [
        f"{d:%d.%m.%Y};{eu(s, 2)};{eu(r, 0)}" for (d, r), s in zip(rut.items(), spy, strict=True)
    ]
    (wide / "prices.csv").write_text("Datum;SPY;RUT\n" + "\n".join(rows) + "\n")
    for folder in (tmp_path, wide):
        got = _served(folder, "RUT")["RUT"]
        np.testing.assert_array_equal(got.to_numpy(), rut.to_numpy())
    np.testing.assert_allclose(_served(wide, "SPY")["SPY"].to_numpy(), spy.to_numpy(), atol=0.005)


def closes_of(shared_data, ticker: str) -> pd.Series:
    frame = pd.read_csv(shared_data / "yahoo" / f"{ticker}.csv", index_col="Date", parse_dates=True)
    return frame["Close"]


def test_a_tab_file_of_numbers_that_read_two_ways_is_refused(tmp_path):
    # pasted from a web page: tab-separated, 2,466 is 2466 in the US and 2.466 in Europe
    rows = ["Date\tClose", "2025-11-24\t2,466", "2025-11-25\t2,486", "2025-11-26\t2,501"]
    (tmp_path / "RUT.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as err:
        _served(tmp_path, "RUT")
    message = err.value.render()
    assert "RUT.csv" in message and "2,466 read as 2466 or as 2.466" in message
    # with their decimals they read one way
    rows = ["Date\tClose", "2025-11-24\t2,466.12", "2025-11-25\t2,486.50"]
    (tmp_path / "RUT.csv").write_text("\n".join(rows) + "\n")
    assert _served(tmp_path, "RUT")["RUT"].tolist() == [2466.12, 2486.5]


def test_a_repeated_date_in_another_order_and_a_title_with_a_comma(tmp_path):
    # a repeated day in a month/day/year column was "not a date" on a good first line
    rows = ["Date,Close", "01/16/2024,100", "01/17/2024,101", "01/17/2024,101", "01/18/2024,102"]
    (tmp_path / "SPY.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as err:
        _served(tmp_path, "SPY")
    assert "duplicated date" in err.value.render() and "2024-01-17" in err.value.render()
    # a title line with a comma above a semicolon file took the comma as the separator
    other = tmp_path / "titled"
    other.mkdir()
    text = "Russell 2000, daily closes\nDatum;Close\n24.11.2025;2.466,12\n25.11.2025;2.486,50\n"
    (other / "RUT.csv").write_text(text)
    assert _served(other, "RUT")["RUT"].tolist() == [2466.12, 2486.5]


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("Date;Close\n2024-01-02;24.380\n2024-01-03;24.553\n2024-01-04;24.398\n", "24.380"),
        ('"Date","Price"\n"2024-01-02","24,380"\n"2024-01-03","24,553"\n', "24,380"),
    ],
)
def test_three_decimals_that_read_as_thousands_too_are_refused(tmp_path, text, cell):
    # a spreadsheet's float format of three decimals beside semicolons (or a quoted
    # decimal comma beside commas): 24.380 is 24380 or 24.38, and both move alike
    (tmp_path / "SPY.csv").write_text(text)
    with pytest.raises(DataError) as err:
        _served(tmp_path, "SPY")
    message = err.value.render()
    assert "SPY.csv" in message and f"numbers such as {cell} read as" in message
    assert "24380" in message and "24.38" in message


def test_a_localised_investing_download_and_dates_written_two_ways(tmp_path, closes):
    # de.investing.com: "Datum","Zuletzt","Eröffn.","Hoch","Tief","Vol.","+/- %" was a
    # wide file of tickers Zuletzt, Hoch, ... (and "+/- %" blamed for its percent signs)
    spy = closes["SPY"]
    header = '"Datum","Zuletzt","Eröffn.","Hoch","Tief","Vol.","+/- %"'
    rows = [
        f'"{d:%d.%m.%Y}","{_comma_decimal(c)}","1,00","1,00","1,00","45,2M","0,54%"'
        for d, c in spy.items()
    ][::-1]
    (tmp_path / "SPY.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    got = _served(tmp_path, "SPY")["SPY"]
    np.testing.assert_allclose(got.to_numpy(), spy.to_numpy(), rtol=0, atol=0.005)
    # a column of month/day/year with one ISO date: that date is named as written otherwise
    other = tmp_path / "mixed"
    other.mkdir()
    text = (
        "Date,Close\n02/17/2026,682.39\n02/18/2026,689.43\n2026-02-19,684.48\n02/20/2026,684.48\n"
    )
    (other / "SPY.csv").write_text(text)
    with pytest.raises(DataError) as err:
        _served(other, "SPY")
    message = err.value.render()
    assert "Date='2026-02-19': a date written another way than the column on line 4" in message
    assert "write every date of the column one way" in message
    # and the other way round: a day/month/year date in an ISO column
    text = "Date,Close\n2026-02-17,682.39\n2026-02-18,689.43\n19.02.2026,684.48\n"
    (other / "SPY.csv").write_text(text)
    with pytest.raises(DataError, match="a date written another way than the column on line 4"):
        _served(other, "SPY")
    text = "Date,Close\n2026-02-17,682.39\n2026-13-18,689.43\n"  # no date at all
    (other / "SPY.csv").write_text(text)
    with pytest.raises(DataError, match=r"'2026-13-18': not a date on line 3 \(use YYYY-MM-DD\)"):
        _served(other, "SPY")
    # three decimals with a decimal comma beside semicolons are read (a German export)
    rates = tmp_path / "rates"
    rates.mkdir()
    text = "observation_date;DGS10\n2024-01-02;3,950\n2024-01-03;3,910\n2024-01-04;3,990\n"
    (rates / "DGS10.csv").write_text(text)
    assert _served(rates, "DGS10", rates=True)["DGS10"].tolist() == [3.95, 3.91, 3.99]

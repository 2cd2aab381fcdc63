"""``yahoo``: real yfinance parsing and our real cache, with only the network replaced.

The replaced function is ``yfinance.data.YfData._make_request``, the single place where
yfinance sends an HTTP request (chart history, time zone look-ups, quote summaries). The
stand-in answers like Yahoo's v8 chart API, with JSON built from the real files in
``../shared/data/yahoo``; everything above it (``yf.download``, ``Ticker.history``, quote
parsing, auto-adjust, the MultiIndex assembly) runs unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.parse
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from optimizer.data import get_provider
from optimizer.data.yahoo import Fetcher, RetryPolicy, YahooProvider, completed, extract_closes
from optimizer.errors import DataError
from tests.conftest import run_cli

yf = pytest.importorskip("yfinance")


class FakeResponse:
    def __init__(self, status, payload, url):
        self.status_code = status
        self._payload = payload
        self.text = json.dumps(payload)
        self.url = url

    def json(self):
        return self._payload

    def raise_for_status(self):
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}")


class ChartServer:
    """Answers chart requests from per-ticker CSV files (``Date,Close,High,Low,Open,Volume``).

    ``rate_limit_first``: the first n requests raise YFRateLimitError, as yfinance's
    ``_make_request`` does on HTTP 429. ``scale``: multiply a ticker's closes (what Yahoo
    does to all adjusted closes after a dividend).
    """

    def __init__(
        self,
        folder,
        rate_limit_first=0,
        scale=None,
        until=None,
        down=False,
        meta=None,
        live=None,
        flaky=None,
    ):
        self.folder, self.rate_limit_first, self.down = folder, rate_limit_first, down
        self.scale, self.until = scale or {}, until
        self.meta = meta or {}  # ticker -> metadata keys that differ (currency, trading period)
        self.live = live or {}  # ticker -> (date, price): a bar of a session still trading
        self.flaky = dict(flaky or {})  # ticker -> how many first answers are "no data"
        self.calls = []

    def frame(self, ticker):
        path = self.folder / f"{ticker}.csv"
        if not path.is_file():
            return None
        f = pd.read_csv(path, parse_dates=["Date"]).set_index("Date")
        f = f.loc[: self.until] if self.until else f
        if ticker in self.live:
            day, price = self.live[ticker]
            f.loc[pd.Timestamp(day)] = [price, price, price, price, 1000]
        return f

    def __call__(self, url, params=None):
        from yfinance.exceptions import YFRateLimitError

        params = dict(params or {})
        ticker = urllib.parse.unquote(url.rsplit("/", 1)[-1])
        self.calls.append((ticker, params))
        if self.down:  # what curl raises with no network
            from curl_cffi.requests.exceptions import DNSError

            raise DNSError("Failed to perform, curl: (6) Could not resolve host: query2")
        if self.rate_limit_first > 0:
            self.rate_limit_first -= 1
            raise YFRateLimitError()
        f = self.frame(ticker)
        if self.flaky.get(ticker, 0) > 0 and "period1" in params:  # the history, not the
            self.flaky[ticker] -= 1  # time zone look-up (yfinance keeps a failed one)
            f = None
        if f is None:
            error = {"code": "Not Found", "description": "No data found, symbol may be delisted"}
            return FakeResponse(404, {"chart": {"result": None, "error": error}}, url)
        open_ = f.index.tz_localize("America/New_York") + pd.Timedelta(hours=9, minutes=30)
        secs = (open_.tz_convert("UTC") - pd.Timestamp(0, tz="UTC")) // pd.Timedelta("1s")
        secs = np.asarray(secs)
        if ticker in self.live:  # a live bar is stamped with its last trade, never the future
            secs[f.index == pd.Timestamp(self.live[ticker][0])] = min(
                secs[-1], int(time.time()) - 60
            )
        if "period1" in params:
            keep = (secs >= int(params["period1"])) & (secs < int(params["period2"]))
        else:
            keep = secs >= secs[-1]
        f, secs = f[keep], secs[keep]
        close = (f["Close"] * self.scale.get(ticker, 1.0)).tolist()
        meta = {
            "currency": "USD",
            "symbol": ticker,
            "instrumentType": "ETF",
            "exchangeTimezoneName": "America/New_York",
            "timezone": "EST",
            "gmtoffset": -18000,
            "dataGranularity": "1d",
            "validRanges": ["1d", "5d", "1mo", "1y", "max"],
            **self.meta.get(ticker, {}),
        }
        quote = {
            "open": f["Open"].tolist(),
            "high": f["High"].tolist(),
            "low": f["Low"].tolist(),
            "close": close,
            "volume": f["Volume"].tolist(),
        }
        result = {
            "meta": meta,
            "timestamp": [int(s) for s in secs],
            "indicators": {"quote": [quote], "adjclose": [{"adjclose": close}]},
        }
        return FakeResponse(200, {"chart": {"result": [result], "error": None}}, url)


@pytest.fixture(scope="session", autouse=True)
def _yfinance_tz_cache(tmp_path_factory):
    yf.set_tz_cache_location(str(tmp_path_factory.mktemp("yf-tz")))


@pytest.fixture
def serve(monkeypatch, shared_data):
    """Install a ChartServer as yfinance's network; returns a function to swap it."""
    state = {}

    def install(**kwargs):
        folder = kwargs.pop("folder", shared_data / "yahoo")
        state["server"] = ChartServer(folder, **kwargs)
        return state["server"]

    def make_request(self, url, request_method=None, body=None, params=None, **kw):
        return state["server"](url, params)

    monkeypatch.setattr("yfinance.data.YfData._make_request", make_request)
    return install


def _file_close(shared_data, ticker):
    f = pd.read_csv(shared_data / "yahoo" / f"{ticker}.csv", parse_dates=["Date"])
    return f.set_index("Date")["Close"]


def _provider(tmp_path, sleeps=None, **kw):
    sleeps = [] if sleeps is None else sleeps
    fetcher = Fetcher(RetryPolicy(attempts=3, base_delay=0.5), sleep=sleeps.append)
    return YahooProvider(cache_dir=tmp_path / "cache", fetcher=fetcher, **kw)


def test_prices_equal_the_files_and_are_cached(serve, tmp_path, shared_data):
    serve()
    data = _provider(tmp_path).prices(["SPY", "TLT"])
    for ticker in ("SPY", "TLT"):
        want = _file_close(shared_data, ticker).loc[data.frame.index[0] :]
        np.testing.assert_allclose(data.frame[ticker].to_numpy(), want.to_numpy(), rtol=1e-9)
    assert data.provenance.source == "yahoo" and data.provenance.frequency == "daily"
    assert data.provenance.first.isoformat() == "2002-07-30"
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "SPY.csv",
        "SPY.json",
        "TLT.csv",
        "TLT.json",
    ]
    meta = json.loads((tmp_path / "cache" / "SPY.json").read_text())
    assert meta["since"] == "max" and meta["first"] == "1993-01-29"


def test_incremental_refresh_fetches_only_new_dates(serve, tmp_path, shared_data):
    serve(until="2025-12-31")
    first = _provider(tmp_path).prices(["SPY"])
    assert first.provenance.last.isoformat() == "2025-12-31"
    server = serve()
    data = _provider(tmp_path).prices(["SPY"])
    history = [p for t, p in server.calls if "period1" in p]
    assert len(history) == 1
    since = pd.Timestamp(history[0]["period1"], unit="s").date()
    assert dt.date(2025, 12, 29) <= since <= dt.date(2025, 12, 31)
    want = _file_close(shared_data, "SPY")
    np.testing.assert_allclose(data.frame["SPY"].to_numpy(), want.to_numpy(), rtol=1e-9)


def test_refresh_rescales_cached_history_after_a_dividend(serve, tmp_path, shared_data):
    serve(until="2025-12-31")
    _provider(tmp_path).prices(["SPY"])
    serve(scale={"SPY": 0.99})
    data = _provider(tmp_path).prices(["SPY"])
    want = 0.99 * _file_close(shared_data, "SPY")
    np.testing.assert_allclose(data.frame["SPY"].to_numpy(), want.to_numpy(), rtol=1e-9)
    assert any("rescaled by 0.990000" in w for w in data.warnings)


def test_offline_serves_the_cache_and_says_how_old(serve, tmp_path):
    server = serve()
    _provider(tmp_path).prices(["SPY"])
    n_calls = len(server.calls)
    fresh = _provider(tmp_path, offline=True).prices(["SPY"])
    assert len(server.calls) == n_calls
    assert not fresh.provenance.stale and "offline" in fresh.warnings[0]
    meta_path = tmp_path / "cache" / "SPY.json"
    meta = json.loads(meta_path.read_text())
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    meta_path.write_text(json.dumps({**meta, "fetched_at": old.isoformat()}))
    stale = _provider(tmp_path, offline=True).prices(["SPY"])
    assert stale.provenance.stale
    assert "10 days ago" in stale.warnings[0]
    # a time written by hand without its zone is UTC (it was an internal TypeError)
    naive = old.replace(tzinfo=None).isoformat(timespec="seconds")
    meta_path.write_text(json.dumps({**meta, "fetched_at": naive}))
    assert "10 days ago" in _provider(tmp_path, offline=True).prices(["SPY"]).warnings[0]
    meta_path.write_text(json.dumps({**meta, "fetched_at": 20260223}))
    with pytest.raises(DataError, match="corrupt cache entry"):
        _provider(tmp_path, offline=True).prices(["SPY"])


def test_offline_without_cache_names_the_tickers(tmp_path):
    with pytest.raises(DataError, match="SPY,IWM") as err:
        _provider(tmp_path, offline=True).prices(["SPY", "IWM"])
    assert "not in the cache" in str(err.value)


def test_unknown_ticker_is_named(serve, tmp_path):
    serve()
    with pytest.raises(DataError, match="NOSUCHTICKER"):
        _provider(tmp_path).prices(["SPY", "NOSUCHTICKER"])


def test_rate_limit_is_retried_with_backoff(serve, tmp_path, shared_data):
    serve(rate_limit_first=2)
    sleeps = []
    data = _provider(tmp_path, sleeps).prices(["IWM"])
    assert sleeps == [0.5, 1.0]
    assert data.frame["IWM"].iloc[-1] == pytest.approx(_file_close(shared_data, "IWM").iloc[-1])


def test_persistent_rate_limit_fails_or_falls_back_to_the_cache(serve, tmp_path):
    serve(rate_limit_first=100)
    sleeps = []
    with pytest.raises(DataError, match="rate limited"):
        _provider(tmp_path, sleeps).prices(["IWM"])
    assert sleeps == [0.5, 1.0]  # three attempts, then give up
    serve()
    _provider(tmp_path).prices(["IWM"])
    serve(rate_limit_first=100)
    data = _provider(tmp_path).prices(["IWM"])
    assert any("rate limited by Yahoo for IWM: served from the cache" in w for w in data.warnings)


def test_unreachable_yahoo_is_not_an_unknown_ticker(serve, tmp_path):
    serve(down=True)
    sleeps = []
    with pytest.raises(DataError) as err:
        _provider(tmp_path, sleeps).prices(["SPY", "IWM"])
    text = str(err.value)
    assert "unreachable" in text and "SPY,IWM" in text and "not in the cache" in text
    assert sleeps == []  # not retried: only rate limits are
    serve()
    _provider(tmp_path).prices(["SPY"])
    meta = (tmp_path / "cache" / "SPY.json").read_text()
    serve(down=True)
    data = _provider(tmp_path).prices(["SPY"])
    assert any("unreachable" in w and "served from the cache" in w for w in data.warnings)
    assert (tmp_path / "cache" / "SPY.json").read_text() == meta  # fetch time not renewed


def test_extract_closes_handles_every_column_layout(shared_data):
    spy, iwm = _file_close(shared_data, "SPY"), _file_close(shared_data, "IWM")
    wide = pd.concat({"SPY": spy, "IWM": iwm}, axis=1)
    by_price = pd.concat({"Close": wide, "Open": wide * 0}, axis=1)  # (Price, Ticker)
    by_ticker = by_price.swaplevel(0, 1, axis=1)  # (Ticker, Price)
    flat = pd.DataFrame({"Close": spy, "Open": spy})
    for frame, tickers in ((by_price, ["SPY", "IWM"]), (by_ticker, ["spy", "IWM"])):
        got = extract_closes(frame, tickers)
        assert set(got) == set(tickers)
        np.testing.assert_allclose(got[tickers[0]], spy.to_numpy())
        np.testing.assert_allclose(got["IWM"], iwm.dropna().to_numpy())
    np.testing.assert_allclose(extract_closes(flat, ["SPY"])["SPY"], spy.to_numpy())
    assert extract_closes(by_price, ["QQQ"]) == {}


def test_yield_tickers_are_rates_not_prices(tmp_path):
    with pytest.raises(DataError, match=r"\^TNX"):
        _provider(tmp_path).prices(["^TNX"])
    with pytest.raises(DataError, match="SPY"):
        _provider(tmp_path).rates(["SPY"])


def test_cli_offline_from_a_filled_cache(serve, tmp_path, shared_data):
    serve()
    get_provider("yahoo", cache_dir=tmp_path / "cache").prices(["SPY", "IWM"])
    cache = str(tmp_path / "cache")
    res = run_cli(
        "data",
        "show",
        "--source",
        "yahoo",
        "--offline",
        "--cache-dir",
        cache,
        "--tickers",
        "SPY,IWM",
        "--format",
        "json",
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["tickers"]["SPY"]["first"] == "1993-01-29"
    assert doc["tickers"]["IWM"]["last"] == "2026-02-23"
    assert doc["provenance"]["source"] == "yahoo"
    assert any("offline" in w for w in doc["warnings"])
    empty = run_cli(
        "data",
        "show",
        "--source",
        "yahoo",
        "--offline",
        "--cache-dir",
        str(tmp_path / "none"),
        "--tickers",
        "SPY",
    )
    assert empty.returncode == 4
    assert len(empty.stderr.strip().splitlines()) == 1 and "SPY" in empty.stderr


def test_builtin_cash_accrues_at_irx_from_yahoo(serve, tmp_path, shared_data):
    """With the yahoo source, CASH accrues at ^IRX (here served from the real ^TNX file
    renamed), compared with compounding by hand."""
    import shutil

    from optimizer.data.cash import CashProvider

    folder = tmp_path / "served"
    folder.mkdir()
    shutil.copy(shared_data / "yahoo" / "TLT.csv", folder / "TLT.csv")
    shutil.copy(shared_data / "yahoo" / "^TNX.csv", folder / "^IRX.csv")
    serve(folder=folder)
    provider = CashProvider(_provider(tmp_path), rate=None)
    got = provider.prices(["TLT", "CASH"], start=dt.date(2025, 6, 1)).frame
    irx = _file_close(shared_data, "^TNX")
    price, want = 1.0, [1.0]
    for a, b in zip(got.index[:-1], got.index[1:], strict=True):
        price *= (1 + irx.loc[:a].iloc[-1] / 100) ** ((b - a).days / 365)
        want.append(price)
    np.testing.assert_allclose(got["CASH"].to_numpy(), want, rtol=1e-9)
    # Yahoo without ^IRX: the configured rate is used instead; without one, an error
    (folder / "^IRX.csv").unlink()
    serve(folder=folder)
    fixed = CashProvider(_provider(tmp_path / "other"), rate=0.03)
    got = fixed.prices(["TLT", "CASH"], start=dt.date(2025, 6, 1)).frame
    days = (got.index[-1] - got.index[0]).days
    assert got["CASH"].iloc[-1] == pytest.approx(1.03 ** (days / 365), rel=1e-12)
    with pytest.raises(DataError, match="IRX"):
        CashProvider(_provider(tmp_path / "third"), rate=None).prices(["TLT", "CASH"])


def _copy_as(shared_data, folder, names):
    """Real files under other tickers' names (a London listing served from IWM's closes)."""
    folder.mkdir(exist_ok=True)
    for name, source in names.items():
        (folder / f"{name}.csv").write_text((shared_data / "yahoo" / f"{source}.csv").read_text())
    return folder


def test_prices_in_two_currencies_are_refused(serve, tmp_path, shared_data):
    # VOD.L is quoted in pence: valued as dollars it was 99 % of an account
    folder = _copy_as(shared_data, tmp_path / "files", {"SPY": "SPY", "VOD.L": "IWM"})
    serve(
        folder=folder, meta={"VOD.L": {"currency": "GBp", "exchangeTimezoneName": "Europe/London"}}
    )
    with pytest.raises(DataError) as err:
        _provider(tmp_path).prices(["SPY", "VOD.L"])
    message = err.value.render()
    assert "different currencies (SPY USD, VOD.L GBP)" in message and "VOD.L='GBP'" in message


def test_an_unknown_currency_beside_a_known_one_is_a_warning_not_a_check(
    serve, tmp_path, shared_data
):
    # a ticker whose answer said no currency beside one in dollars: the known currency is
    # still the one checked against the account, and the user is told the other is
    # unchecked; a currency in lower case is the same currency, not a minor unit (it was
    # divided by 100)
    folder = _copy_as(shared_data, tmp_path / "files", {"SPY": "SPY", "VOD.L": "IWM"})
    serve(folder=folder, meta={"VOD.L": {"currency": None}, "SPY": {"currency": "usd"}})
    data = _provider(tmp_path).prices(["SPY", "VOD.L"])
    assert data.provenance.currency == "USD"
    assert any("currency of VOD.L unknown" in w and "unchecked" in w for w in data.warnings)
    spy = _file_close(shared_data, "SPY").loc[data.frame.index[0] :]
    np.testing.assert_allclose(data.frame["SPY"].to_numpy(), spy.to_numpy(), rtol=1e-9)
    assert _provider(tmp_path).prices(["SPY"]).provenance.currency == "USD"


def test_a_minor_unit_is_turned_into_the_major_one_and_checked_against_the_account(
    serve, tmp_path, shared_data
):
    folder = _copy_as(shared_data, tmp_path / "files", {"VOD.L": "IWM", "BP.L": "TLT"})
    london = {"currency": "GBp", "exchangeTimezoneName": "Europe/London"}
    serve(folder=folder, meta={"VOD.L": london, "BP.L": london})
    data = _provider(tmp_path).prices(["VOD.L", "BP.L"])
    assert data.provenance.currency == "GBP"
    pence = _file_close(shared_data, "IWM").loc[data.frame.index[0] :]
    np.testing.assert_allclose(data.frame["VOD.L"].to_numpy(), pence.to_numpy() / 100, rtol=1e-9)
    assert any("quoted in GBp, turned into GBP (/100)" in n for n in data.provenance.notes)
    # an account in dollars is refused these prices; one in pounds takes them
    (tmp_path / "holdings.csv").write_text(
        "account,ticker,shares,cost_per_share,acquired\nuk,VOD.L,1000,1.5,2020-01-02\n"
    )
    config = (
        '[account]\nid = "uk"\nholdings = "holdings.csv"\n{currency}'
        f'[data]\nsource = "yahoo"\ncache_dir = "{tmp_path / "cache"}"\noffline = true\n'
        "start = 2015-01-01\n"
        '[universe.assets."VOD.L"]\n[universe.assets."BP.L"]\n'
        '[objective]\nkind = "min_variance"\n'
    )
    for currency, code in (("", 3), ('currency = "GBP"\n', 0)):
        (tmp_path / "account.toml").write_text(config.format(currency=currency))
        res = run_cli("propose", "--config", str(tmp_path / "account.toml"), "--format", "json")
        assert res.returncode == code, res.stderr
        if code:
            assert "prices are in GBP, the account in USD" in res.stderr
            assert len(res.stderr.strip().splitlines()) == 1
        else:  # valued in pounds: 1,000 shares at the last close in pence / 100
            doc = json.loads(res.stdout)
            value = 1000 * float(pence.iloc[-1]) / 100
            assert doc["account"]["value"] == pytest.approx(value, rel=1e-9)


def _moved(frame: pd.DataFrame, last: dt.date) -> pd.DataFrame:
    """Real closes moved by whole weeks (weekdays stay weekdays) to end on or before ``last``."""
    weeks = (pd.Timestamp(last) - frame["Date"].iloc[-1]).days // 7
    return frame.assign(Date=frame["Date"] + pd.Timedelta(weeks=weeks))


NEW_YORK = {"exchangeTimezoneName": "America/New_York", "gmtoffset": -18000}


def _period(end: dt.datetime, gmtoffset: int = -18000) -> dict:
    secs = int(end.timestamp())
    regular = {"start": secs - 23400, "end": secs, "timezone": "EST", "gmtoffset": gmtoffset}
    return {"currentTradingPeriod": {"regular": regular}}


@pytest.mark.parametrize(
    ("now", "end", "kept"),
    [  # New York, Wednesday 2 December 2026; the session ends at 21:00 UTC
        ("2026-12-02 15:00", "2026-12-02 21:00", "2026-12-01"),  # trading: today's bar is live
        ("2026-12-02 23:30", "2026-12-03 21:00", "2026-12-02"),  # next session's period sent
        ("2026-12-02 21:05", "2026-12-02 21:00", "2026-12-02"),  # closed: today's is a close
        # 23:00 UTC, the session extended to 01:00 UTC: still the 2nd in New York
        ("2026-12-02 23:00", "2026-12-03 01:00", "2026-12-01"),
    ],
)
def test_completed_drops_the_bar_of_a_session_still_trading(now, end, kept):
    closes = pd.Series(
        [1.0, 2.0, 3.0], index=pd.to_datetime(["2026-11-30", "2026-12-01", "2026-12-02"])
    )
    at = pd.Timestamp(now, tz="UTC").to_pydatetime()
    meta = {**NEW_YORK, **_period(pd.Timestamp(end, tz="UTC").to_pydatetime())}
    assert completed(closes, meta, at).index[-1] == pd.Timestamp(kept)
    # the same with only the time zone's name, and with the end as yfinance's timestamp
    regular = {"end": pd.Timestamp(end, tz="UTC").tz_convert("America/New_York")}
    named = {
        "exchangeTimezoneName": "America/New_York",
        "currentTradingPeriod": {"regular": regular},
    }
    assert completed(closes, named, at).index[-1] == pd.Timestamp(kept)


def test_completed_dates_a_new_zealand_session_on_its_own_clock():
    # 22:00 UTC on 2 December is 11:00 on the 3rd in Auckland (UTC+13): the 3rd's bar is live
    closes = pd.Series([1.0, 2.0], index=pd.to_datetime(["2026-12-02", "2026-12-03"]))
    auckland = {"exchangeTimezoneName": "Pacific/Auckland"}
    at = dt.datetime(2026, 12, 2, 22, tzinfo=dt.UTC)
    ends = dt.datetime(2026, 12, 3, 4, tzinfo=dt.UTC)  # 17:00 in Auckland
    assert completed(closes, {**auckland, **_period(ends, 46800)}, at).index[-1] == pd.Timestamp(
        "2026-12-02"
    )
    later = dt.datetime(2026, 12, 3, 5, tzinfo=dt.UTC)  # the session ended: a close
    assert completed(closes, {**auckland, **_period(ends, 46800)}, later).index[-1] == pd.Timestamp(
        "2026-12-03"
    )
    # without a trading period only a bar dated after today in UTC is known to be live
    assert completed(closes, auckland, at).index[-1] == pd.Timestamp("2026-12-02")
    assert completed(closes, {}, later).index[-1] == pd.Timestamp("2026-12-03")


def test_the_bar_of_a_session_still_trading_is_not_a_close(serve, tmp_path, shared_data):
    # while New York trades, Yahoo's answer has today's bar at the live price: not a close,
    # nor the as-of date (orders were priced mid-session); once the session ends it is one
    now = dt.datetime.now(dt.UTC)
    local = now.astimezone(ZoneInfo("America/New_York"))
    today, offset = local.date(), int(local.utcoffset().total_seconds())
    if today.weekday() >= 5:
        pytest.skip("a weekend in New York: no session (completed() is tested on fixed clocks)")
    folder = tmp_path / "files"
    folder.mkdir()
    spy = _moved(
        pd.read_csv(shared_data / "yahoo" / "SPY.csv", parse_dates=["Date"]),
        today - dt.timedelta(days=1),
    )
    last = spy["Date"].iloc[-1].date()
    spy.to_csv(folder / "SPY.csv", index=False, date_format="%Y-%m-%d")
    live = {"SPY": (today, 1.0)}
    serve(
        folder=folder,
        live=live,
        meta={"SPY": {**NEW_YORK, **_period(now + dt.timedelta(hours=2), offset)}},
    )
    data = _provider(tmp_path).prices(["SPY"])
    assert data.provenance.last == last and data.frame["SPY"].iloc[-1] != 1.0
    cached = pd.read_csv(tmp_path / "cache" / "SPY.csv")
    assert cached["date"].iloc[-1] == last.isoformat()  # not stored either
    serve(
        folder=folder,
        live=live,
        meta={"SPY": {**NEW_YORK, **_period(now - dt.timedelta(hours=1), offset)}},
    )
    (tmp_path / "cache").rename(tmp_path / "cache-before")
    data = _provider(tmp_path).prices(["SPY"])
    assert data.provenance.last == today and data.frame["SPY"].iloc[-1] == 1.0


def test_a_bar_dated_after_today_is_dropped_without_trading_hours(serve, tmp_path, shared_data):
    # a New Zealand session under way at 22:00 UTC is dated tomorrow: it was "a date in
    # the future" (an error) and stayed in the cache
    now = dt.datetime.now(dt.UTC)
    tomorrow = now.astimezone(ZoneInfo("Pacific/Auckland")).date()
    if tomorrow == now.date():
        pytest.skip("Auckland's date is UTC's until 11:00 UTC (completed() has fixed clocks)")
    folder = tmp_path / "files"
    folder.mkdir()
    iwm = _moved(
        pd.read_csv(shared_data / "yahoo" / "IWM.csv", parse_dates=["Date"]),
        tomorrow - dt.timedelta(days=2),  # bars stamped 14:30 UTC are the next day in Auckland
    )
    iwm.to_csv(folder / "AIR.NZ.csv", index=False, date_format="%Y-%m-%d")
    nz = {"currency": "NZD", "exchangeTimezoneName": "Pacific/Auckland"}
    serve(folder=folder, live={"AIR.NZ": (tomorrow, 1.0)}, meta={"AIR.NZ": nz})
    data = _provider(tmp_path).prices(["AIR.NZ"])
    assert data.provenance.last < tomorrow and data.frame["AIR.NZ"].iloc[-1] != 1.0


@pytest.mark.parametrize("cached", [False, True])
def test_a_ticker_missing_from_an_answer_is_asked_again(serve, tmp_path, shared_data, cached):
    # one of yfinance's threads came back empty: IWM was "not found" while SPY came back
    # (in one fetch, or, with SPY cached, each in its own fetch as they start on other
    # dates); asked once more it comes
    if cached:
        serve()
        _provider(tmp_path).prices(["SPY"])
    server = serve(flaky={"IWM": 1})
    sleeps = []
    data = _provider(tmp_path, sleeps).prices(["SPY", "IWM"])
    want = _file_close(shared_data, "IWM").loc[data.frame.index[0] :]
    np.testing.assert_allclose(data.frame["IWM"].to_numpy(), want.to_numpy(), rtol=1e-9)
    history = [t for t, params in server.calls if "period1" in params]
    assert history.count("IWM") == 2 and history.count("SPY") == 1 and len(sleeps) == 1


def test_a_ticker_yahoo_does_not_know_is_asked_twice_not_more(serve, tmp_path):
    serve()
    again = []
    with pytest.raises(DataError, match="NOSUCH"):
        _provider(tmp_path, again).prices(["SPY", "NOSUCH"])
    assert len(again) == 1  # one more try, then the error

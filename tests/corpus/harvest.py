"""Bad inputs of tax-loss harvesting: the recent-trades file and ``[tax.harvest]``, on the
taxable example account (``propose``: one line, exit 3, nothing written)."""

from __future__ import annotations

from tests.corpus import FINITE, ROOT, Case

EXAMPLE = ROOT / "examples" / "taxaware"
ACCOUNT = (EXAMPLE / "account.toml").read_text()
HOLDINGS = (EXAMPLE / "holdings.csv").read_text()
YTD = next(line for line in ACCOUNT.splitlines() if line.startswith("realized_gains_ytd"))
WITH_TRADES = ACCOUNT.replace(YTD + "\n", "").replace(
    'holdings = "holdings.csv"', 'holdings = "holdings.csv"\nrecent_trades = "trades.csv"'
)
HELD, PRICED = '"holdings.csv"', '"prices.csv"'
HEADER = "date,ticker,side,shares,price,realized_gain\n"
GOOD = "2017-03-02,LARGE,sell,10,95.00,-50.00\n"
TRADES = [  # (id, file text, texts of the error)
    ("side", HEADER + "2017-03-20,SMALL,hold,10,100,\n", ("line 2 side", "'hold'")),
    ("date", HEADER + "2017-13-01,SMALL,buy,10,100,\n", ("line 2 date", "not an ISO date")),
    ("no-gain", HEADER + "2017-03-20,SMALL,sell,10,100,\n", ("line 2 realized_gain", "needs")),
    ("buy-gain", HEADER + "2017-03-20,SMALL,buy,10,100,5\n", ("line 2 realized_gain", "'5'")),
    ("shares", HEADER + GOOD + "2017-03-20,SMALL,buy,-3,100,\n", ("line 3 shares", "-3")),
    ("price", HEADER + "2017-03-20,SMALL,buy,10,nan,\n", ("line 2 price", FINITE)),
    ("gain", HEADER + "2017-03-20,SMALL,sell,10,100,inf\n", ("line 2 realized_gain", FINITE)),
    ("column", HEADER.replace("\n", ",note\n") + GOOD.replace("\n", ",x\n"), ("unknown column",)),
    ("missing", "date,ticker,side,shares,price\n", ("missing column(s) realized_gain",)),
    ("after", HEADER + "2017-04-15,SMALL,buy,10,100,\n", ("line 2 date", "after the as-of")),
]
HARVEST = [  # (id, [tax.harvest] body, texts of the error)
    ("no-price", 'substitutes = { SMALL = ["NOPE"] }',
     ("tax.harvest.substitutes.SMALL", "'NOPE'", "no price on 2017-03-31")),
    ("in-universe", 'substitutes = { SMALL = ["LARGE"] }',
     ("tax.harvest.substitutes.SMALL", "'LARGE'", "cannot be an asset of the universe")),
    ("unknown", 'substitutes = { FOO = ["MKT"] }', ("tax.harvest.substitutes", "'FOO'")),
    ("cash", 'substitutes = { CASH = ["MKT"] }', ("tax.harvest.substitutes", "'CASH'")),
    ("empty", "substitutes = { SMALL = [] }", ("tax.harvest", "at least one substitute")),
    ("identical", 'substitutes = { SMALL = ["MKT"] }\nidentical = [["SMALL"]]',
     ("tax.harvest", "at least two tickers")),
    ("min-nan", 'substitutes = { SMALL = ["MKT"] }\nmin_benefit = nan',
     ("tax.harvest.min_benefit",)),
    ("min-pct", 'substitutes = { SMALL = ["MKT"] }\nmin_benefit_pct = 2',
     ("tax.harvest.min_benefit_pct",)),
    ("unknown-key", 'substitutes = { SMALL = ["MKT"] }\nthreshold = 5', ("tax.harvest.threshold",)),
    ("shared", 'substitutes = { SMALL = ["MKT"], MID = "MKT" }',
     ("tax.harvest", "MKT is named for SMALL and MID")),
]  # fmt: skip


def _case(
    id: str, config: str, expect: tuple[str, ...], trades: str | None = None, **more: str
) -> Case:
    files: dict = {"account.toml": config, "holdings.csv": HOLDINGS, **more}
    if trades is not None:
        files["trades.csv"] = trades
    args = ("propose", "--config", "{tmp}/account.toml", "--out", "{tmp}/out")
    return Case(f"harvest-{id}", args, 3, expect, files)


def _harvest_config(body: str) -> str:
    head, _, _ = ACCOUNT.partition("[tax.harvest]")
    return head + "[tax.harvest]\n" + body + "\n"


def cases() -> list[Case]:
    out = [_case(f"trades-{i}", WITH_TRADES, ("trades.csv", *t), text) for i, text, t in TRADES]
    out += [_case(f"config-{i}", _harvest_config(b), ("account.toml", *t)) for i, b, t in HARVEST]
    out += [
        _case("trades-file-missing", WITH_TRADES, ("account.recent_trades", "file not found")),
        _case(
            "ytd-twice",
            WITH_TRADES.replace("[tax]\n", f"[tax]\n{YTD}\n"),
            ("account.toml", "tax.realized_gains_ytd", "given twice"),
            HEADER + GOOD,
        ),
        _case(
            "no-price-in-prices-file",
            ACCOUNT.replace('holdings = "holdings.csv"', f"holdings = {HELD}\nprices = {PRICED}"),
            ("account.toml", "tax.harvest.substitutes.SMALL", "'MKT'", "prices.csv"),
            **{"prices.csv": "ticker,price\nLARGE,100\nMID,100\nSMALL,100\nBOND,100\n"},
        ),
        _case(
            "not-taxable",
            ACCOUNT.replace("taxable = true", "taxable = false"),
            ("account.toml", "needs taxable = true"),
        ),
    ]
    return out

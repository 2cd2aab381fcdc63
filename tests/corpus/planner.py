"""Bad inputs of ``capalloc rebalance``: holdings, prices, targets, positions, recent
sales, rules files and options."""

from __future__ import annotations

from tests.corpus import BAD, BOUNDS, FIFO, FINITE, FOLDER, MONEY_OPTIONS, Case, Special, sparse

HOLDINGS = (BAD / "rebalance" / "holdings.csv").read_text()
PRICES = (BAD / "rebalance" / "prices.csv").read_text()
TARGETS = (BAD / "rebalance" / "targets.csv").read_text()
LOT = "A1,SPY,40,420.50,2023-03-15,A1-1"
CASH_ROW = "A1,CASH,2500,,,"


def rebalance(
    id: str, exit: int, expect: tuple[str, ...], *extra: str, **files: str | Special
) -> Case:
    names = {"holdings": "h.csv", "targets": "t.csv", "prices": "p.csv"}
    content = {"h.csv": HOLDINGS, "t.csv": TARGETS, "p.csv": PRICES}
    for key, text in files.items():
        content[names.get(key, key)] = text
    args = (
        "rebalance",
        "--holdings",
        "{tmp}/h.csv",
        "--targets",
        "{tmp}/t.csv",
        "--prices",
        "{tmp}/p.csv",
        "--as-of",
        "2026-11-20",
        "--out",
        "{tmp}/orders.csv",
        *extra,
    )
    return Case(f"rebalance-{id}", args, exit, expect, content)


def lot(shares="40", cost="420.50", acquired="2023-03-15") -> str:
    return HOLDINGS.replace(LOT, f"A1,SPY,{shares},{cost},{acquired},A1-1")


SHARES = [  # (value, exit, text)
    ("nan", 3, FINITE),
    ("inf", 3, FINITE),
    ("-inf", 3, FINITE),
    ("NaN", 3, FINITE),
    ("1e308", 3, BOUNDS),
    ("1e11", 3, BOUNDS),
    ("-40", 8, "shares must be positive"),
    ("0", 8, "shares must be positive"),
    ("abc", 3, "not a number"),
    ("", 3, "not a number"),
    ("40.5", 8, "fractional shares"),
    ("4O", 3, "not a number"),
    ("1_000", 3, "not a number"),
]
COSTS = [
    ("nan", 3, FINITE),
    ("inf", 3, FINITE),
    ("-1", 8, "negative cost basis"),
    ("1e308", 3, BOUNDS),
    ("1e-300", 3, BOUNDS),
    ("2e7", 3, BOUNDS),
    ("abc", 3, "not a number"),
    ("", 3, "not a number"),
]
DATES = ["2023-13-01", "03/15/2023", "", "yesterday", "2023-02-30", "15-03-2023"]
CASH = [  # a CASH row: its shares column is money
    ("-100", "", "", 8, "negative cash"),
    ("nan", "", "", 3, FINITE),
    ("1e308", "", "", 3, BOUNDS),
    ("1e13", "", "", 3, BOUNDS),
    ("inf", "", "", 3, FINITE),
    ("2500", "1", "", 3, "a CASH row has no cost or date"),
    ("2500", "", "2024-01-02", 3, "a CASH row has no cost or date"),
    ("2500", "1", "2024-01-02", 3, "a CASH row has no cost or date"),
]
PRICE_VALUES = [
    ("nan", 3, FINITE),
    ("inf", 3, FINITE),
    ("0", 8, "price must be positive"),
    ("-1", 8, "price must be positive"),
    ("1e308", 8, BOUNDS),
    ("1e-300", 8, BOUNDS),
    ("1e8", 8, BOUNDS),
    ("abc", 3, "not a number"),
    ("", 3, "not a number"),
]
WEIGHTS = [
    ("nan", 3, FINITE),
    ("inf", 3, FINITE),
    ("-0.5", 8, "weight must be >= 0"),
    ("1e308", 8, "do not sum to 1"),
    ("abc", 3, "not a number"),
    ("", 3, "not a number"),
]


def cases() -> list[Case]:
    cases = [
        rebalance(f"shares-{v or 'empty'}", code, ("h.csv", "SPY", text), holdings=lot(v))
        for v, code, text in SHARES
    ]
    cases += [
        rebalance(
            f"cost-{v or 'empty'}", code, ("h.csv", "cost_per_share", text), holdings=lot(cost=v)
        )
        for v, code, text in COSTS
    ]
    cases += [
        rebalance(
            f"acquired-{v or 'empty'}",
            3,
            ("h.csv", "acquired", "ISO date"),
            holdings=lot(acquired=v),
        )
        for v in DATES
    ]
    cases += [
        rebalance(
            f"cash-{amount}-{cost or 'x'}-{date or 'x'}",
            code,
            ("h.csv", "CASH", text),
            holdings=HOLDINGS.replace(CASH_ROW, f"A1,CASH,{amount},{cost},{date},"),
        )
        for amount, cost, date, code, text in CASH
    ]
    spy = "SPY,680.00"
    cases += [
        rebalance(
            f"price-{v or 'empty'}",
            code,
            ("p.csv", "SPY", text),
            prices=PRICES.replace(spy, f"SPY,{v}"),
        )
        for v, code, text in PRICE_VALUES
    ]
    cases += [
        rebalance(
            f"weight-{v or 'empty'}",
            code,
            ("t.csv", text),
            targets=TARGETS.replace("SPY,0.55", f"SPY,{v}"),
        )
        for v, code, text in WEIGHTS
    ]
    for option in ("--deposit", "--withdraw"):
        cases += [
            rebalance(f"{option[2:]}-{v or 'empty'}", 2, (option,), option, v)
            for v in MONEY_OPTIONS
        ]
    return cases + rebalance_files()


def rebalance_files() -> list[Case]:
    rules = "[rebalance]\nband_abs = {}\n"
    nested = "[rebalance]\nx = " + "[" * 2000 + "]" * 2000 + "\n"
    return [
        rebalance("holdings-fifo", 3, ("h.csv", "not a regular file"), holdings=FIFO),
        rebalance("prices-fifo", 3, ("p.csv", "not a regular file"), prices=FIFO),
        rebalance("targets-fifo", 3, ("t.csv", "not a regular file"), targets=FIFO),
        rebalance("holdings-folder", 2, ("h.csv", "is a directory"), holdings=FOLDER),
        rebalance(
            "holdings-oversize", 3, ("h.csv", "above the limit"), holdings=sparse((256 << 20) + 1)
        ),
        rebalance("prices-oversize", 3, ("p.csv", "above the limit"), prices=sparse(300 << 20)),
        rebalance(
            "holdings-missing", 3, ("nope.csv", "file not found"), "--holdings", "{tmp}/nope.csv"
        ),
        rebalance(
            "holdings-not-utf8",
            3,
            ("h.csv", "not a UTF-8"),
            holdings=HOLDINGS.replace("A1-1", "A1-\xe9").encode("latin-1"),
        ),
        rebalance(
            "holdings-extra-cell",
            3,
            ("h.csv", "more cells"),
            holdings=HOLDINGS.replace(LOT, LOT + ",extra"),
        ),
        rebalance(
            "holdings-unknown-column",
            3,
            ("h.csv", "unknown column", "broker"),
            holdings=HOLDINGS.replace("lot_id", "lot_id,broker"),
        ),
        rebalance("holdings-empty", 3, ("h.csv", "missing column"), holdings=""),
        rebalance(
            "holdings-no-account",
            3,
            ("h.csv", "account and ticker are required"),
            holdings=HOLDINGS.replace(LOT, LOT.replace("A1,", ",", 1)),
        ),
        rebalance("prices-duplicate", 3, ("p.csv", "priced twice"), prices=PRICES + "SPY,1\n"),
        rebalance("targets-duplicate", 3, ("t.csv", "listed twice"), targets=TARGETS + "SPY,0\n"),
        rebalance(
            "positions-nan",
            3,
            ("pos.csv", FINITE),
            "--positions",
            "{tmp}/pos.csv",
            **{"pos.csv": "account,ticker,shares\nA1,SPY,nan\n"},
        ),
        rebalance(
            "positions-huge",
            3,
            ("pos.csv", BOUNDS),
            "--positions",
            "{tmp}/pos.csv",
            **{"pos.csv": "account,ticker,shares\nA1,SPY,1e300\n"},
        ),
        rebalance(
            "positions-cash-huge",
            3,
            ("pos.csv", BOUNDS),
            "--positions",
            "{tmp}/pos.csv",
            **{"pos.csv": "account,ticker,shares\nA1,CASH,1e300\n"},
        ),
        rebalance(
            "sales-gain-inf",
            3,
            ("rs.csv", FINITE),
            "--recent-sales",
            "{tmp}/rs.csv",
            **{"rs.csv": "account,ticker,sold,gain\nA1,SPY,2026-11-01,inf\n"},
        ),
        rebalance(
            "sales-gain-huge",
            3,
            ("rs.csv", BOUNDS),
            "--recent-sales",
            "{tmp}/rs.csv",
            **{"rs.csv": "account,ticker,sold,gain\nA1,SPY,2026-11-01,-1e200\n"},
        ),
        rebalance(
            "sales-date",
            3,
            ("rs.csv", "ISO date"),
            "--recent-sales",
            "{tmp}/rs.csv",
            **{"rs.csv": "account,ticker,sold,gain\nA1,SPY,11/01/2026,-5\n"},
        ),
        rebalance(
            "rules-nan",
            3,
            ("r.toml", "rebalance.band_abs"),
            "--config",
            "{tmp}/r.toml",
            **{"r.toml": rules.format("nan")},
        ),
        rebalance(
            "rules-inf-reserve",
            3,
            ("r.toml", "rebalance.cash_reserve"),
            "--config",
            "{tmp}/r.toml",
            **{"r.toml": "[rebalance]\ncash_reserve = inf\n"},
        ),
        rebalance(
            "rules-deep",
            3,
            ("r.toml", "nested more than 32"),
            "--config",
            "{tmp}/r.toml",
            **{"r.toml": nested},
        ),
        rebalance(
            "rules-dotted-deep",
            3,
            ("r.toml", "nested more than 32"),
            "--config",
            "{tmp}/r.toml",
            **{"r.toml": "a" + ".a" * 100 + " = 1\n"},
        ),
        rebalance(
            "rules-oversize",
            3,
            ("r.toml", "above the limit"),
            "--config",
            "{tmp}/r.toml",
            **{"r.toml": "# " + "x" * (1 << 20) + "\n"},
        ),
        rebalance(
            "rules-fifo",
            3,
            ("r.toml", "not a regular file"),
            "--config",
            "{tmp}/r.toml",
            **{"r.toml": FIFO},
        ),
        rebalance(
            "rules-malformed",
            3,
            ("r.toml", "malformed TOML"),
            "--config",
            "{tmp}/r.toml",
            **{"r.toml": "[rebalance\n"},
        ),
        rebalance("as-of", 2, ("--as-of", "not a date YYYY-MM-DD"), "--as-of", "2026-02-30"),
        rebalance("both-flows", 2, ("--deposit",), "--deposit", "1", "--withdraw", "1"),
        rebalance("prices-and-source", 2, ("--prices",), "--source", "sample"),
        rebalance("unknown-account", 8, ("account", "ZZ9"), "--account", "ZZ9"),
    ]

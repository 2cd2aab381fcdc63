"""The bad-input corpus as data: one :class:`Case` per malformed input, built from small
tables (run by ``tests/test_bad_input_corpus.py``).

A case states the command line (after ``capalloc``), the files to create in a fresh folder
(``{tmp}``), the exit code and texts the one stderr line must contain. ``{bad}`` is
``tests/bad_input``, ``{ex}`` the ``examples`` folder.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "bad_input"


class Special:
    """A file that is not plain text: a FIFO, a folder, or a sparse file of ``size`` bytes."""

    def __init__(self, kind: str, size: int = 0) -> None:
        self.kind, self.size = kind, size


FIFO, FOLDER = Special("fifo"), Special("folder")


def sparse(size: int) -> Special:
    return Special("sparse", size)


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    exit: int
    expect: tuple[str, ...]
    files: dict[str, str | bytes | Special] = field(default_factory=dict)


# -- rebalance: holdings, prices, targets, positions, recent sales, rules, options ------------
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


FINITE = "not a finite number"
BOUNDS = "outside the documented bounds"
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
MONEY_OPTIONS = ["nan", "inf", "-inf", "1e308", "-5", "abc", "1e13", "", "0x10"]


def rebalance_cases() -> list[Case]:
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
        rebalance("as-of", 3, ("--as-of", "ISO date"), "--as-of", "2026-02-30"),
        rebalance("both-flows", 2, ("--deposit",), "--deposit", "1", "--withdraw", "1"),
        rebalance("prices-and-source", 2, ("--prices",), "--source", "sample"),
        rebalance("unknown-account", 8, ("account", "ZZ9"), "--account", "ZZ9"),
    ]


# -- data show: price histories ------------------------------------------------------------
PRICE_FILE = "Date,Close\n2020-01-02,100\n2020-01-03,101\n2020-01-06,102\n2020-01-07,103\n"
HISTORY_VALUES = [  # the 2020-01-03 close
    ("nan", "not a number"),
    ("NaN", "not a number"),
    ("NAN", "not a number"),
    ("inf", "non-finite value"),
    ("-inf", "non-finite value"),
    ("Infinity", "non-finite value"),
    ("1e308", BOUNDS),
    ("1e-300", BOUNDS),
    ("1e8", BOUNDS),
    ("1e-7", BOUNDS),
    ("-1", "non-positive price"),
    ("0", "non-positive price"),
    ("abc", "not a number"),
    ("1,5", "malformed CSV"),
]
RATE_FILE = "observation_date,DGS10\n2020-01-02,1.8\n2020-01-03,{}\n2020-01-06,1.9\n"


def data_show(id: str, exit: int, expect: tuple[str, ...], source: str, files: dict) -> Case:
    return Case(f"data-{id}", ("data", "show", "--source", source), exit, expect, files)


def data_cases() -> list[Case]:
    cases = [
        data_show(
            f"close-{v}",
            4,
            ("TEST.csv", text),
            "csv:{tmp}/TEST.csv",
            {"TEST.csv": PRICE_FILE.replace("2020-01-03,101", f"2020-01-03,{v}")},
        )
        for v, text in HISTORY_VALUES
    ]
    cases += [
        data_show(
            f"rate-{v}",
            4,
            ("DGS10.csv", text),
            "csv:{tmp}/DGS10.csv",
            {"DGS10.csv": RATE_FILE.format(v)},
        )
        for v, text in [("inf", "non-finite"), ("nan", "not a number"), ("5000", BOUNDS)]
    ]
    cases += [
        data_show(
            "fifo", 4, ("TEST.csv", "not a regular file"), "csv:{tmp}/TEST.csv", {"TEST.csv": FIFO}
        ),
        data_show(
            "oversize",
            4,
            ("TEST.csv", "above the limit"),
            "csv:{tmp}/TEST.csv",
            {"TEST.csv": sparse((256 << 20) + 1)},
        ),
        data_show(
            "oversize-in-folder",
            4,
            ("BIG.csv", "above the limit"),
            "csv:{tmp}/prices",
            {"prices/BIG.csv": sparse(1 << 30), "prices/TEST.csv": PRICE_FILE},
        ),
    ]
    table = tomllib.loads((BAD / "data" / "cases.toml").read_text(encoding="utf-8"))["case"]
    for c in table:  # the original corpus of malformed data files
        args = tuple(a.replace("{dir}", "{bad}/data") for a in c["args"])
        cases.append(
            Case(f"data-{c['id']}", ("data", "show", *args), c["exit"], tuple(c["expect"]))
        )
    return cases


# -- scenario files ------------------------------------------------------------------------
SCENARIO = """id = "probe"
title = "Probe"
narrative = "A test scenario."
horizon = { value = 3, unit = "months" }
probability = 0.1

[[shocks]]
factor = "equity"
return_pct = -10
"""
SHOCKS = [  # (the [[shocks]] body, the key the error names)
    (
        'factor = "equity"\nreturn_pct = {}',
        "return_pct",
        ["1e308", "nan", "inf", "-inf", "-100", "-150", "1001"],
    ),
    ('factor = "long_rate"\nchange_bp = {}', "change_bp", ["1e6", "nan", "-20000", "inf"]),
    ('factor = "vol"\nchange_pct = {}', "change_pct", ["1e308", "nan", "-100"]),
    ('index = "SP500"\nlevel = {}', "level", ["1e308", "0", "nan", "-5"]),
    ('index = "SP500"\nlevel = 5000\nintermediate = [{}]', "intermediate", ["1e308", "nan"]),
]
SCENARIO_KEYS = [  # (text to replace, replacement, key named)
    ("horizon = { value = 3,", "horizon = { value = nan,", "horizon.value"),
    ("horizon = { value = 3,", "horizon = { value = 1e308,", "horizon.value"),
    ("horizon = { value = 3,", "horizon = { value = 0,", "horizon.value"),
    ("probability = 0.1", "probability = nan", "probability"),
    ("probability = 0.1", "probability = inf", "probability"),
    ("probability = 0.1", "probability = 0.1\n[stress]\nvol_multiplier = nan", "vol_multiplier"),
    ("probability = 0.1", "probability = 0.1\n[stress]\nvol_multiplier = 1e308", "vol_multiplier"),
    (
        "probability = 0.1",
        "probability = 0.1\n[stress]\ncorrelation_stress = inf",
        "correlation_stress",
    ),
]


def validate(id: str, expect: tuple[str, ...], content: str | bytes | Special) -> Case:
    return Case(
        f"scenario-{id}",
        ("scenarios", "validate", "{tmp}/probe.toml"),
        5,
        ("probe.toml", *expect),
        {"probe.toml": content},
    )


def scenario_cases() -> list[Case]:
    body = 'factor = "equity"\nreturn_pct = -10'
    cases = [
        validate(f"{key}-{v}", (key,), SCENARIO.replace(body, shock.format(v)))
        for shock, key, values in SHOCKS
        for v in values
    ]
    cases += [
        validate(f"{key}-{new.split('=')[-1].strip()}", (key,), SCENARIO.replace(old, new, 1))
        for old, new, key in SCENARIO_KEYS
    ]
    cases += [
        validate(
            "deep-array", ("nested more than 32",), SCENARIO + "x = " + "[" * 5000 + "]" * 5000
        ),
        validate(
            "deep-tables", ("nested more than 32",), SCENARIO + "[" + ".".join("t" * 40) + "]\n"
        ),
        validate(
            "deep-inline",
            ("nested more than 32",),
            SCENARIO + "y = " + "{a=" * 200 + "1" + "}" * 200 + "\n",
        ),
        validate("oversize", ("above the limit",), SCENARIO + "#" * (1 << 20)),
        validate("fifo", ("not a regular file",), FIFO),
        validate(
            "not-utf8", ("not a UTF-8",), SCENARIO.replace("Probe", "Pr\xf6be").encode("latin-1")
        ),
    ]
    for path in sorted((BAD / "scenarios" / "files").glob("*.toml")):  # the original corpus
        cases.append(
            Case(
                f"scenario-file-{path.stem}", ("scenarios", "validate", str(path)), 5, (path.name,)
            )
        )
    return cases


# -- propose, whatif and stress on an account file -----------------------------------------
ACCOUNT = (ROOT / "examples" / "proposal" / "account.toml").read_text()
ACCOUNT_HOLDINGS = (ROOT / "examples" / "proposal" / "holdings.csv").read_text()
ACCOUNT_KEYS = [  # (text, replacement, key named, exit)
    ("window_years = 30", "window_years = nan", "estimation.window_years", 3),
    ("max = 0.6", "max = inf", "universe", 3),
    ("max = 0.3\n\n[universe.assets.SMALL]", "max = nan\n\n[universe.assets.SMALL]", "universe", 3),
    ("turnover = 0.6", "turnover = nan", "constraints.turnover", 3),
    ("costs_bps = 5", "costs_bps = inf", "constraints.costs_bps", 3),
    ("min_trade = 500", "min_trade = nan", "rebalance.min_trade", 3),
    ("spread_bps = 3", "spread_bps = inf", "rebalance.spread_bps", 3),
    ("n_samples = 10000", "n_samples = nan", "scenarios.n_samples", 3),
    ('id = "smith-family"', 'id = "../smith"', "account.id", 3),
    (
        '{ id = "fed-easing", probability = 0.35 }',
        '{ id = "fed-easing", probability = nan }',
        "scenarios.use",
        3,
    ),
]
LOTS = "smith-family,LARGE,5000,50.09,2012-02-29,L1"
ACCOUNT_LOTS = [  # (replacement of the first lot, texts, exit)
    ("smith-family,LARGE,nan,50.09,2012-02-29,L1", ("holdings.csv", FINITE), 3),
    ("smith-family,LARGE,1e308,50.09,2012-02-29,L1", ("holdings.csv", BOUNDS), 3),
    ("smith-family,LARGE,5000,inf,2012-02-29,L1", ("holdings.csv", FINITE), 3),
    ("smith-family,CASH,-5000,,,", ("holdings.csv", "negative cash"), 8),
    ("smith-family,CASH,5000,1,2012-02-29,", ("holdings.csv", "a CASH row has no cost"), 3),
]


def propose(
    id: str,
    exit: int,
    expect: tuple[str, ...],
    *extra: str,
    config=ACCOUNT,
    holdings=ACCOUNT_HOLDINGS,
    command: str = "propose",
) -> Case:
    out = ("--out", "{tmp}/out") if command == "propose" else ("--csv", "{tmp}/w.csv")
    return Case(
        f"{command}-{id}",
        (command, "--config", "{tmp}/account.toml", *out, *extra),
        exit,
        expect,
        {"account.toml": config, "holdings.csv": holdings},
    )


def account_cases() -> list[Case]:
    cases = [
        propose(
            f"{key}-{new.split('=')[-1].strip(' }')}",
            code,
            ("account.toml", key),
            config=ACCOUNT.replace(old, new, 1),
        )
        for old, new, key, code in ACCOUNT_KEYS
    ]
    cases += [
        propose(f"lot-{i}", code, texts, holdings=ACCOUNT_HOLDINGS.replace(LOTS, row))
        for i, (row, texts, code) in enumerate(ACCOUNT_LOTS)
    ]
    deep = ACCOUNT + "\n[extra]\nx = " + "[" * 3000 + "]" * 3000 + "\n"
    cases += [
        propose("deep", 3, ("account.toml", "nested more than 32"), config=deep),
        propose(
            "oversize", 3, ("account.toml", "above the limit"), config=ACCOUNT + "#" * (1 << 20)
        ),
        propose("config-fifo", 3, ("account.toml", "not a regular file"), config=FIFO),
        propose("holdings-fifo", 3, ("account.holdings", "not a regular file"), holdings=FIFO),
        propose(
            "holdings-missing",
            3,
            ("account.holdings", "file not found"),
            config=ACCOUNT.replace('holdings = "holdings.csv"', 'holdings = "gone.csv"'),
        ),
        whatif_case("deep", deep),
        whatif_case("nan", ACCOUNT.replace("turnover = 0.6", "turnover = nan")),
        whatif_case("oversize", ACCOUNT + "#" * (1 << 20)),
    ]
    for v in MONEY_OPTIONS:
        cases.append(propose(f"deposit-{v or 'empty'}", 2, ("--deposit",), "--deposit", v))
    cases += [
        propose("withdraw-nan", 2, ("--withdraw",), "--withdraw", "nan"),
        propose("withdraw-1e308", 2, ("--withdraw",), "--withdraw", "1e308"),
    ]
    return cases + stress_cases()


def whatif_case(id: str, config: str) -> Case:
    expect = (
        "account.toml",
        "nested" if id == "deep" else "above" if id == "oversize" else "turnover",
    )
    return propose(id, 3, expect, config=config, command="whatif")


WEIGHTS_FILE = "ticker,weight\nLARGE,0.5\nBOND,0.5\n"


def stress_case(id: str, exit: int, expect: tuple[str, ...], *args: str, **files) -> Case:
    content = {"w.csv": WEIGHTS_FILE, **{k.replace("_", "."): v for k, v in files.items()}}
    return Case(f"stress-{id}", ("stress", "--source", "sample", *args), exit, expect, content)


def stress_cases() -> list[Case]:
    cases = [
        stress_case(
            f"value-{v or 'empty'}", 2, ("--value",), "--weights", "{tmp}/w.csv", "--value", v
        )
        for v in ("nan", "inf", "-1", "1e13", "abc")
    ]
    cases += [
        stress_case(
            f"weight-{v}",
            3,
            ("w.csv", text),
            "--weights",
            "{tmp}/w.csv",
            w_csv=WEIGHTS_FILE.replace("LARGE,0.5", f"LARGE,{v}"),
        )
        for v, text in (("nan", FINITE), ("inf", FINITE), ("1e308", "sum to 1"))
    ]
    cases += [
        stress_case(
            "holdings-huge",
            3,
            ("h.csv", BOUNDS),
            "--holdings",
            "{tmp}/h.csv",
            h_csv="ticker,shares\nLARGE,1e308\n",
        ),
        stress_case(
            "holdings-cash-huge",
            3,
            ("h.csv", BOUNDS),
            "--holdings",
            "{tmp}/h.csv",
            h_csv="ticker,shares\nLARGE,10\nCASH,1e300\n",
        ),
        stress_case(
            "weights-fifo",
            3,
            ("w.csv", "not a regular file"),
            "--weights",
            "{tmp}/w.csv",
            w_csv=FIFO,
        ),
        stress_case(
            "weights-oversize",
            3,
            ("w.csv", "above the limit"),
            "--weights",
            "{tmp}/w.csv",
            w_csv=sparse(1 << 30),
        ),
    ]
    return cases


# -- the monthly job -----------------------------------------------------------------------
JOB_ACCOUNT = {
    "accounts/a1/account.toml": "[targets]\nSPY = 1.0\n",
    "accounts/a1/holdings.csv": "ticker,shares,price\nSPY,10,500\nCASH,100,\n",
}
INDEX_HEAD = "account,config,holdings\n"


def monthly(id: str, exit: int, expect: tuple[str, ...], *extra: str, files=None) -> Case:
    options = {
        "--db": "{tmp}/ledger.db",
        "--orders-dir": "{tmp}/orders",
        "--period": "2026-01",
        "--processor": "tests.jobs_support.pipeline:process_account",
    }
    args = ["run-monthly", "--accounts", "{tmp}/accounts"]
    for key, value in options.items():
        if key not in extra:
            args += [key, value]
    return Case(
        f"monthly-{id}", (*args, *extra), exit, expect, JOB_ACCOUNT if files is None else files
    )


def index(text: str | Special, **more: str) -> dict:
    return {**JOB_ACCOUNT, "accounts/accounts.csv": text, **more}


def monthly_cases() -> list[Case]:
    cases = [
        monthly(f"period-{p or 'empty'}", 2, ("--period",), "--period", p)
        for p in ("2017/04", "2017-13", "17-04", "2017-4", "", "2017-00", "abcd-ef", "2017-04-01")
    ]
    cases += [
        monthly(f"period-{p}", 3, ("--period", p, text), "--period", p)
        for p, text in (
            ("1700-01", "before 1990-01"),
            ("0000-01", "before 1990-01"),
            ("1989-12", "before 1990-01"),
            ("9999-12", "after the current"),
            ("2999-01", "after the current"),
        )
    ]
    cases.append(
        monthly(
            "period-far-future",
            3,
            ("more than 12 months",),
            "--period",
            "9999-12",
            "--allow-future",
        )
    )
    db = b"not a ledger" * 100
    cases += [
        monthly("db-memory", 9, ("in-memory",), "--db", "sqlite://"),
        monthly("db-memory-path", 9, ("in-memory",), "--db", "sqlite:///:memory:"),
        monthly("db-memory-uri", 9, ("in-memory",), "--db", "sqlite:///file::memory:?uri=true"),
        monthly(
            "db-junk",
            9,
            ("ledger database failed",),
            "--db",
            "{tmp}/junk.db",
            files={**JOB_ACCOUNT, "junk.db": db},
        ),
        monthly(
            "db-foreign",
            9,
            ("not a capalloc ledger", "customers"),
            "--db",
            "{tmp}/crm.db",
            files={**JOB_ACCOUNT, "crm.db": foreign_sqlite()},
        ),
        monthly("db-no-folder", 9, ("folder does not exist",), "--db", "{tmp}/nope/ledger.db"),
        monthly("db-scheme", 9, ("cannot use this database URL",), "--db", "nosuchdb://x/y"),
        monthly(
            "orders-period-is-file",
            3,
            ("--orders-dir", "taken by a file"),
            files={**JOB_ACCOUNT, "orders/2026-01": "a file"},
        ),
        monthly(
            "orders-dir-is-file",
            2,
            ("--orders-dir",),
            "--orders-dir",
            "{tmp}/o.txt",
            files={**JOB_ACCOUNT, "o.txt": "x"},
        ),
        monthly("workers-0", 2, ("--workers",), "--workers", "0"),
        monthly("chunk-0", 2, ("--chunk-size",), "--chunk-size", "0"),
        monthly("lock-timeout-0", 2, ("--lock-timeout",), "--lock-timeout", "0"),
        monthly("lock-timeout-nan", 2, ("--lock-timeout",), "--lock-timeout", "nan"),
        monthly("fallback", 2, ("--fallback",), "--fallback", "retry"),
        monthly("processor-module", 3, ("--processor",), "--processor", "no_such_module:f"),
        monthly("processor-colon", 3, ("MODULE:FUNCTION",), "--processor", "tests.jobs_support"),
        monthly("accounts-missing", 3, ("accounts folder not found",), files={}),
        monthly("accounts-empty", 3, ("no accounts found",), files={"accounts/.keep": ""}),
        monthly(
            "accounts-bad-id",
            3,
            ("invalid account id",),
            files={**JOB_ACCOUNT, "accounts/bad id!/account.toml": ""},
        ),
        monthly(
            "index-columns",
            3,
            ("accounts.csv", "missing columns"),
            files=index("account,config\na1,a1/account.toml\n"),
        ),
        monthly(
            "index-twice",
            3,
            ("accounts.csv", "listed twice"),
            files=index(INDEX_HEAD + "a1,a1/account.toml,a1/holdings.csv\n" * 2),
        ),
        monthly(
            "index-empty-config",
            3,
            ("accounts.csv", "required column is empty"),
            files=index(INDEX_HEAD + "a1,,a1/holdings.csv\n"),
        ),
        monthly(
            "index-fallback",
            3,
            ("accounts.csv", "unknown fallback"),
            files=index(
                INDEX_HEAD.strip() + ",fallback\na1,a1/account.toml,a1/holdings.csv,maybe\n"
            ),
        ),
        monthly(
            "index-bad-id",
            3,
            ("accounts.csv", "invalid account id"),
            files=index(INDEX_HEAD + "../a1,a1/account.toml,a1/holdings.csv\n"),
        ),
        monthly("index-fifo", 3, ("accounts.csv", "not a regular file"), files=index(FIFO)),
        monthly(
            "index-oversize", 3, ("accounts.csv", "above the limit"), files=index(sparse(1 << 30))
        ),
        monthly(
            "index-not-utf8",
            3,
            ("accounts.csv", "not a UTF-8"),
            files=index((INDEX_HEAD + "a1,\xe9.toml,h.csv\n").encode("latin-1")),
        ),
        monthly(
            "index-nul",
            3,
            ("accounts.csv", "control character"),
            files=index(INDEX_HEAD + "a1,a1/acc\0ount.toml,a1/holdings.csv\n"),
        ),
    ]
    return cases


def foreign_sqlite() -> bytes:
    """The bytes of someone else's SQLite database (one table, one row)."""
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("create table customers (id integer primary key, name text)")
    conn.execute("insert into customers (name) values ('Ada')")
    conn.commit()
    data = conn.serialize()
    conn.close()
    return data


def all_cases() -> list[Case]:
    return [
        *rebalance_cases(),
        *data_cases(),
        *scenario_cases(),
        *account_cases(),
        *monthly_cases(),
    ]

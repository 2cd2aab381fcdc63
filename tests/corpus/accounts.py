"""Bad account files, holdings and options of ``propose``, ``whatif`` and ``stress``."""

from __future__ import annotations

from tests.corpus import BOUNDS, FIFO, FINITE, MONEY_OPTIONS, ROOT, Case, sparse

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
    ("spread_bps = 3", "spread_bps = 1e7", "rebalance.spread_bps", 3),
    ("min_trade = 500", "min_trade = 1e308", "rebalance.min_trade", 3),
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
    ("smith-family,LARGE,1e400,50.09,2012-02-29,L1", ("holdings.csv", "'1e400'", FINITE), 3),
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


def cases() -> list[Case]:
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

"""Bad price histories for ``capalloc data show`` (and the original data corpus,
``tests/bad_input/data/cases.toml``)."""

from __future__ import annotations

import tomllib

from tests.corpus import BAD, BOUNDS, FIFO, Case, sparse

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


def cases() -> list[Case]:
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

"""Bad scenario files for ``capalloc scenarios validate`` (and the original scenario
corpus, ``tests/bad_input/scenarios/files``)."""

from __future__ import annotations

from tests.corpus import BAD, FIFO, Case, Special

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


def cases() -> list[Case]:
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

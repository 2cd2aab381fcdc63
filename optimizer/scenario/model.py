"""The scenario file: a strict model with explicit units, loaded from TOML.

A scenario names shocks to factors over a horizon. Every number carries its unit in its key:
``return_pct`` (percent return), ``change_bp`` (basis points), ``change_pct`` (percent change
of a level), ``level`` (an index level, with a dated ``reference`` used when the data has no
level of that index). See docs/scenarios.md for the full reference.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field

from optimizer.config import StrictModel, read_toml, validate
from optimizer.errors import ScenarioError
from optimizer.factors import FactorKind, HistoryWindow, Regime
from optimizer.limits import MAX_PRICE

MAX_MOVE_PCT = 1000.0  # a stated return or level change: at most +1000 % (x11)
MAX_CHANGE_BP = 10_000.0  # a stated rate or spread change: at most 100 percentage points
Level = Annotated[float, Field(gt=0, le=MAX_PRICE)]

# canonical factors a scenario may shock, and how each is measured
FACTOR_KINDS: dict[str, FactorKind] = {
    "equity": FactorKind.RETURN,
    "size": FactorKind.RELATIVE_RETURN,
    "long_rate": FactorKind.RATE_CHANGE,
    "short_rate": FactorKind.RATE_CHANGE,
    "vol": FactorKind.LOG_CHANGE,
    "credit": FactorKind.RATE_CHANGE,
}


class IndexSpec(StrictModel):
    """An index a level target may name: the factor it moves and the series of its level."""

    factor: str
    tickers: tuple[str, ...]
    description: str


INDEXES: dict[str, IndexSpec] = {
    "SP500": IndexSpec(factor="equity", tickers=("^GSPC",), description="S&P 500 index"),
}


class HorizonUnit(StrEnum):
    """Unit of a horizon; days are trading days (252 a year)."""

    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"

    @property
    def years(self) -> float:
        return {"days": 1 / 252, "weeks": 1 / 52, "months": 1 / 12, "years": 1.0}[self.value]


class Horizon(StrictModel):
    """How long the scenario takes to play out, e.g. ``{ value = 3, unit = "months" }``."""

    value: float = Field(gt=0, le=600)
    unit: HorizonUnit

    @property
    def years(self) -> float:
        return self.value * self.unit.years

    def text(self) -> str:
        unit = self.unit.value[:-1] if self.value == 1 else self.unit.value
        return f"{self.value:g} {unit}"


class Reference(StrictModel):
    """A dated level of an index, with where it was reported."""

    level: float = Field(gt=0, le=MAX_PRICE)
    date: dt.date
    source: str = Field(min_length=1)


class Shock(StrictModel):
    """One stated move. Name a ``factor`` or an ``index``, and exactly one unit key."""

    factor: str | None = None
    index: str | None = None
    # bounds: a move a scenario can state (docs/limits.md), not just one a float can hold
    return_pct: float | None = Field(default=None, gt=-100, le=MAX_MOVE_PCT)
    change_bp: float | None = Field(default=None, ge=-MAX_CHANGE_BP, le=MAX_CHANGE_BP)
    change_pct: float | None = Field(default=None, gt=-100, le=MAX_MOVE_PCT)
    level: float | None = Field(default=None, gt=0, le=MAX_PRICE)
    reference: Reference | None = None
    intermediate: list[Level] = Field(default_factory=list)  # levels on the way, for the story
    note: str = ""

    def unit_keys(self) -> list[str]:
        units = ("return_pct", "change_bp", "change_pct", "level")
        return [u for u in units if getattr(self, u) is not None]


class CorrelationOverride(StrictModel):
    """Set the correlation of two factors (before conditioning on the shocks)."""

    factors: tuple[str, str]
    value: float = Field(ge=-1, le=1)


class PsdPolicy(StrEnum):
    """What to do when a stress leaves the factor covariance not positive semidefinite."""

    ERROR = "error"  # refuse, naming the key and value that broke it
    REPAIR = "repair"  # clip negative eigenvalues of the correlation matrix, and say so


class Stress(StrictModel):
    """Volatility and correlation stress applied to the factor covariance."""

    vol_multiplier: float = Field(default=1.0, gt=0, le=10)
    correlation_stress: float = Field(default=0.0, ge=0, le=1)
    correlations: list[CorrelationOverride] = Field(default_factory=list)
    psd: PsdPolicy = PsdPolicy.ERROR


class Replay(StrictModel):
    """Replay a historical window: its realised factor moves become the shocks."""

    start: dt.date
    end: dt.date
    factors: list[str] = Field(default_factory=lambda: ["equity", "long_rate"])

    @property
    def years(self) -> float:
        """The calendar window, both ends included (the move starts at the close before
        ``start`` and ends at the close of ``end``)."""
        return ((self.end - self.start).days + 1) / 365.25


class Scenario(StrictModel):
    """A scenario file (see docs/scenarios.md)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=100)  # also a file name
    title: str = Field(min_length=1)
    narrative: str = Field(min_length=1)
    horizon: Horizon | None = None
    probability: float | None = Field(default=None, ge=0, le=1)
    regime: Regime = Regime.CALM
    history: HistoryWindow | None = None
    shocks: list[Shock] = Field(default_factory=list)
    replay: Replay | None = None
    stress: Stress = Field(default_factory=Stress)
    sources: list[str] = Field(default_factory=list)

    @property
    def horizon_years(self) -> float:
        if self.horizon is not None:
            return self.horizon.years
        return self.replay.years if self.replay is not None else 0.25

    def horizon_text(self) -> str:
        if self.horizon is not None:
            return self.horizon.text()
        if self.replay is not None:
            return f"{self.replay.start}..{self.replay.end}"
        return "3 months"


def check(scenario: Scenario, file: str | None = None) -> Scenario:
    """Checks beyond types: known factors and indexes, one unit per shock, matching units."""
    seen: set[str] = set()
    for i, shock in enumerate(scenario.shocks):
        factor = _check_shock(shock, f"shocks[{i}]", file)
        if factor in seen:
            raise ScenarioError("factor shocked twice", file=file, key=f"shocks[{i}]", value=factor)
        seen.add(factor)
    if scenario.replay is not None:
        _check_replay(scenario, file)
    elif scenario.horizon is None:
        raise ScenarioError(
            "required key is missing",
            file=file,
            key="horizon",
            hint='e.g. horizon = { value = 3, unit = "months" }',
        )
    for j, over in enumerate(scenario.stress.correlations):
        for name in over.factors:
            _known_factor(name, f"stress.correlations[{j}].factors", file)
        if over.factors[0] == over.factors[1]:
            raise ScenarioError(
                "a factor's correlation with itself is 1",
                file=file,
                key=f"stress.correlations[{j}].factors",
                value=over.factors[0],
            )
    return scenario


def _check_replay(scenario: Scenario, file: str | None) -> None:
    replay = scenario.replay
    assert replay is not None
    if scenario.shocks:
        raise ScenarioError(
            "a replay takes its shocks from history; remove [[shocks]] or [replay]",
            file=file,
            key="replay",
        )
    if scenario.horizon is not None:
        raise ScenarioError(
            "a replay's horizon is its window; remove horizon or [replay]",
            file=file,
            key="horizon",
            value=scenario.horizon.text(),
        )
    if replay.end <= replay.start:
        raise ScenarioError(
            "replay window ends before it starts", file=file, key="replay.end", value=replay.end
        )
    if not replay.factors:
        raise ScenarioError(
            "a replay needs at least one factor", file=file, key="replay.factors", value="[]"
        )
    for name in replay.factors:
        _known_factor(name, "replay.factors", file)
        if replay.factors.count(name) > 1:
            raise ScenarioError("factor listed twice", file=file, key="replay.factors", value=name)


def _known_factor(name: str, key: str, file: str | None) -> FactorKind:
    if name not in FACTOR_KINDS:
        known = ", ".join(FACTOR_KINDS)
        raise ScenarioError(f"unknown factor; known: {known}", file=file, key=key, value=name)
    return FACTOR_KINDS[name]


def _check_path(shock: Shock, key: str, file: str | None) -> None:
    """Levels ``intermediate`` to a level shock lie on its way: strictly between the
    reference level (where one is given) and the target, in the order the index passes
    them. The latest close of a source that has the index is known only at run time."""
    if not shock.intermediate or shock.level is None:
        return
    path = [*([shock.reference.level] if shock.reference else []), *shock.intermediate]
    path.append(shock.level)
    falling = path[-1] < path[0]
    for level, nxt in itertools.pairwise(path):
        if (nxt >= level) if falling else (nxt <= level):
            way = "down" if falling else "up"
            start = f"reference {path[0]:,g}" if shock.reference else f"first level {path[0]:,g}"
            raise ScenarioError(
                f"intermediate levels must lie on the way {way} from the {start} to the "
                f"level {shock.level:,g}, in order",
                file=file,
                key=f"{key}.intermediate",
                value=", ".join(f"{x:g}" for x in shock.intermediate),
            )


def _check_shock(shock: Shock, key: str, file: str | None) -> str:
    if (shock.factor is None) == (shock.index is None):
        raise ScenarioError(
            "a shock names exactly one of factor or index",
            file=file,
            key=key,
            value=shock.factor or shock.index,
        )
    units = shock.unit_keys()
    target = shock.factor or shock.index
    if len(units) != 1:
        raise ScenarioError(
            f"shock states {len(units)} units; give exactly one of "
            "return_pct, change_bp, change_pct or level",
            file=file,
            key=f"{key}.{(shock.factor and 'factor') or 'index'}",
            value=target,
        )
    if shock.index is not None:
        if shock.index not in INDEXES:
            known = ", ".join(INDEXES)
            raise ScenarioError(
                f"unknown index; known: {known}", file=file, key=f"{key}.index", value=shock.index
            )
        factor = INDEXES[shock.index].factor
        for extra in ("reference", "intermediate"):
            if getattr(shock, extra) and units[0] != "level":
                raise ScenarioError(
                    f"{extra} goes with an index level shock (level = ...), not {units[0]}",
                    file=file,
                    key=f"{key}.{extra}",
                    value=shock.index,
                )
        if units[0] not in ("level", "return_pct"):
            raise ScenarioError(
                "an index moves by level or return_pct",
                file=file,
                key=f"{key}.{units[0]}",
                value=getattr(shock, units[0]),
            )
        _check_path(shock, key, file)
        return factor
    kind = _known_factor(shock.factor, f"{key}.factor", file)
    for extra in ("reference", "intermediate"):
        if getattr(shock, extra):  # levels of an index: a factor has none (it was ignored)
            raise ScenarioError(
                f"{extra} goes with an index level shock, not a factor",
                file=file,
                key=f"{key}.{extra}",
                value=shock.factor,
                hint='e.g. index = "SP500", level = 6200, reference = {...}',
            )
    if units[0] != kind.shock_unit:
        raise ScenarioError(
            f"wrong unit for factor {shock.factor!r} ({kind.unit}); use {kind.shock_unit}",
            file=file,
            key=f"{key}.{units[0]}",
            value=getattr(shock, units[0]),
        )
    return shock.factor


def shock_value(shock: Shock, kind: FactorKind) -> float | None:
    """The shock in factor units; ``None`` for a level target (needs a spot level)."""
    if shock.return_pct is not None:
        return shock.return_pct / 100.0
    if shock.change_bp is not None:
        return shock.change_bp / 10_000.0
    if shock.change_pct is not None:
        return math.log1p(shock.change_pct / 100.0)
    return None


def load_scenario(path: str | Path) -> Scenario:
    """Read, validate and check one scenario file; every problem is one ScenarioError line."""
    p = Path(path)
    data = read_toml(p, error=ScenarioError)  # type: ignore[arg-type]
    scenario = validate(Scenario, data, file=p, error=ScenarioError)  # type: ignore[arg-type]
    if scenario.id != p.stem:
        raise ScenarioError(
            f"id must match the file name {p.stem!r}", file=str(p), key="id", value=scenario.id
        )
    return check(scenario, str(p))

"""The ``[estimation]`` and ``[scenarios]`` sections of an account file."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from optimizer.config import StrictModel
from optimizer.estimate import CovMethod, EstimationWindow, MeanMethod, SampleSource
from optimizer.factors import FactorSpec, Frequency
from optimizer.scenario.model import FACTOR_KINDS, Horizon


class EstimationConfig(StrictModel):
    """``[estimation]``: how the factor model and the baseline estimates are built.

    ``frequency`` defaults to weekly for daily data and to the data's own otherwise;
    ``window_years`` (default: all the data) keeps the last that many years;
    ``horizon`` (default: the longest horizon of the scenarios used, or 3 months);
    ``factors`` replaces the default series of a factor (``[estimation.factors.size]``);
    ``mean`` / ``covariance`` name the baseline estimators used when no scenario is set;
    ``compounding`` makes their means geometric (PyPortfolioOpt's default), ``window`` reads
    the periods all assets share (``common``) or each series' own history (``full``);
    ``samples = "historical"`` hands CVaR the historical period returns instead of draws;
    ``risk_free_pct`` is an annual rate in percent, or ``risk_free_series`` names a rate
    series whose last value is used.
    """

    frequency: Frequency | None = None
    window_years: float | None = Field(default=None, gt=0, le=200)
    horizon: Horizon | None = None
    factors: dict[str, FactorSpec] = Field(default_factory=dict)
    mean: MeanMethod = MeanMethod.HISTORICAL
    covariance: CovMethod = CovMethod.LEDOIT_WOLF
    ema_span: int = Field(default=52, ge=2)
    compounding: bool = False
    window: EstimationWindow = EstimationWindow.COMMON
    samples: SampleSource = SampleSource.SCENARIOS
    risk_free_pct: float = Field(default=0.0, ge=-5, le=50)
    risk_free_series: str | None = None
    stressed_quantile: float = Field(default=0.15, gt=0, le=0.5)
    min_periods: int = Field(default=24, ge=5)

    @field_validator("factors")
    @classmethod
    def _known_factors(cls, value: dict[str, FactorSpec]) -> dict[str, FactorSpec]:
        for name, spec in value.items():
            if name not in FACTOR_KINDS:
                raise ValueError(f"unknown factor {name!r}; known: {', '.join(FACTOR_KINDS)}")
            if spec.kind is not FACTOR_KINDS[name]:
                raise ValueError(
                    f"factor {name!r} is measured as {FACTOR_KINDS[name].value}, "
                    f"not {spec.kind.value}"
                )
        return value

    @field_validator("window")
    @classmethod
    def _full_window_needs_pairwise(
        cls, value: EstimationWindow, info: ValidationInfo
    ) -> EstimationWindow:
        if value is EstimationWindow.FULL and info.data.get("covariance") is CovMethod.LEDOIT_WOLF:
            raise ValueError(
                "covariance 'ledoit_wolf' needs the common window; with window = 'full' "
                "set covariance = 'sample' or 'exp' (pairwise)"
            )
        return value


class ScenarioUse(StrictModel):
    """One entry of ``[scenarios] use``: a scenario id and, optionally, its probability."""

    id: str
    probability: float | None = Field(default=None, ge=0, le=1)


class ScenarioSetConfig(StrictModel):
    """``[scenarios]``: which scenarios, their probabilities, and the Monte Carlo draw.

    Probabilities come from ``use`` entries, else from the scenario files. Above 1 in total
    is an error; scenarios without one share what is left; if all state one and they sum
    below 1, the remainder goes to the baseline (no shock).
    """

    use: list[ScenarioUse] = Field(default_factory=list)
    dir: str | None = None
    n_samples: int = Field(default=10_000, ge=100, le=2_000_000)
    seed: int = Field(default=20_251_201, ge=0)

    @field_validator("use")
    @classmethod
    def _once_each(cls, use: list[ScenarioUse]) -> list[ScenarioUse]:
        seen: set[str] = set()
        for u in use:
            if u.id in seen:
                raise ValueError(f"scenario {u.id!r} is listed twice (one entry per scenario)")
            seen.add(u.id)
        return use

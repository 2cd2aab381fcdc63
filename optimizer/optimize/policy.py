"""Configuration of the optimizer: ``[universe]``, ``[objective]`` and ``[constraints]``.

Annualised quantities (``target_return``, ``target_volatility``, ``max_volatility``,
``tracking_error.max``) are converted to the estimate's horizon at solve time; CVaR and
scenario losses are horizon losses, like the scenarios themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from optimizer.config import SharedSections, StrictModel, validate
from optimizer.errors import ConfigError
from optimizer.tickers import CASH


class ObjectiveKind(StrEnum):
    """What the optimizer maximises or minimises."""

    MAX_SHARPE = "max_sharpe"
    UTILITY = "utility"
    MIN_VARIANCE = "min_variance"
    TARGET_RETURN = "target_return"
    TARGET_VOLATILITY = "target_volatility"
    MIN_CVAR = "min_cvar"
    ROBUST = "robust"
    MIN_REGRET = "min_regret"
    RISK_PARITY = "risk_parity"
    HRP = "hrp"


class CovarianceRepair(StrEnum):
    """What to do with a covariance that is not positive semidefinite."""

    REPAIR = "repair"  # nearest PSD by eigenvalue clipping, with a warning in the result
    REFUSE = "refuse"  # a DataError


def upper_tickers(v: Any) -> Any:
    """A table keyed by ticker with its tickers in capitals, as holdings and weights files
    read them (``[universe.assets.spy]`` is SPY); the same ticker twice is an error."""
    if not isinstance(v, dict):
        return v
    out: dict[Any, Any] = {}
    for key, value in v.items():
        name = key.upper() if isinstance(key, str) else key
        if name in out:
            raise ValueError(f"ticker {name} is listed twice (as {key!r} too)")
        out[name] = value
    return out


class AssetConfig(StrictModel):
    """One ticker of the universe: its tags and weight bounds."""

    tags: list[str] = Field(default_factory=list)
    min: float = Field(0.0, ge=-1.0, le=1.0)
    max: float = Field(1.0, ge=-1.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> AssetConfig:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class UniverseConfig(StrictModel):
    """``[universe]``: ``[universe.assets.SPY] tags = ["equity", "large_cap"]  max = 0.6``."""

    assets: Annotated[dict[str, AssetConfig], BeforeValidator(upper_tickers)] = Field(min_length=1)

    @field_validator("assets")
    @classmethod
    def _one_cash(cls, assets: dict[str, AssetConfig]) -> dict[str, AssetConfig]:
        """One ticker stands for the account's cash balance (CASH, or the one tagged
        ``cash``): two would each be shown holding the whole balance."""
        cash = [t for t, a in assets.items() if t == CASH or "cash" in a.tags]
        if len(cash) > 1:
            raise ValueError(
                f"{' and '.join(cash)} both stand for the account's cash (CASH or the tag "
                "'cash'); keep one, and hold a money-market fund as a priced asset without "
                "the cash tag"
            )
        if cash and len(assets) == 1:
            raise ValueError(
                f"{cash[0]} is the only asset: a universe needs one asset besides the "
                "account's cash to allocate"
            )
        return assets


class ObjectiveConfig(StrictModel):
    """``[objective]``: the kind and the numbers it needs."""

    kind: ObjectiveKind = ObjectiveKind.MAX_SHARPE
    risk_aversion: float = Field(1.0, gt=0)
    # annualised fractions: 0.08 is 8 % (a value like 8 or 12 is refused, not read as 800 %)
    target_return: float | None = Field(None, ge=-1.0, le=2.0)  # annualised
    target_volatility: float | None = Field(None, gt=0, le=2.0)  # annualised
    cvar_level: float = Field(0.95, gt=0, lt=1)
    scenarios: list[str] = Field(default_factory=list)  # robust / regret: empty = all

    @model_validator(mode="after")
    def _needs(self) -> ObjectiveConfig:
        need = {
            ObjectiveKind.TARGET_RETURN: "target_return",
            ObjectiveKind.TARGET_VOLATILITY: "target_volatility",
        }.get(self.kind)
        if need and getattr(self, need) is None:
            raise ValueError(f"objective kind {self.kind.value!r} needs {need}")
        return self


class TrackingErrorConfig(StrictModel):
    """``tracking_error = {benchmark = {SPY = 0.6, BND = 0.4}, max = 0.03}``."""

    benchmark: Annotated[dict[str, float], BeforeValidator(upper_tickers)] = Field(min_length=1)
    max: float = Field(gt=0)  # annualised

    @field_validator("benchmark")
    @classmethod
    def _sums_to_one(cls, v: dict[str, float]) -> dict[str, float]:
        if not math.isclose(sum(v.values()), 1.0, abs_tol=1e-6):
            raise ValueError(f"benchmark weights sum to {sum(v.values()):.6g}, not 1")
        return v


class ConstraintsConfig(StrictModel):
    """``[constraints]``: limits that hold whatever the objective."""

    groups: list[str] = Field(default_factory=list)  # "small_cap <= 0.4 * equity"
    turnover: float | None = Field(None, gt=0)  # sum |w - w0| cap
    costs_bps: float = Field(
        0.0, ge=0, le=10_000
    )  # proportional cost per unit traded, basis points
    tracking_error: TrackingErrorConfig | None = None
    max_volatility: float | None = Field(None, gt=0, le=2.0)  # annualised
    max_cvar: float | None = Field(None, gt=0)  # horizon loss
    cvar_level: float = Field(0.95, gt=0, lt=1)
    scenario_loss: list[str] = Field(default_factory=list)  # "tariff-shock loss <= 12%"
    covariance: CovarianceRepair = CovarianceRepair.REPAIR


@dataclass(frozen=True)
class Policy:
    """Limits and goals from configuration, fixed for every account that shares them."""

    universe: UniverseConfig
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    constraints: ConstraintsConfig = field(default_factory=ConstraintsConfig)

    @classmethod
    def from_config(
        cls,
        data: dict[str, Any],
        *,
        file: str | Path | None = None,
        shared: SharedSections | None = None,
    ) -> Policy:
        """Validate the ``universe``, ``objective`` and ``constraints`` sections of a TOML
        (``shared``: see :func:`optimizer.config.validate`)."""
        if "universe" not in data:
            raise ConfigError("required section is missing", file=_s(file), key="universe")
        parts = (
            (UniverseConfig, "universe", data["universe"]),
            (ObjectiveConfig, "objective", data.get("objective", {})),
            (ConstraintsConfig, "constraints", data.get("constraints", {})),
        )
        universe, objective, constraints = (
            validate(model, raw, file=file, prefix=name, shared=shared)
            for model, name, raw in parts
        )
        return cls(universe=universe, objective=objective, constraints=constraints)

    @classmethod
    def simple(
        cls,
        tickers: list[str] | tuple[str, ...],
        *,
        objective: dict[str, Any] | None = None,
        constraints: dict[str, Any] | None = None,
        assets: dict[str, dict[str, Any]] | None = None,
    ) -> Policy:
        """A policy from plain dicts: every ticker in ``[0, 1]`` unless ``assets`` says."""
        assets = assets or {}
        data = {
            "universe": {"assets": {t: assets.get(t, {}) for t in tickers}},
            "objective": objective or {},
            "constraints": constraints or {},
        }
        return cls.from_config(data)


def _s(file: str | Path | None) -> str | None:
    return None if file is None else str(file)

"""Scenario model, loading, shocks → factor moves → conditional moments, mixtures.

The implementation lives in the :mod:`optimizer.scenario` package; this module is the
public entry point.
"""

from optimizer.scenario.build import build_estimate, last_prices
from optimizer.scenario.config import EstimationConfig, ScenarioSetConfig, ScenarioUse
from optimizer.scenario.engine import BASELINE, IndexLevel, MarketHistory, ScenarioEngine
from optimizer.scenario.history import load_history
from optimizer.scenario.library import ScenarioLibrary, builtin_dir
from optimizer.scenario.model import (
    FACTOR_KINDS,
    INDEXES,
    Horizon,
    HorizonUnit,
    PsdPolicy,
    Reference,
    Replay,
    Scenario,
    Shock,
    Stress,
    check,
    load_scenario,
)
from optimizer.scenario.propagate import (
    asset_moments,
    conditional_gaussian,
    is_psd,
    mixture_moments,
    mixture_weights,
    plausibility,
    sample_mixture,
    stress_covariance,
)

__all__ = [
    "BASELINE",
    "FACTOR_KINDS",
    "INDEXES",
    "EstimationConfig",
    "Horizon",
    "HorizonUnit",
    "IndexLevel",
    "MarketHistory",
    "PsdPolicy",
    "Reference",
    "Replay",
    "Scenario",
    "ScenarioEngine",
    "ScenarioLibrary",
    "ScenarioSetConfig",
    "ScenarioUse",
    "Shock",
    "Stress",
    "asset_moments",
    "build_estimate",
    "builtin_dir",
    "check",
    "conditional_gaussian",
    "is_psd",
    "last_prices",
    "load_history",
    "load_scenario",
    "mixture_moments",
    "mixture_weights",
    "plausibility",
    "sample_mixture",
    "stress_covariance",
]

"""Views with confidence: entropy pooling on the scenario matrix, and Black-Litterman.

``apply_views(estimate, views_config)`` is what the pipeline calls after the scenario
mixture; ``pool_views`` and ``entropy_pooling`` are the Python API on a bare matrix.
"""

from optimizer.views.apply import apply_views, pool_views
from optimizer.views.black_litterman import black_litterman, idzorek_omega, picking
from optimizer.views.model import Op, ViewConfig, ViewKind, ViewMethod, ViewsConfig
from optimizer.views.pooling import (
    LinearViews,
    effective_scenarios,
    entropy_pooling,
    find_conflict,
    relative_entropy,
)
from optimizer.views.report import ViewOutcome, ViewsReport

__all__ = [
    "LinearViews",
    "Op",
    "ViewConfig",
    "ViewKind",
    "ViewMethod",
    "ViewOutcome",
    "ViewsConfig",
    "ViewsReport",
    "apply_views",
    "black_litterman",
    "effective_scenarios",
    "entropy_pooling",
    "find_conflict",
    "idzorek_omega",
    "picking",
    "pool_views",
    "relative_entropy",
]

"""Views with confidence: entropy pooling on the scenario matrix, and Black-Litterman.

``apply_views(estimate, views_config)`` is what the pipeline calls after the scenario
mixture; ``pool_views`` and ``entropy_pooling`` are the Python API on a bare matrix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from optimizer.lazy import lazy_names

if TYPE_CHECKING:
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

# imported on first use: reading an account's [views] section does not pay for scipy
_WHERE = {
    "apply_views": "apply", "pool_views": "apply", "black_litterman": "black_litterman",
    "idzorek_omega": "black_litterman", "picking": "black_litterman", "Op": "model",
    "ViewConfig": "model", "ViewKind": "model", "ViewMethod": "model", "ViewsConfig": "model",
    "LinearViews": "pooling", "effective_scenarios": "pooling", "entropy_pooling": "pooling",
    "find_conflict": "pooling", "relative_entropy": "pooling", "ViewOutcome": "report",
    "ViewsReport": "report",
}  # fmt: skip

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


__getattr__, __dir__ = lazy_names(__name__, _WHERE)

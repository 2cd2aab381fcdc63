"""The constraint-based optimizer: policy in, allocation out.

Python API::

    built = Optimizer(policy).build(Shape.of(estimate))   # compile once
    allocation = built.solve(Inputs(estimate, current))   # per account: only the solve
    allocation = optimize(estimate, policy, current)      # one call
    curve = frontier(estimate, policy, n_points=20)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optimizer.estimate import Estimate
    from optimizer.optimize.policy import Policy
    from optimizer.optimize.result import Allocation

__all__ = ["Inputs", "Optimizer", "Policy", "Shape", "frontier", "optimize"]


def optimize(
    estimate: Estimate, policy: Policy, current: Mapping[str, float] | None = None
) -> Allocation:
    """Build the policy's problem for ``estimate`` and solve it once."""
    from optimizer.optimize.core import Optimizer
    from optimizer.optimize.inputs import Inputs

    return Optimizer(policy).build(estimate).solve(Inputs(estimate, current))


def __getattr__(name: str) -> object:
    import importlib

    where = {
        "Optimizer": "optimizer.optimize.core",
        "Shape": "optimizer.optimize.core",
        "Inputs": "optimizer.optimize.inputs",
        "Policy": "optimizer.optimize.policy",
        "frontier": "optimizer.optimize.efficient",
    }
    if name in where:
        return getattr(importlib.import_module(where[name]), name)
    raise AttributeError(name)

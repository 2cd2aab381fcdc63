"""The constraint-based optimizer: policy in, allocation out.

Python API::

    built = Optimizer(policy).build(Shape.of(estimate))   # compile once
    allocation = built.solve(Inputs(estimate, current))   # per account: only the solve
    allocation = optimize(estimate, policy, current)      # one call
    curve = frontier(estimate, policy, n_points=20)
"""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optimizer.estimate import Estimate
    from optimizer.optimize.policy import Policy
    from optimizer.optimize.result import Allocation

__all__ = ["Inputs", "Optimizer", "Policy", "Shape", "frontier", "optimize"]


_POLICY_SECTIONS = ("universe", "objective", "constraints")


def optimize(
    estimate: Estimate,
    policy: Policy | Mapping[str, Any],
    current: Mapping[str, float] | None = None,
) -> Allocation:
    """Build the policy's problem for ``estimate`` and solve it once.

    ``policy`` is a :class:`Policy` or the ``universe`` / ``objective`` / ``constraints``
    tables as in an account file (without ``universe``: every ticker of the estimate,
    untagged, in [0, 1]). ``current`` weights (ticker -> weight, or a Series) anchor
    turnover and costs. The package itself is callable: ``optimizer.optimize(estimate,
    policy)``.
    """
    from optimizer.optimize.core import Optimizer
    from optimizer.optimize.inputs import Inputs
    from optimizer.optimize.policy import Policy

    if not isinstance(policy, Policy):
        table = dict(policy)
        unknown = sorted(str(k) for k in table if k not in _POLICY_SECTIONS)
        if unknown:  # (a typo such as "constrains" would drop every constraint)
            from optimizer.errors import ConfigError

            known = ", ".join(_POLICY_SECTIONS)
            raise ConfigError(f"unknown policy section; known: {known}", key=unknown[0])
        table.setdefault("universe", {"assets": {t: {} for t in estimate.tickers}})
        policy = Policy.from_config(table)
    current = None if current is None else {str(t): float(w) for t, w in current.items()}
    return Optimizer(policy).build(estimate).solve(Inputs(estimate, current))


class _CallableModule(types.ModuleType):
    """``optimizer.optimize`` is a package and, called, :func:`optimize`."""

    def __call__(
        self,
        estimate: Estimate,
        policy: Policy | Mapping[str, Any],
        current: Mapping[str, float] | None = None,
    ) -> Allocation:
        return optimize(estimate, policy, current)


sys.modules[__name__].__class__ = _CallableModule


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

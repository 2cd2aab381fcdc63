"""capalloc: scenario-driven portfolio allocation (import package ``optimizer``).

The Python API, one call per pipeline stage, pandas in and out (docs/api.md)::

    import optimizer
    px = optimizer.prices("sample", ["LARGE", "SMALL", "BOND"])           # DataFrame
    est = optimizer.Estimate.from_prices(px, mean="historical", cov="sample")
    est = optimizer.scenario_estimate("sample", ["LARGE", "SMALL", "BOND"], ["fed-easing"])
    alloc = optimizer.optimize(est, {"objective": {"kind": "max_sharpe"}})
    alloc.weights_series                                                  # Series
    plan = optimizer.plan_trades("holdings.csv", alloc, px)               # TradePlan
    plan.to_frame()                                                       # DataFrame

Names are imported on first use, so ``import optimizer`` (and ``capalloc --help``) stays
fast (not even ``typing`` is imported here).
"""

__version__ = "0.1.0"

# public name -> module that defines it (imported on first attribute access)
_PUBLIC: dict[str, str] = {
    "prices": "optimizer.api",
    "scenario_estimate": "optimizer.api",
    "scenario_table": "optimizer.api",
    "plan_trades": "optimizer.api",
    "Estimate": "optimizer.estimate",
    "Policy": "optimizer.optimize.policy",
    "Allocation": "optimizer.optimize.result",
    "RebalanceRules": "optimizer.rebalance.rules",
    "TradePlan": "optimizer.rebalance.result",
    "Provenance": "optimizer.data.base",
    "CapallocError": "optimizer.errors",
    "propose": "optimizer.workflows",
    "whatif": "optimizer.workflows",
}

__all__ = ["__version__", "optimize", *_PUBLIC]


def __getattr__(name: str) -> object:
    """``optimizer.optimize`` is the optimizer package, callable as
    ``optimizer.optimize(estimate, policy)``; the other public names come from ``_PUBLIC``."""
    import importlib

    if name == "optimize":
        return importlib.import_module("optimizer.optimize")
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'optimizer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

"""The shared pieces every objective and constraint builds on.

``Frame`` holds the decision variables and the data Parameters of one problem. For max
Sharpe the problem is homogeneous (Charnes-Cooper): the variables are ``y = k w`` with a
scale ``k >= 0``, and every constraint is written in ``(y, k)``; for the other objectives
``k`` is the constant 1. ``Numbers`` are one run's data, aligned to the universe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import cvxpy as cp
import numpy as np

if TYPE_CHECKING:
    from optimizer.optimize.taxterm import TaxLots


@dataclass(frozen=True)
class Numbers:
    """One run's data in the universe's ticker order (horizon units).

    mu: (n_assets,); Lt: (n_assets, n_assets) with ``Lt.T @ Lt == Sigma``; samples:
    (n_samples, n_assets) or None; probabilities: (n_samples,) of the samples (None: equal,
    1 / n_samples each; views tilt them); scenario_mu: scenario id -> (n_assets,); w0: (n_assets,).
    """

    mu: np.ndarray
    Sigma: np.ndarray
    Lt: np.ndarray
    risk_free: float
    horizon_years: float
    w0: np.ndarray
    samples: np.ndarray | None = None
    scenario_mu: dict[str, np.ndarray] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    has_current: bool = True  # False: no current weights were given (w0 is all zeros)
    probabilities: np.ndarray | None = None
    tax: TaxLots | None = None  # the account's tax lots (a tax-aware problem)


class Role(StrEnum):
    """What a constraint is for: diagnosis relaxes POLICY rows, keeps STRUCTURE, drops
    OBJECTIVE rows (epigraph and normalisation rows of the objective)."""

    POLICY = "policy"
    STRUCTURE = "structure"
    OBJECTIVE = "objective"


@dataclass(frozen=True)
class Named:
    """A cvxpy constraint with the label(s) it is reported under.

    ``labels`` has one entry per row of a vector constraint, or a single label.
    """

    labels: tuple[str, ...]
    constraint: cp.Constraint
    role: Role = Role.POLICY


class Frame:
    """Variables ``w`` (n_assets,) and ``k`` (scale), and named data Parameters."""

    def __init__(self, n_assets: int, *, homogeneous: bool, tax_lots: int = 0) -> None:
        self.n = n_assets
        self.w = cp.Variable(n_assets, name="w")
        self.homogeneous = homogeneous
        self.k: cp.Variable | float = cp.Variable(name="k") if homogeneous else 1.0
        self._params: dict[str, cp.Parameter] = {}
        self.values: dict[str, np.ndarray] = {}  # Parameter name -> value of this run
        self._trade: cp.Variable | None = None
        self.extra: list[Named] = []  # constraints that support shared helper variables
        self.solution: tuple[np.ndarray, float] | None = None  # (w or y, k) of the last solve
        self.tax_lots = tax_lots  # L: lots per ticker of the tax term (0: tax-blind)
        self.sales: cp.Variable | None = None  # (n_assets, L) weight sold per lot
        self.sales_solution: np.ndarray | None = None  # its value (times k) at the last solve

    # -- parameters -------------------------------------------------------------------
    def param(self, name: str, shape: tuple[int, ...] = (), **attrs: Any) -> cp.Parameter:
        """The Parameter ``name``, created on first use."""
        if name not in self._params:
            self._params[name] = cp.Parameter(shape, name=name, **attrs)
        return self._params[name]

    def set(self, name: str, value: Any) -> None:
        """Record a Parameter's value; the compiled fast path reads it from here."""
        if name in self._params:
            self.values[name] = np.asarray(value, dtype=float)

    def push(self) -> None:
        """Hand the recorded values to the cvxpy Parameters (for solves through cvxpy)."""
        for name, value in self.values.items():
            self._params[name].value = value

    def parameters(self) -> dict[str, cp.Parameter]:
        return dict(self._params)

    # -- shared expressions -------------------------------------------------------------
    def risk(self) -> cp.Expression:
        """``Lt @ w``: its squared norm is the horizon variance (times ``k**2``)."""
        return self.param("Lt", (self.n, self.n)) @ self.w

    def mu(self) -> cp.Parameter:
        return self.param("mu", (self.n,))

    def trade(self) -> cp.Variable:
        """``t >= |w - k w0|`` elementwise, shape (n_assets,), for turnover and costs."""
        if self._trade is None:
            self._trade = cp.Variable(self.n, name="trade")
            w0 = self.param("w0", (self.n,))
            z = self.w - self.k * w0
            self.extra.append(Named(("trade+",), self._trade >= z, Role.STRUCTURE))
            self.extra.append(Named(("trade-",), self._trade >= -z, Role.STRUCTURE))
        return self._trade

    def bind(self, x: Numbers) -> None:
        """Set the shared Parameters from one run's numbers."""
        self.set("mu", x.mu)
        self.set("Lt", x.Lt)
        self.set("w0", x.w0)
        if x.samples is not None:
            self.set("R", x.samples)
            n = len(x.samples)
            p = np.full(n, 1.0 / n) if x.probabilities is None else x.probabilities
            self.set("R_prob", p)
        for sid, m in x.scenario_mu.items():
            self.set(f"scenario:{sid}", m)
        if x.tax is not None:
            self.set("lot_weight", x.tax.weight)

    def weights(self) -> np.ndarray:
        """The solved weights (undoing the Charnes-Cooper scale), shape (n_assets,)."""
        assert self.solution is not None, "solve first"
        w, k = self.solution
        return w / k if self.homogeneous else w

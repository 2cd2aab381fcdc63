"""The ``[views]`` section: an analyst's views, each with a confidence.

```toml
[views]
method = "entropy_pooling"       # or "black_litterman" (return views only)

[[views.view]]
kind = "return"                  # return | level | relative | probability | volatility
series = "SMALL"                 # | correlation
op = ">="                        # "==", ">=" or "<="
value = 0.03                     # a horizon return of +3 %
confidence = 0.6                 # 0: ignore the view, 1: impose it
```

Returns, levels and probabilities are over the span of one sample (the scenario horizon
for Monte Carlo draws, one period for historical samples); volatilities are annual, like
every volatility in the account file, and converted to that span.
"""

from __future__ import annotations

import math
from enum import StrEnum

import numpy as np
from pydantic import Field, model_validator

from optimizer.config import StrictModel


class ViewKind(StrEnum):
    RETURN = "return"  # mean return of ``series``
    LEVEL = "level"  # the level ``series`` reaches from ``spot``: a return of value/spot - 1
    RELATIVE = "relative"  # mean return of ``series`` minus that of ``versus``
    PROBABILITY = "probability"  # P(return of ``series`` < below) or P(... > above)
    VOLATILITY = "volatility"  # annual volatility of ``series``
    CORRELATION = "correlation"  # correlation of ``series`` with ``versus``


class Op(StrEnum):
    EQ = "=="
    GE = ">="
    LE = "<="


class ViewMethod(StrEnum):
    ENTROPY_POOLING = "entropy_pooling"  # tilt the scenario probabilities (every objective)
    BLACK_LITTERMAN = "black_litterman"  # move mu and Sigma (return views, "==" only)


_NEEDS_VERSUS = (ViewKind.RELATIVE, ViewKind.CORRELATION)


class ViewConfig(StrictModel):
    """One ``[[views.view]]`` entry."""

    kind: ViewKind
    series: str = Field(min_length=1)
    versus: str | None = None  # the second series of relative and correlation views
    op: Op = Op.EQ
    value: float
    confidence: float = Field(default=1.0, ge=0, le=1)
    spot: float | None = Field(default=None, gt=0)  # level views: the level today
    below: float | None = None  # probability views: the event "return < below"
    above: float | None = None  # probability views: the event "return > above"
    label: str = ""  # how reports name the view (default: built from the fields)
    source: str = ""  # where the view comes from, e.g. "AInvest, 2025-12-15"

    @model_validator(mode="after")
    def _fields_of_kind(self) -> ViewConfig:
        k = self.kind
        if (k in _NEEDS_VERSUS) != (self.versus is not None):
            need = "needs" if k in _NEEDS_VERSUS else "takes no"
            raise ValueError(f"a {k.value} view {need} 'versus'")
        if (k is ViewKind.LEVEL) != (self.spot is not None):
            need = "needs" if k is ViewKind.LEVEL else "takes no"
            raise ValueError(f"a {k.value} view {need} 'spot' (the level today)")
        events = (self.below is not None) + (self.above is not None)
        if k is ViewKind.PROBABILITY and events != 1:
            raise ValueError("a probability view needs exactly one of 'below' or 'above'")
        if k is not ViewKind.PROBABILITY and events:
            raise ValueError(f"a {k.value} view takes no 'below' or 'above'")
        if k is ViewKind.PROBABILITY and not 0 <= self.value <= 1:
            raise ValueError("a probability view's value must be in [0, 1]")
        if k is ViewKind.VOLATILITY and self.value <= 0:
            raise ValueError("a volatility view's value must be above 0")
        if k is ViewKind.CORRELATION and not -1 <= self.value <= 1:
            raise ValueError("a correlation view's value must be in [-1, 1]")
        if k is ViewKind.LEVEL and self.value <= 0:
            raise ValueError("a level view's value must be above 0")
        if self.versus is not None and self.versus == self.series:
            raise ValueError("'versus' must name another series")
        return self

    def name(self) -> str:
        """How the view is named in reports and messages."""
        if self.label:
            return self.label
        s, v, op = self.series, self.value, self.op.value
        match self.kind:
            case ViewKind.RETURN:
                return f"{s} return {op} {v:+.2%}"
            case ViewKind.LEVEL:
                return f"{s} level {op} {v:g} (from {self.spot:g})"
            case ViewKind.RELATIVE:
                return f"{s} minus {self.versus} return {op} {v:+.2%}"
            case ViewKind.VOLATILITY:
                return f"{s} volatility {op} {v:.2%}"
            case ViewKind.CORRELATION:
                return f"correlation {s}/{self.versus} {op} {v:.2f}"
        event = f"< {self.below:+.1%}" if self.below is not None else f"> {self.above:+.1%}"
        return f"P({s} return {event}) {op} {v:.0%}"

    def series_used(self) -> tuple[str, ...]:
        return (self.series,) if self.versus is None else (self.series, self.versus)

    def target(self, span_years: float) -> float:
        """The value the statistic of :func:`statistic` is held to: a return for level
        views, the volatility over one sample's span for volatility views."""
        if self.kind is ViewKind.LEVEL:
            return self.value / float(self.spot) - 1.0
        if self.kind is ViewKind.VOLATILITY:
            return self.value * math.sqrt(span_years)
        return self.value


class ViewsConfig(StrictModel):
    """``[views]``: the views and how they enter the estimate."""

    method: ViewMethod = ViewMethod.ENTROPY_POOLING
    tau: float = Field(default=0.05, gt=0, le=1)  # Black-Litterman: uncertainty of the prior
    view: list[ViewConfig] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _black_litterman_views(self) -> ViewsConfig:
        if self.method is ViewMethod.BLACK_LITTERMAN:
            for v in self.view:
                if v.kind not in (ViewKind.RETURN, ViewKind.LEVEL, ViewKind.RELATIVE):
                    raise ValueError(
                        f"Black-Litterman takes return, level and relative views, not "
                        f"{v.kind.value} ({v.name()}); use method = 'entropy_pooling'"
                    )
                if v.op is not Op.EQ or v.confidence <= 0:
                    raise ValueError(
                        f"Black-Litterman views are equalities with a confidence above 0 "
                        f"({v.name()})"
                    )
        return self


def statistic(view: ViewConfig, X: np.ndarray, col: dict[str, int], p: np.ndarray) -> float:
    """The view's statistic under probabilities ``p`` (S,) of the samples ``X`` (S, n):
    a mean return, a probability, a volatility (over one sample's span) or a correlation."""
    x = X[:, col[view.series]]
    k = view.kind
    if k in (ViewKind.RETURN, ViewKind.LEVEL):
        return float(p @ x)
    if k is ViewKind.RELATIVE:
        return float(p @ (x - X[:, col[str(view.versus)]]))
    if k is ViewKind.PROBABILITY:
        return float(p @ _event(view, x))
    m = p @ x
    sd = math.sqrt(max(float(p @ (x - m) ** 2), 0.0))
    if k is ViewKind.VOLATILITY:
        return sd
    y = X[:, col[str(view.versus)]]
    n = p @ y
    sd_y = math.sqrt(max(float(p @ (y - n) ** 2), 0.0))
    return float(p @ ((x - m) * (y - n))) / max(sd * sd_y, 1e-300)


def _event(view: ViewConfig, x: np.ndarray) -> np.ndarray:
    if view.below is not None:
        return (x < view.below).astype(float)
    return (x > float(view.above)).astype(float)


def view_row(
    view: ViewConfig,
    X: np.ndarray,
    col: dict[str, int],
    span_years: float,
    m: np.ndarray,
    sd: np.ndarray,
) -> tuple[np.ndarray, float]:
    """The view as one linear row on the probabilities: ``row @ p (op) rhs``.

    Volatility and correlation views are second moments about the means ``m`` (n,) and,
    for correlations, with the volatilities ``sd`` (n,) held fixed (Meucci's
    linearisation); :mod:`optimizer.views.apply` iterates them to the posterior's own.
    """
    i = col[view.series]
    x = X[:, i]
    k, t = view.kind, view.target(span_years)
    if k in (ViewKind.RETURN, ViewKind.LEVEL):
        return x, t
    if k is ViewKind.RELATIVE:
        return x - X[:, col[str(view.versus)]], t
    if k is ViewKind.PROBABILITY:
        return _event(view, x), t
    if k is ViewKind.VOLATILITY:
        return (x - m[i]) ** 2, t * t
    j = col[str(view.versus)]
    return (x - m[i]) * (X[:, j] - m[j]), t * sd[i] * sd[j]

"""Views applied to a scenario matrix (entropy pooling with confidences) and to an Estimate.

Confidences pool opinions (Meucci): with the distinct confidences ``c_1 > ... > c_K`` of
the views, ``p_j`` is the entropy-pooling posterior of the views held with confidence
``>= c_j`` and the posterior is

    p = (1 - c_1) q + sum_j (c_j - c_{j+1}) p_j,     c_{K+1} = 0.

Every view thus enters with total weight equal to its own confidence; one confidence ``c``
for all views gives ``p = (1 - c) q + c p*``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from optimizer.errors import ConfigError
from optimizer.views.model import Op, ViewConfig, ViewKind, ViewsConfig, statistic, view_row
from optimizer.views.pooling import (
    TOL,
    LinearViews,
    effective_scenarios,
    entropy_pooling,
    find_conflict,
    relative_entropy,
)
from optimizer.views.report import ViewOutcome, ViewsReport, sample_span_years

if TYPE_CHECKING:
    from optimizer.estimate import Estimate

_SECOND_MOMENT = (ViewKind.VOLATILITY, ViewKind.CORRELATION)
_FIRST_TRY = 150  # dual iterations before a linear program checks the views are feasible


def pool_views(
    X: np.ndarray,
    q: np.ndarray,
    views: Sequence[ViewConfig],
    tickers: Sequence[str],
    span_years: float,
) -> tuple[np.ndarray, tuple[ViewOutcome, ...], tuple[str, ...]]:
    """Posterior probabilities (S,) of the rows of ``X`` (S, n_assets) under ``views``.

    q: prior probabilities (S,); span_years: what one row spans (for volatility views).
    Returns the probabilities, each view's outcome and warnings. A view outside what the
    scenarios allow, or views that contradict each other, raise ConfigError naming them.
    """
    X, q = np.asarray(X, dtype=float), np.asarray(q, dtype=float)
    col = {str(t): i for i, t in enumerate(tickers)}
    _check_series(views, col)
    levels = sorted({v.confidence for v in views if v.confidence > 0}, reverse=True)
    p = q.copy() * (1.0 - (levels[0] if levels else 0.0))
    full = q
    notes: list[str] = []
    for j, c in enumerate(levels):
        chosen = [k for k, v in enumerate(views) if v.confidence >= c]
        p_j, note = solve_views(X, q, [views[k] for k in chosen], chosen, col, span_years)
        notes += note
        p = p + (c - (levels[j + 1] if j + 1 < len(levels) else 0.0)) * p_j
        if len(chosen) == len([v for v in views if v.confidence > 0]):
            full = p_j
    if levels:  # with none, the prior exactly
        p = p / p.sum()
    outcomes = tuple(
        ViewOutcome(
            name=v.name(),
            kind=v.kind.value,
            op=v.op.value,
            target=v.target(span_years),
            confidence=v.confidence,
            prior=statistic(v, X, col, q),
            posterior=statistic(v, X, col, p),
            imposed=statistic(v, X, col, full),
            source=v.source,
        )
        for v in views
    )
    return p, outcomes, tuple(notes)


def solve_views(
    X: np.ndarray,
    q: np.ndarray,
    views: Sequence[ViewConfig],
    index: Sequence[int],
    col: dict[str, int],
    span_years: float,
) -> tuple[np.ndarray, list[str]]:
    """The confidence-1 entropy-pooling posterior of ``views`` (numbered ``index`` in the
    file). Second-moment views are linearised about the posterior's own means and
    volatilities, found by fixed-point iteration (at most 25 solves); a volatility view
    holds its series' mean, and a correlation view both series' means and volatilities,
    when no other view is on that series (as Meucci and skfolio do), so one solve usually
    suffices."""
    m, sd = _moments(X, q)
    has_second = any(v.kind in _SECOND_MOMENT for v in views)
    start = None
    for _ in range(25 if has_second else 1):
        lin = _linear(views, index, X, col, span_years, m, sd)
        pooled = entropy_pooling(q, lin, maxiter=_FIRST_TRY, x0=start)
        if not pooled.converged:
            _raise_conflict(lin, views, index, X, col, span_years, m, sd)
            pooled = entropy_pooling(q, lin, x0=pooled.multipliers)
        start = pooled.multipliers
        m_new, sd_new = _moments(X, pooled.p)
        step = max(np.abs(m_new - m).max(), np.abs(sd_new - sd).max())
        m, sd = m_new, sd_new
        if step < 1e-10:
            break
    _check_second_moments(views, index, X, col, span_years, pooled.p)
    notes = []
    if pooled.max_violation > TOL:
        worst = lin.names()[int(np.argmax(lin.violations(pooled.p)))]
        notes.append(
            f"view {worst!r} holds only to {pooled.max_violation:.1e}: it sits at the edge "
            "of what the scenarios allow"
        )
    return pooled.p, notes


def _check_second_moments(
    views: Sequence[ViewConfig],
    index: Sequence[int],
    X: np.ndarray,
    col: dict[str, int],
    span_years: float,
    p: np.ndarray,
) -> None:
    """ConfigError for a volatility or correlation view the iteration could not meet."""
    for k, v in zip(index, views, strict=True):
        if v.kind not in _SECOND_MOMENT:
            continue
        got, want = statistic(v, X, col, p), v.target(span_years)
        miss = {Op.EQ: abs(got - want), Op.GE: want - got, Op.LE: got - want}[v.op]
        if miss > 1e-6:
            raise ConfigError(
                f"view {v.name()!r} could not be met by tilting the scenario probabilities: "
                f"it reaches {got:.4g} against {want:.4g}",
                key=f"views.view[{k}].value",
                value=v.value,
                hint="ask for less, or add scenarios that reach it",
            )


def _linear(
    views: Sequence[ViewConfig],
    index: Sequence[int],
    X: np.ndarray,
    col: dict[str, int],
    span_years: float,
    m: np.ndarray,
    sd: np.ndarray,
) -> LinearViews:
    """Rows ``A p == b`` for "==" views and ``G p <= h`` for the others (">=" negated)."""
    eq: list[tuple[np.ndarray, float, str]] = []
    ineq: list[tuple[np.ndarray, float, str]] = []
    for k, v in zip(index, views, strict=True):
        row, rhs = view_row(v, X, col, span_years, m, sd)
        name = f"views.view[{k}]: {v.name()}"
        if v.op is Op.EQ:
            eq.append((row, rhs, name))
        else:
            sign = -1.0 if v.op is Op.GE else 1.0
            ineq.append((sign * row, sign * rhs, name))
    eq += _held_moments(views, index, X, col, m, sd)
    S = X.shape[0]

    def stack(rows: list[tuple[np.ndarray, float, str]]) -> tuple[np.ndarray, np.ndarray]:
        if not rows:
            return np.zeros((0, S)), np.zeros(0)
        return np.vstack([r for r, _, _ in rows]), np.array([b for _, b, _ in rows])

    A, b = stack(eq)
    G, h = stack(ineq)
    return LinearViews(A, b, G, h, tuple(n for *_, n in eq), tuple(n for *_, n in ineq))


def _held_moments(
    views: Sequence[ViewConfig],
    index: Sequence[int],
    X: np.ndarray,
    col: dict[str, int],
    m: np.ndarray,
    sd: np.ndarray,
) -> list[tuple[np.ndarray, float, str]]:
    """Equality rows holding the mean (and, for correlations, the volatility) of each series
    a second-moment view is on, unless another view of the set is on that series too (its
    moments are then left to the fixed-point iteration)."""
    touched = {s for v in views if v.kind not in _SECOND_MOMENT for s in v.series_used()}
    stated = {(s, what) for s in touched for what in ("mean", "vol")}
    stated |= {(v.series, "vol") for v in views if v.kind is ViewKind.VOLATILITY}
    rows: list[tuple[np.ndarray, float, str]] = []
    for k, v in zip(index, views, strict=True):
        if v.kind not in _SECOND_MOMENT:
            continue
        held = ["mean"] if v.kind is ViewKind.VOLATILITY else ["mean", "vol"]
        for series in v.series_used():
            for what in held:
                if (series, what) in stated:
                    continue
                stated.add((series, what))
                i = col[series]
                row, rhs = (
                    (X[:, i], m[i]) if what == "mean" else ((X[:, i] - m[i]) ** 2, sd[i] ** 2)
                )
                word = "mean" if what == "mean" else "volatility"
                rows.append(
                    (row, float(rhs), f"views.view[{k}]: {v.name()} ({series} {word} held)")
                )
    return rows


def _raise_conflict(
    lin: LinearViews,
    views: Sequence[ViewConfig],
    index: Sequence[int],
    X: np.ndarray,
    col: dict[str, int],
    span_years: float,
    m: np.ndarray,
    sd: np.ndarray,
) -> None:
    """ConfigError naming the views no probabilities can satisfy (None when feasible)."""
    rows = find_conflict(lin)
    if rows is None:
        return
    names = lin.names()
    if len(rows) == 1 and not names[rows[0]].endswith(" held)"):
        name = names[rows[0]]
        key, _, label = name.partition(": ")
        v = views[list(index).index(int(key.removeprefix("views.view[").rstrip("]")))]
        row, _ = view_row(v, X, col, span_years, m, sd)
        lo, hi = float(row.min()), float(row.max())
        target = v.target(span_years)
        raise ConfigError(
            f"view {label!r} asks for {target:.4g}, which no scenario mix gives: the "
            f"scenario values range over {_fmt(v, lo)}..{_fmt(v, hi)}",
            key=f"{key}.value",
            value=v.value,
            hint="move the target inside that range, or add scenarios that reach it",
        )
    listed = "; ".join(names[r] for r in rows)
    raise ConfigError(
        f"views contradict each other: no scenario probabilities satisfy them together ({listed})",
        key="views.view",
        hint="drop or loosen one of them",
    )


def _fmt(v: ViewConfig, x: float) -> str:
    if v.kind is ViewKind.VOLATILITY:  # a squared deviation: show it as a volatility
        return f"{np.sqrt(max(x, 0.0)):.4g}"
    return f"{x:.4g}"


def _moments(X: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = p @ X
    return m, np.sqrt(np.maximum(p @ (X - m) ** 2, 0.0))


def _check_series(views: Sequence[ViewConfig], col: dict[str, int]) -> None:
    for k, v in enumerate(views):
        for field, name in (("series", v.series), ("versus", v.versus)):
            if name is not None and name not in col:
                raise ConfigError(
                    f"the estimate has no series of this name; known: {', '.join(col)}",
                    key=f"views.view[{k}].{field}",
                    value=name,
                )


def weighted_moments(X: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probability-weighted mean (n,) and covariance (n, n) of the rows of ``X`` (S, n)."""
    mu = p @ X
    D = X - mu
    Sigma = (D * p[:, None]).T @ D
    return mu, (Sigma + Sigma.T) / 2


def apply_views(est: Estimate, cfg: ViewsConfig) -> Estimate:
    """The Estimate with ``cfg``'s views: tilted sample probabilities, posterior moments
    and a :class:`ViewsReport`; ``est`` itself when there are no views."""
    if not cfg.view:
        return est
    from optimizer.views.black_litterman import apply_black_litterman
    from optimizer.views.model import ViewMethod

    if cfg.method is ViewMethod.BLACK_LITTERMAN:
        return apply_black_litterman(est, cfg)
    if est.samples is None:
        raise ConfigError(
            "entropy pooling needs a scenario matrix, and the estimate has none",
            key="views.method",
            value=cfg.method.value,
            hint="request scenarios in [scenarios], set [estimation] samples = 'historical', "
            "or use method = 'black_litterman'",
        )
    X = np.asarray(est.samples, dtype=float)
    S = X.shape[0]
    q = np.full(S, 1.0 / S) if est.probabilities is None else np.asarray(est.probabilities)
    span = sample_span_years(est)
    p, outcomes, notes = pool_views(X, q, cfg.view, est.tickers, span)
    mu, Sigma = weighted_moments(X, p)
    scale = est.horizon_years / span  # historical period returns -> the horizon
    report = ViewsReport(
        method=cfg.method.value,
        views=outcomes,
        relative_entropy=relative_entropy(p, q),
        effective_scenarios=effective_scenarios(p),
        n_scenarios=S,
        prior_mu=np.asarray(est.mu, dtype=float),
        prior_Sigma=np.asarray(est.Sigma, dtype=float),
        warnings=notes,
    )
    return dataclasses.replace(
        est,
        mu=mu * scale,
        Sigma=Sigma * scale,
        probabilities=p,
        views=report,
        method=f"{est.method}; {len(cfg.view)} views by entropy pooling",
    )

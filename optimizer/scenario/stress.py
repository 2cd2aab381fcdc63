"""A portfolio under each scenario: return in % and money, by asset and by factor.

Also reads the two portfolio files ``capalloc stress`` accepts: weights (``ticker,weight``)
and holdings (``ticker,shares`` and any other columns).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.errors import ConfigError, UnsupportedScenario
from optimizer.estimate import ScenarioMoments
from optimizer.factors import FactorKind
from optimizer.files import read_text
from optimizer.limits import check_money, check_shares, parse_number
from optimizer.scenario.config import ScenarioUse
from optimizer.scenario.engine import ScenarioEngine
from optimizer.scenario.library import ScenarioLibrary
from optimizer.scenario.model import FACTOR_KINDS
from optimizer.tickers import CASH

WEIGHT_TOLERANCE = 1e-3


@dataclass(frozen=True)
class StressResult:
    """One scenario's effect on one portfolio (horizon of the scenario)."""

    id: str
    title: str
    horizon: str
    probability: float
    ret: float  # expected portfolio return, fraction
    money: float  # ret * value
    volatility: float  # conditional standard deviation of the portfolio return
    per_asset: dict[str, float]  # ticker -> contribution to ret (w_i mu_i)
    asset_returns: dict[str, float]  # ticker -> the asset's own expected return (mu_i)
    per_factor: dict[str, float]  # factor -> (w'B)_j E[f_j|s]; "intercept" -> w'a h;
    # "compounding" -> the rest of the return of a log-return model (the terms add up to it)
    factor_moves: dict[str, float]  # factor -> conditional expected move
    mahalanobis: float
    plausibility: str
    history: str
    regime: str
    spots: dict[str, dict[str, Any]]  # index -> the level a level target is measured from

    def to_dict(self, value: float) -> dict[str, Any]:
        return {
            "title": self.title,
            "horizon": self.horizon,
            "probability": self.probability,
            "return": self.ret,
            "money": self.money,
            "volatility": self.volatility,
            "per_asset": {
                t: {"return": self.asset_returns[t], "contribution": c, "money": c * value}
                for t, c in self.per_asset.items()
            },
            "per_factor": self.per_factor,
            "factor_moves": {f: factor_move(f, x) for f, x in self.factor_moves.items()},
            "mahalanobis": self.mahalanobis,
            "plausibility": self.plausibility,
            "history": self.history,
            "regime": self.regime,
            "spots": self.spots,
        }


def factor_move(factor: str, move: float) -> dict[str, Any]:
    """A factor's move with its unit: ``{"move": 100.0, "unit": "bp"}`` for a yield or
    spread change (stored as a decimal, 0.01 = 100 bp), ``"return"`` (a fraction) for
    equity and size, ``"log_change"`` for a level such as the VIX."""
    kind = FACTOR_KINDS.get(factor)
    if kind is FactorKind.RATE_CHANGE:
        return {"move": 1e4 * move, "unit": "bp"}
    if kind is FactorKind.LOG_CHANGE:
        return {"move": move, "unit": "log_change"}
    return {"move": move, "unit": "return"}


def stress_portfolio(
    weights: Mapping[str, float], tickers: Sequence[str], m: ScenarioMoments, value: float
) -> StressResult:
    """Evaluate portfolio ``weights`` (ticker -> weight) under one scenario's moments."""
    w = np.array([weights.get(t, 0.0) for t in tickers])
    ret = float(w @ m.mu)
    exposures = m.details.get("exposures", {})
    intercept = m.details.get("intercept", {})
    per_factor = {
        "intercept": float(sum(w[i] * intercept.get(t, 0.0) for i, t in enumerate(tickers)))
    }
    log_moves = m.details.get("log_factor_moves")  # a log-return model: moves on its scale
    for name, move in (log_moves or m.factor_moves).items():
        beta = sum(w[i] * exposures.get(t, {}).get(name, 0.0) for i, t in enumerate(tickers))
        per_factor[name] = float(beta * move)
    if log_moves is not None:  # log returns to simple: compounding and the variance term
        per_factor["compounding"] = ret - sum(per_factor.values())
    return StressResult(
        id=m.id,
        title=m.title,
        horizon=str(m.details.get("horizon", "")),
        probability=m.probability,
        ret=ret,
        money=ret * value,
        volatility=float(math.sqrt(max(w @ m.Sigma @ w, 0.0))),
        per_asset={t: float(w[i] * m.mu[i]) for i, t in enumerate(tickers)},
        asset_returns={t: float(m.mu[i]) for i, t in enumerate(tickers)},
        per_factor=per_factor,
        factor_moves=dict(m.factor_moves),
        mahalanobis=m.mahalanobis,
        plausibility=m.plausibility,
        history=m.history,
        regime=m.regime,
        spots={
            str(x["index"]): {"target": x["level"], **x["spot"]}
            for x in m.details.get("shocks", [])
            if "spot" in x
        },
    )


def run_scenarios(
    engine: ScenarioEngine, library: ScenarioLibrary, uses: Sequence[ScenarioUse] | None
) -> tuple[list[ScenarioMoments], list[str], list[str]]:
    """Moments of the scenarios used, each over its own horizon (all when ``uses`` is None),
    the scenarios skipped (with the reason) and notes.

    Probabilities of the scenarios named are checked as for a mixture (above 1 in total is
    an error). Every scenario of the library is no mixture: when their stated probabilities
    sum above 1 (a user's scenarios beside the built-in ones), each keeps its own (one
    without: 0) and a note says so. When no scenarios are named, those this data cannot
    carry (a replay or a pinned window outside the data, a factor without a series) are
    skipped and listed with the reason; any other ScenarioError, and every error of a named
    one, fails.
    """
    from optimizer.scenario.build import scenario_probabilities

    paths = library.paths()
    explicit = uses is not None
    uses = list(uses) if explicit else [ScenarioUse(id=i) for i in sorted(paths)]
    chosen = [(use, library.get(use.id), paths[use.id]) for use in uses]
    stated = [u.probability if u.probability is not None else s.probability for u, s, _ in chosen]
    total = sum(p or 0.0 for p in stated)
    notes = []
    if explicit or total <= 1 + 1e-9:
        probs, _ = scenario_probabilities(chosen)
    else:
        probs = [p or 0.0 for p in stated]
        notes.append(f"the scenarios' probabilities sum to {total:.4g}: each is shown as its "
                     "file states it (stress does not mix them)")  # fmt: skip
    out, skipped = [], []
    for (_, s, path), p in zip(chosen, probs, strict=True):
        try:
            out.append(engine.moments(s, file=str(path), probability=p))
        except UnsupportedScenario as exc:
            if explicit:
                raise
            skipped.append(f"{s.id}: {exc.render()}")
    return out, skipped, notes


def read_weights(path: str | Path) -> dict[str, float]:
    """``ticker,weight`` CSV -> ticker -> weight; weights must sum to 1."""
    rows = _rows(path, ("ticker", "weight"))
    weights: dict[str, float] = {}
    for line, row in rows:
        ticker = _ticker(row, path, line, weights)
        weights[ticker] = _number(row["weight"], path, line, "weight")
    return check_weights(weights, file=str(path))


def check_weights(
    weights: Mapping[str, float], *, file: str | None = None, known: Sequence[str] | None = None
) -> dict[str, float]:
    """Portfolio weights as ``stress`` takes them: finite, summing to 1 (within
    ``WEIGHT_TOLERANCE``), and (with ``known``) only of those tickers."""
    out = {str(t): float(w) for t, w in weights.items()}
    for ticker, w in out.items():
        if not math.isfinite(w):
            raise ConfigError("not a finite number", file=file, key=ticker, value=w)
        if known is not None and ticker not in known:
            raise ConfigError(
                f"not in the estimate; it covers {', '.join(known)}", file=file, key=ticker
            )
    total = sum(out.values())
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        raise ConfigError(
            "weights must sum to 1",
            file=file,
            key="weight (sum)",
            value=round(total, 6),
            hint="give fractions, e.g. 0.3333 for a third",
        )
    return out


def read_holdings(path: str | Path) -> dict[str, float]:
    """CSV with at least ``ticker,shares`` -> ticker -> shares (non-negative).

    Several rows of one ticker (tax lots, as in a holdings file of the planner) are summed;
    a ``CASH`` row is an amount of money, not shares.
    """
    rows = _rows(path, ("ticker", "shares"))
    accounts = sorted({(row.get("account") or "").strip() for _, row in rows} - {""})
    if len(accounts) > 1:  # a custodian's export: one account's value, not their sum
        shown = ", ".join(accounts[:5]) + (", ..." if len(accounts) > 5 else "")
        raise ConfigError(
            f"holdings of {len(accounts)} accounts ({shown}); stress one account at a time",
            file=str(path),
            key="account",
            value=accounts[1],
            hint="keep one account's rows in the file",
        )
    shares: dict[str, float] = {}
    for line, row in rows:
        ticker = (row.get("ticker") or "").strip().upper()
        if not ticker:
            raise ConfigError("ticker is empty", file=str(path), key=f"line {line}: ticker")
        n = _number(row["shares"], path, line, "shares")
        if n < 0:
            raise ConfigError(
                "shares must not be negative", file=str(path), key=f"line {line}: shares", value=n
            )
        check = check_money if ticker == CASH else check_shares
        check(n, file=str(path), key=f"line {line}: shares")
        shares[ticker] = shares.get(ticker, 0.0) + n
    if sum(shares.values()) <= 0:
        raise ConfigError("no shares held", file=str(path), key="shares")
    return shares


def _rows(path: str | Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    p = Path(path)
    reader = csv.DictReader(read_text(p).splitlines())
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise ConfigError(
            f"missing column {missing[0]!r}; expected at least {', '.join(required)}",
            file=str(p),
            key="header",
            value=",".join(header) or "empty file",
        )
    reader.fieldnames = header
    rows = []
    for r in reader:  # line_num: the file's own line number (skipped blank lines count)
        if any((v or "").strip() for v in r.values() if isinstance(v, str)):
            rows.append((reader.line_num, r))
    if not rows:
        raise ConfigError("no rows after the header", file=str(p))
    return rows


def _ticker(row: dict[str, str], path: str | Path, line: int, seen: Mapping[str, float]) -> str:
    ticker = (row.get("ticker") or "").strip().upper()
    if not ticker:
        raise ConfigError("empty ticker", file=str(path), key=f"line {line}: ticker", value="")
    if ticker in seen:
        raise ConfigError(
            "ticker listed twice", file=str(path), key=f"line {line}: ticker", value=ticker
        )
    return ticker


def _number(text: str | None, path: str | Path, line: int, column: str) -> float:
    return parse_number(text, file=str(path), key=f"line {line}: {column}")

"""The universe (tickers, tags, bounds) and readable linear constraints over it.

A group constraint is text over tags and tickers, ``small_cap <= 0.4 * equity`` or
``SPY + IWM <= 70%``; it parses into one row ``a @ w  (<= | >= | ==)  c``. A tag stands for
the sum of the weights of the tickers that carry it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

import numpy as np

from optimizer.errors import ConfigError
from optimizer.limits import share_of
from optimizer.optimize.policy import UniverseConfig

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)(?P<pct>%)?"
    r"|(?P<op><=|>=|==|=|\+|-|\*)"
    r"|(?P<name>[A-Za-z_^][A-Za-z0-9_.^-]*))"
)
_LOSS = re.compile(
    r"^\s*(?P<id>\S+)\s+loss\s*<=\s*(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<pct>%?)\s*$"
)


class Sense(StrEnum):
    """Direction of a linear row."""

    LE = "<="
    GE = ">="
    EQ = "=="


@dataclass(frozen=True)
class Universe:
    """Tickers with their tags and per-ticker bounds.

    ``lower``, ``upper``: ndarray of shape (n_assets,).
    """

    tickers: tuple[str, ...]
    tags: tuple[frozenset[str], ...]  # per ticker
    lower: np.ndarray
    upper: np.ndarray

    @classmethod
    def from_config(cls, cfg: UniverseConfig, *, file: str | None = None) -> Universe:
        tickers = tuple(cfg.assets)
        u = cls(
            tickers=tickers,
            tags=tuple(frozenset(cfg.assets[t].tags) for t in tickers),
            lower=np.array([cfg.assets[t].min for t in tickers], dtype=float),
            upper=np.array([cfg.assets[t].max for t in tickers], dtype=float),
        )
        u.check_budget(file=file)
        return u

    @property
    def n_assets(self) -> int:
        return len(self.tickers)

    def tag_names(self) -> list[str]:
        return sorted(set().union(*self.tags))

    def indicator(self, name: str) -> np.ndarray:
        """Vector of shape (n_assets,): 1 for the ticker ``name`` or the tickers tagged ``name``."""
        if name in self.tickers:
            return (np.array(self.tickers) == name).astype(float)
        hits = np.array([name in t for t in self.tags], dtype=float)
        if not hits.any() and name.upper() in self.tickers:  # tickers are capitals: iwm is IWM
            return self.indicator(name.upper())
        if not hits.any():
            known = ", ".join([*self.tag_names(), *self.tickers])
            raise ConfigError(f"unknown tag or ticker {name!r}; known: {known}")
        return hits

    def has_tag(self, name: str) -> bool:
        return any(name in t for t in self.tags)

    @cached_property
    def share_vectors(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(equity, small-cap equity) indicators, or None without both tags."""
        if not (self.has_tag("small_cap") and self.has_tag("equity")):
            return None
        eq = self.indicator("equity")
        return eq, eq * self.indicator("small_cap")

    def small_cap_share(self, w: np.ndarray) -> float | None:
        """Small-cap equity weight over equity weight of ``w`` (shape (n_assets,)); None
        without both tags or without equity."""
        if self.share_vectors is None:
            return None
        eq, small = (float(v @ w) for v in self.share_vectors)
        return share_of(small, eq)

    def check_budget(self, *, file: str | None = None) -> None:
        """Bounds must allow weights summing to 1."""
        lo, hi = float(self.lower.sum()), float(self.upper.sum())
        if hi < 1.0 - 1e-9:
            raise ConfigError(
                f"the per-ticker max bounds sum to {hi:.4g}, so weights cannot reach 1",
                file=file,
                key="universe.assets.*.max",
                hint="raise some max bounds or add a cash ticker",
            )
        if lo > 1.0 + 1e-9:
            raise ConfigError(
                f"the per-ticker min bounds sum to {lo:.4g}, above 1",
                file=file,
                key="universe.assets.*.min",
            )


@dataclass(frozen=True)
class LinearRow:
    """``a @ w  sense  rhs`` with ``a`` of shape (n_assets,); ``label`` is the source text."""

    label: str
    a: np.ndarray
    sense: Sense
    rhs: float


def parse_group(text: str, universe: Universe, *, key: str = "constraints.groups") -> LinearRow:
    """Parse ``"small_cap <= 0.4 * equity"`` into a :class:`LinearRow` over ``universe``."""
    tokens = _tokenize(text, key)
    ops = [i for i, (kind, v) in enumerate(tokens) if kind == "op" and v in ("<=", ">=", "==", "=")]
    if len(ops) != 1:
        raise ConfigError("needs exactly one of <=, >=, ==", key=key, value=text)
    i = ops[0]
    sense = Sense("==" if tokens[i][1] == "=" else tokens[i][1])
    try:
        a_l, c_l = _linear(tokens[:i], universe)
        a_r, c_r = _linear(tokens[i + 1 :], universe)
    except ConfigError as exc:
        raise ConfigError(exc.message, key=key, value=text) from None
    a = a_l - a_r
    if not np.any(a):
        raise ConfigError("the constraint has no weights in it", key=key, value=text)
    row = LinearRow(label=" ".join(text.split()), a=a, sense=sense, rhs=c_r - c_l)
    _check_reachable(row, universe, key)
    return row


def _check_reachable(row: LinearRow, universe: Universe, key: str) -> None:
    """A group whose constant is a whole number no weights can reach within the assets'
    own min/max bounds (``cash >= 2``, ``equity <= 60``: a percentage typed as a whole
    number, which would be infeasible or silently do nothing) is an error naming it.
    Conflicts between groups and bounds of fractions are the solver's diagnosis."""
    low = float(np.minimum(row.a * universe.lower, row.a * universe.upper).sum())
    high = float(np.maximum(row.a * universe.lower, row.a * universe.upper).sum())
    if abs(row.rhs) <= 1.0 or low - 1e-9 <= row.rhs <= high + 1e-9:
        return
    raise ConfigError(
        f"the constant {row.rhs:g} is beyond what the weights' side can reach within the "
        f"assets' min and max bounds ({low:.4g} to {high:.4g})",
        key=key,
        value=row.label,
        hint="weights are fractions: 0.6 is 60 %",
    )


def _tokenize(text: str, key: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos, text = 0, text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConfigError(f"cannot read {text[pos:].strip()!r}", key=key, value=text)
        if m.group("num"):
            scale = 0.01 if m.group("pct") else 1.0
            out.append(("num", str(float(m.group("num")) * scale)))
        elif m.group("op"):
            out.append(("op", m.group("op")))
        else:
            out.append(("name", m.group("name")))
        pos = m.end()
    return out


def _linear(tokens: list[tuple[str, str]], universe: Universe) -> tuple[np.ndarray, float]:
    """One side: ``term (+|- term)*`` with ``term = [num *] name | name [* num] | num``."""
    a, const = np.zeros(universe.n_assets), 0.0
    terms: list[list[tuple[str, str]]] = [[]]
    signs = [1.0]
    for kind, v in tokens:
        if kind == "op" and v in "+-" and terms[-1]:
            terms.append([])
            signs.append(1.0 if v == "+" else -1.0)
        elif kind == "op" and v == "-" and not terms[-1]:
            signs[-1] *= -1.0
        else:
            terms[-1].append((kind, v))
    for sign, term in zip(signs, terms, strict=True):
        factors = [(k, v) for k, v in term if not (k == "op" and v == "*")]
        if not factors or len(factors) > 2 or len(factors) != (len(term) + 1) // 2:
            raise ConfigError("expected terms like 0.4 * equity or SPY + IWM")
        coef = sign * float(np.prod([float(v) for k, v in factors if k == "num"]))
        names = [v for k, v in factors if k == "name"]
        if len(names) > 1:
            raise ConfigError("a term multiplies two names; only linear terms are allowed")
        if names:
            a += coef * universe.indicator(names[0])
        else:
            const += coef
    return a, const


@dataclass(frozen=True)
class ScenarioLoss:
    """``"<scenario> loss <= 12%"``: the scenario's mean horizon return >= -``max_loss``."""

    label: str
    scenario: str
    max_loss: float


def parse_scenario_loss(text: str, *, key: str = "constraints.scenario_loss") -> ScenarioLoss:
    m = _LOSS.match(text)
    if not m:
        raise ConfigError("expected '<scenario id> loss <= <number>[%]'", key=key, value=text)
    scale = 0.01 if m.group("pct") else 1.0
    return ScenarioLoss(
        label=" ".join(text.split()), scenario=m.group("id"), max_loss=float(m.group("num")) * scale
    )

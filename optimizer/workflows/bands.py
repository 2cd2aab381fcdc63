"""The small-cap share of equity band and the equity range, as the account's group
constraints state them (``small_cap <= 0.4 * equity``, ``equity >= 0.5``): read them, and
write edited ones back in place (the what-if page's limits)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from optimizer.errors import ConfigError

if TYPE_CHECKING:
    from optimizer.account import AccountConfig

BAND_LABELS = {
    "small_cap_min": "Small-cap share of equity, at least",
    "small_cap_max": "Small-cap share of equity, at most",
    "equity_min": "Equity, at least",
    "equity_max": "Equity, at most",
}


def current_bands(cfg: AccountConfig) -> dict[str, float]:
    """The small-cap share band and the equity range the account's groups state."""
    return {name: value for name, (_, value) in _band_rows(cfg).items()}


def _band_rows(cfg: AccountConfig) -> dict[str, tuple[int, float]]:
    """name -> (index of the group row, bound) for rows ``small_cap <=/>= c * equity`` and
    ``equity <=/>= c``, read through the group parser (any spelling of them)."""
    import numpy as np

    from optimizer.optimize.universe import Sense, Universe, parse_group

    universe = Universe.from_config(cfg.policy.universe)
    if universe.share_vectors is None:
        return {}
    eq, small = universe.share_vectors
    basis = np.column_stack([small, eq])
    out: dict[str, tuple[int, float]] = {}
    for i, text in enumerate(cfg.policy.constraints.groups):
        row = parse_group(text, universe)
        (alpha, beta), *_ = np.linalg.lstsq(basis, row.a, rcond=None)
        if not np.allclose(basis @ [alpha, beta], row.a) or row.sense is Sense.EQ:
            continue
        le = row.sense is Sense.LE
        if abs(alpha) > 1e-12 and abs(row.rhs) < 1e-12:  # alpha*small + beta*eq <= 0
            name = "small_cap_max" if le == (alpha > 0) else "small_cap_min"
            out.setdefault(name, (i, -beta / alpha))
        elif abs(alpha) < 1e-12 and abs(beta) > 1e-12:  # beta*eq <= rhs
            name = "equity_max" if le == (beta > 0) else "equity_min"
            out.setdefault(name, (i, row.rhs / beta))
    return out


def banded_groups(
    cfg: AccountConfig, bands: Mapping[str, float | None], changed: Collection[str] = ()
) -> list[str]:
    """The account's groups with the band rows replaced (in place; new ones at the end,
    removed where the band is empty); ``bands`` are in percent. A minimum above its
    maximum is named on the one of the two in ``changed`` (the field the user edited)."""
    for lo, hi in (("small_cap_min", "small_cap_max"), ("equity_min", "equity_max")):
        for name in (lo, hi):
            v = bands.get(name)
            if v is not None and not 0 <= v <= 100:
                raise ConfigError("must be between 0 % and 100 %", key=name, value=v)
        a, b = bands.get(lo), bands.get(hi)
        if a is not None and b is not None and a > b:
            if hi in changed and lo not in changed:
                raise ConfigError(f"is below the minimum ({a:g} %)", key=hi, value=b)
            raise ConfigError(f"is above the maximum ({b:g} %)", key=lo, value=a)
    texts = {
        "small_cap_min": "small_cap >= {:.10g} * equity",
        "small_cap_max": "small_cap <= {:.10g} * equity",
        "equity_min": "equity >= {:.10g}",
        "equity_max": "equity <= {:.10g}",
    }
    rows = _band_rows(cfg)
    groups: list[str | None] = list(cfg.policy.constraints.groups)
    extra = []
    for name, pattern in texts.items():
        v = bands.get(name)
        text = None if v is None else pattern.format(v / 100)
        if name in rows:
            groups[rows[name][0]] = text
        elif text is not None:
            extra.append(text)
    return [g for g in groups if g is not None] + extra

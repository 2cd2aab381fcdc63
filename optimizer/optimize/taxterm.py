"""The tax bill inside the optimizer: a convex piecewise-linear term built from tax lots.

Selling weight ``s_i`` of ticker ``i`` takes its lots in tax-optimal order (smallest tax per
share first, so losses first): the tax is convex piecewise linear in ``s_i``, with
breakpoints at the cumulative lot weights and slope ``rate_ij * gain_ij`` on lot ``j``
(``gain_ij = (price_i - cost_ij) / price_i``: the gain per unit of weight sold). As an LP:
``U`` of shape (n_assets, L) holds the weight sold from each lot, ``0 <= U <= k * lot_weight``,
``sum_j U_ij >= k * w0_i - w_i`` and ``tax = sum(slope * U)``; an LP minimising the tax fills
the lots of smallest slope first, which is the tax-optimal order. Lot weights, gains and
slopes are Parameters of a fixed padded shape (n_assets, L) (padding: lots of weight 0), so
one compiled problem serves every account with at most L lots per ticker.

Losses count as 0 inside the optimizer (slopes and gains clipped at 0). A loss credit would
make the term concave where a ticker is bought rather than sold, and an LP would then
"sell" loss lots it does not trade; at 0, any sale it states is one the planner makes. The
loss lots are still sold first, so the plan's net gains and tax are at most the optimizer's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from optimizer.optimize.frame import Frame, Named, Numbers, Role


@dataclass(frozen=True)
class LotRow:
    """One tax lot as the optimizer sees it."""

    lot_id: str
    shares: float
    cost_per_share: float
    short_term: bool


@dataclass(frozen=True)
class TaxLots:
    """An account's lots as padded arrays (universe ticker order, lots in tax-optimal order).

    weight, gain, rate, shares: (n_assets, L); short: (n_assets, L) bool; price: (n_assets,)
    (0 for cash); ids: per ticker the lot ids of its L columns ("" for padding); money in
    the account's currency, ``value`` the account value that weights are fractions of.
    """

    tickers: tuple[str, ...]
    weight: np.ndarray
    gain: np.ndarray
    rate: np.ndarray
    short: np.ndarray
    shares: np.ndarray
    price: np.ndarray
    ids: tuple[tuple[str, ...], ...]
    value: float
    short_term_rate: float
    long_term_rate: float
    gain_budget: float | None = None  # money: net realised gains this plan may add
    short_term_cap: float | None = None  # money: net short-term gains this plan may add
    realized_gains_ytd: float = 0.0

    @property
    def n_lots(self) -> int:
        return int(self.weight.shape[1])

    @property
    def slope(self) -> np.ndarray:
        """Tax per unit of weight sold from each lot, shape (n_assets, L) (< 0: a loss)."""
        return self.rate * self.gain

    @property
    def gain_pos(self) -> np.ndarray:
        """Gains the optimizer counts: losses at 0 (see the module docstring)."""
        return np.maximum(self.gain, 0.0)

    @classmethod
    def build(
        cls,
        tickers: Sequence[str],
        lots: Mapping[str, Sequence[LotRow]],
        prices: Mapping[str, float],
        w0: Sequence[float],
        value: float,
        *,
        short_term_rate: float,
        long_term_rate: float,
        n_lots: int = 0,
        **money: float | None,
    ) -> TaxLots:
        """Arrays from ``lots`` (ticker -> rows), padded to ``max(n_lots, needed)``.

        The weight of a ticker without a price (cash) is one lot without gain; weight of a
        priced ticker beyond the lots given (lots a rule keeps from being sold) is not sold.
        """
        rows = {t: _rows(t, lots.get(t, ()), prices, w0[i], value) for i, t in enumerate(tickers)}
        rates = (long_term_rate, short_term_rate)
        for t, rs in rows.items():
            p = prices.get(t, 0.0)
            rs.sort(key=lambda r, p=p: rates[r.short_term] * (p - r.cost_per_share))  # stable
        width = max([n_lots, 1, *(len(r) for r in rows.values())])
        shape = (len(tickers), width)
        a = {k: np.zeros(shape) for k in ("weight", "gain", "rate", "shares")}
        short = np.zeros(shape, dtype=bool)
        ids: list[tuple[str, ...]] = []
        for i, t in enumerate(tickers):
            p = float(prices.get(t, 0.0))
            for j, r in enumerate(rows[t]):
                a["shares"][i, j] = r.shares
                a["weight"][i, j] = r.shares * (p if p > 0 else 1.0) / value
                a["gain"][i, j] = (p - r.cost_per_share) / p if p > 0 else 0.0
                a["rate"][i, j] = rates[r.short_term]
                short[i, j] = r.short_term
            ids.append(tuple(r.lot_id for r in rows[t]) + ("",) * (width - len(rows[t])))
        price = np.array([float(prices.get(t, 0.0)) for t in tickers])
        return cls(
            tuple(tickers), a["weight"], a["gain"], a["rate"], short, a["shares"], price,
            tuple(ids), float(value), short_term_rate, long_term_rate,
            money.get("gain_budget"), money.get("short_term_cap"),
            float(money.get("realized_gains_ytd") or 0.0),
        )  # fmt: skip


def _rows(
    ticker: str, lots: Sequence[LotRow], prices: Mapping[str, float], w0: float, value: float
) -> list[LotRow]:
    out = list(lots)
    if float(prices.get(ticker, 0.0)) <= 0 and w0 > 0:  # cash: sold without tax
        out.append(LotRow("", w0 * value, 0.0, False))
    return out


def lot_sales(f: Frame) -> cp.Variable:
    """``U`` (n_assets, L): the weight sold from each lot, with its structural rows."""
    if f.sales is None:
        L = f.tax_lots
        f.sales = cp.Variable((f.n, L), name="lot_sales")
        cap = f.param("lot_weight", (f.n, L), nonneg=True)
        w0 = f.param("w0", (f.n,))
        f.extra += [
            Named(("lot sales >= 0",), f.sales >= 0, Role.STRUCTURE),
            Named(("lot sales <= lots",), f.sales <= f.k * cap, Role.STRUCTURE),
            Named(("sold >= w0 - w",), cp.sum(f.sales, axis=1) >= f.k * w0 - f.w, Role.STRUCTURE),
        ]
    return f.sales


def tax_charge(f: Frame, name: str) -> cp.Expression | float:
    """``sum(P * U)`` for the (n_assets, L) slope Parameter ``name``; 0 without lots."""
    if f.tax_lots <= 0:
        return 0.0
    return cp.sum(cp.multiply(f.param(name, (f.n, f.tax_lots)), lot_sales(f)))


def _loose(tax: TaxLots) -> float:
    """A bound no sale can reach: every lot's gain, plus one (fractions of the account)."""
    return float(np.abs(tax.weight * tax.gain).sum()) + 1.0


@dataclass(frozen=True)
class GainCaps:
    """Net realised gains <= the budget; net short-term gains <= the cap (money, as
    fractions of the account; not applied when the account file does not set them)."""

    def add(self, f: Frame) -> list[Named]:
        U = lot_sales(f)
        g = f.param("lot_gain", (f.n, f.tax_lots))
        gs = f.param("lot_gain_short", (f.n, f.tax_lots))
        budget = f.param("gain_budget")
        cap = f.param("short_term_cap")
        return [
            Named(("realised gains <= gain_budget",), cp.sum(cp.multiply(g, U)) <= f.k * budget),
            Named(
                ("short-term gains <= short_term_cap",),
                cp.sum(cp.multiply(gs, U)) <= f.k * cap,
            ),
        ]

    def bind(self, f: Frame, x: Numbers) -> None:
        t = x.tax
        if t is None:
            return
        loose = _loose(t)
        f.set("lot_gain", t.gain_pos)
        f.set("lot_gain_short", t.gain_pos * t.short)
        b, c = t.gain_budget, t.short_term_cap
        f.set("gain_budget", loose if b is None else b / t.value)
        f.set("short_term_cap", loose if c is None else c / t.value)


# -- evaluation (no solver) ------------------------------------------------------------------
def ordered_sales(tax: TaxLots, sold: np.ndarray) -> np.ndarray:
    """``U`` filled lot by lot in tax-optimal order for the weights ``sold`` (n_assets,)."""
    cum = np.cumsum(tax.weight, axis=1)
    before = cum - tax.weight
    s = np.clip(np.asarray(sold, dtype=float), 0.0, None)[:, None]
    return np.clip(s - before, 0.0, tax.weight)


@dataclass(frozen=True)
class TaxBill:
    """What a sale realises, in money: net gains and the tax on them, short/long term."""

    short_term_gain: float
    long_term_gain: float
    short_term_tax: float
    long_term_tax: float

    @property
    def gain(self) -> float:
        return self.short_term_gain + self.long_term_gain

    @property
    def tax(self) -> float:
        return self.short_term_tax + self.long_term_tax

    def to_dict(self) -> dict[str, float]:
        return {
            "short_term_gain": self.short_term_gain,
            "long_term_gain": self.long_term_gain,
            "gain": self.gain,
            "short_term_tax": self.short_term_tax,
            "long_term_tax": self.long_term_tax,
            "tax": self.tax,
        }


def bill(tax: TaxLots, U: np.ndarray) -> TaxBill:
    """The gains and tax of the lot sales ``U`` (n_assets, L), in money."""
    g = tax.gain * U * tax.value
    st = tax.short
    return TaxBill(
        float(g[st].sum()),
        float(g[~st].sum()),
        float((tax.rate * g)[st].sum()),
        float((tax.rate * g)[~st].sum()),
    )


def bill_of_weights(tax: TaxLots, w: np.ndarray, w0: np.ndarray) -> TaxBill:
    """The tax bill of moving from ``w0`` to ``w`` with lots sold in tax-optimal order."""
    return bill(tax, ordered_sales(tax, np.asarray(w0) - np.asarray(w)))


def ranked_sales(tax: TaxLots, U: np.ndarray, sold: np.ndarray) -> np.ndarray:
    """The lot sales behind ``sold`` (n_assets,) that the optimizer's ``U`` stands for, shape
    (n_assets, L): lots in the order of :func:`_rank_columns`, each taken up to what ``U``
    sold from it (a loss lot, free to the optimizer, up to its weight), then, for what is
    left (solver tolerance), up to its weight. So the gains are at most ``U``'s."""
    order = _rank_columns(tax, U)
    free = tax.gain <= 0
    out = np.zeros_like(tax.weight)
    for i, cols in enumerate(order):
        left = max(float(sold[i]), 0.0)
        for cap in (np.where(free[i], tax.weight[i], np.clip(U[i], 0, None)), tax.weight[i]):
            for j in cols:
                take = min(left, float(cap[j]) - out[i, j])
                if take > 0:
                    out[i, j] += take
                    left -= take
    return out


def _rank_columns(tax: TaxLots, U: np.ndarray) -> list[list[int]]:
    """Per ticker, the lot columns in selling order: losses first (in tax order), then the
    lots ``U`` emptied, then the ones it sold in part (most first), then the rest."""
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(tax.weight > 0, U / np.where(tax.weight > 0, tax.weight, 1.0), 0.0)
    frac = np.where(tax.gain <= 0, 2.0, frac)
    out = []
    for i in range(len(tax.tickers)):
        cols = [j for j in range(tax.n_lots) if tax.weight[i, j] > 0]
        cols.sort(key=lambda j, i=i: (-round(float(frac[i, j]), 9), j))
        out.append(cols)
    return out


@dataclass(frozen=True)
class TaxOutcome:
    """The tax side of an allocation: the bill of its sales (lots taken as the planner will
    take them), the limits it was held to, and the lot order for the planner."""

    bill: TaxBill
    value: float
    short_term_rate: float
    long_term_rate: float
    gain_budget: float | None
    short_term_cap: float | None
    realized_gains_ytd: float
    lot_order: dict[str, tuple[str, ...]]  # ticker -> lot ids, in selling order

    def to_dict(self) -> dict:
        b = self.gain_budget
        return {
            **self.bill.to_dict(),
            "short_term_rate": self.short_term_rate,
            "long_term_rate": self.long_term_rate,
            "gain_budget": b,
            "gain_budget_used": None if b is None else max(self.bill.gain, 0.0),
            "short_term_cap": self.short_term_cap,
            "realized_gains_ytd": self.realized_gains_ytd,
            "gains_ytd_after": self.realized_gains_ytd + self.bill.gain,
            "tax_fraction": self.bill.tax / self.value,
        }


def outcome(tax: TaxLots, w: np.ndarray, w0: np.ndarray, U: np.ndarray | None) -> TaxOutcome:
    """The :class:`TaxOutcome` of weights ``w`` from ``w0`` given the solver's ``U``
    (None: lots in tax-optimal order)."""
    sold = np.clip(np.asarray(w0) - np.asarray(w), 0.0, None)
    ranked = ordered_sales(tax, sold) if U is None else ranked_sales(tax, U, sold)
    order = _rank_columns(tax, np.zeros_like(tax.weight) if U is None else U)
    lot_order = {
        t: tuple(tax.ids[i][j] for j in order[i] if tax.ids[i][j])
        for i, t in enumerate(tax.tickers)
    }
    return TaxOutcome(
        bill(tax, ranked), tax.value, tax.short_term_rate, tax.long_term_rate,
        tax.gain_budget, tax.short_term_cap, tax.realized_gains_ytd, lot_order,
    )  # fmt: skip

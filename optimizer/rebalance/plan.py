"""The planner: one account, its targets and prices, the rules → a frozen ``TradePlan``.

Positions are traded only when something is outside its drift band: a ticker outside its
band may trade either way; excess cash (a deposit) lets underweight tickers buy; a cash
shortfall (a withdrawal, or cash under the reserve) lets every ticker sell. The trades
come from :func:`optimizer.rebalance.solve.solve` (exact / MILP / greedy, recorded).
Trades that improve the objective by no more than ``rules.min_improvement`` of the account
are dropped, and a plan whose post-trade account would trigger again is re-planned and the
extra trades folded in, so that planning right after execution trades nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from optimizer.csvout import quantity
from optimizer.errors import CapallocError, ConfigError, InfeasibleError, PlanError
from optimizer.limits import MAX_MONEY
from optimizer.rebalance.bound import best_of
from optimizer.rebalance.holdings import CASH, Account, Lot, check_targets
from optimizer.rebalance.result import Position, Trade, TradePlan, post_trade_account
from optimizer.rebalance.rules import BandTarget, RebalanceRules, SolverChoice
from optimizer.rebalance.solve import (
    Method,
    Problem,
    Solution,
    costs,
    feasible,
    grid_units,
    objective,
    shortfall,
    solve,
)
from optimizer.rebalance.tax import Block, Side, buy_block, sellable_lots, take_lots

_DEFAULT_RULES = RebalanceRules()
_STABILISE_ROUNDS = 8


@dataclass(frozen=True)
class _State:
    """The account as arrays, before trading (shape (n,) each)."""

    tickers: tuple[str, ...]
    p: np.ndarray
    h: np.ndarray
    w: np.ndarray
    band: np.ndarray  # weights
    value: float  # total value after the cash flow
    cash0: float  # cash after the cash flow
    w_cash: float
    band_cash: float
    min_order: float
    reserve: float
    # ticker index -> sellable_lots of this account at these prices (they depend on
    # neither holdings nor cash, so a state replaced after trading shares them)
    lots: dict[int, tuple[list[Lot], list[Block]]] = field(
        default_factory=dict, compare=False, repr=False
    )


def _state(
    account: Account,
    targets: Mapping[str, float],
    prices: Mapping[str, float],
    rules: RebalanceRules,
    flow: float,
) -> _State:
    tickers = tuple(sorted({t for t in targets if t != CASH} | set(account.positions)))
    for t in tickers:
        price = prices.get(t)
        if price is None:
            raise PlanError(
                "ticker has no price",
                key=f"account {account.id} ticker {t} shares",
                value=account.positions.get(t, targets.get(t)),
            )
        if not (math.isfinite(price) and price > 0):
            raise PlanError(
                "price must be positive", key=f"account {account.id} ticker {t} price", value=price
            )
    p = np.array([prices[t] for t in tickers], dtype=float)
    h = np.array([account.positions.get(t, 0.0) for t in tickers], dtype=float)
    w = np.array([targets.get(t, 0.0) for t in tickers], dtype=float)
    cash0 = account.cash + flow
    value = cash0 + float(p @ h)
    if value - flow > MAX_MONEY:  # shares and prices each in bounds, their product not
        i = int(np.argmax(p * h))
        raise ConfigError(
            f"account value outside the documented bounds [0, {MAX_MONEY:g}]",
            key=f"account {account.id} value", value=float(f"{value - flow:.6g}"),
            hint=f"{tickers[i]}: {quantity(h[i])} shares at {p[i]:g}; see docs/limits.md",
        )  # fmt: skip
    if cash0 < 0 and value <= 1e-9 * max(1.0, -cash0):  # nothing left, even before costs
        raise PlanError(
            "withdrawal takes all the account is worth or more (selling costs leave less)",
            key=f"account {account.id} withdraw",
            value=round(-flow, 2),
            hint=f"account value is {value - flow:,.2f}",
        )
    w_cash = float(targets.get(CASH, 0.0))
    return _State(
        tickers,
        p,
        h,
        w,
        _band(w, rules),
        value,
        cash0,
        w_cash,
        float(_band(np.array([w_cash]), rules)[0]),
        rules.min_order(value),
        rules.reserve(value),
    )


def _sellable(
    account: Account, s: _State, i: int, as_of: dt.date, rules: RebalanceRules
) -> tuple[list[Lot], list[Block]]:
    """:func:`sellable_lots` of ticker ``i``, once per state."""
    if i not in s.lots:
        s.lots[i] = sellable_lots(account, s.tickers[i], float(s.p[i]), as_of, rules)
    return s.lots[i]


def _band(w: np.ndarray, rules: RebalanceRules) -> np.ndarray:
    if rules.band_rel is None:
        return np.full_like(w, rules.band_abs)
    return np.minimum(rules.band_abs, rules.band_rel * w)


def _triggers(s: _State) -> tuple[np.ndarray, bool, bool]:
    """(out-of-band mask, excess cash, cash short)."""
    if s.value <= 0:
        return np.zeros(s.p.size, dtype=bool), False, False
    drift = s.p * s.h / s.value - s.w
    out = np.abs(drift) > s.band + 1e-12
    slack = max(s.band_cash * s.value, s.min_order)
    cash_dev = s.cash0 - s.w_cash * s.value
    short = s.cash0 < s.reserve - 1e-9 or cash_dev < -slack - 1e-9
    return out, cash_dev > slack + 1e-9, short


def plan(
    account: Account,
    targets: Mapping[str, float],
    prices: Mapping[str, float],
    rules: RebalanceRules | None = None,
    *,
    deposit: float = 0.0,
    withdraw: float = 0.0,
    as_of: dt.date | None = None,
) -> TradePlan:
    """Trades that bring ``account`` back to ``targets`` under ``rules``.

    Parameters
    ----------
    account : Account
        Tax lots, cash and recent sales.
    targets : mapping ticker -> weight
        Sums to 1; a ``CASH`` entry is the cash weight. Tickers held but not in the
        targets have weight 0.
    prices : mapping ticker -> price
        Must price every held and targeted ticker.
    rules : RebalanceRules, optional
        Defaults to ``RebalanceRules()``.
    deposit, withdraw : float
        Money added to or taken from the account's cash before trading.
    as_of : date, optional
        Trade date (holding periods, wash-sale window); today by default.
    """
    rules = rules or _DEFAULT_RULES
    as_of = as_of or dt.date.today()
    if deposit < 0 or withdraw < 0:
        raise PlanError(
            "deposit and withdrawal must be >= 0",
            key=f"account {account.id} deposit/withdraw",
            value=min(deposit, withdraw),
        )
    check_targets(targets, prices)
    return _plan(account, targets, prices, rules, (deposit, withdraw), as_of, stabilise=True)


def _plan(
    account: Account,
    targets: Mapping[str, float],
    prices: Mapping[str, float],
    rules: RebalanceRules,
    flows: tuple[float, float],
    as_of: dt.date,
    *,
    stabilise: bool,
) -> TradePlan:
    s = _state(account, targets, prices, rules, flows[0] - flows[1])
    out, excess, short = _triggers(s)
    if not (out.any() or excess or short):
        none = Solution(np.zeros_like(s.p), Method.NONE, "")
        return _finish(account, s, rules, as_of, none, (), flows, _no_trade_reason(s))
    prob, blocks = _problem(account, s, rules, as_of, out, excess=excess, short=short)
    prob, sol = _solve_after_costs(prob, s, rules)
    sol = _on_grid(prob, s, sol, rules)
    if not feasible(prob, sol.z):
        raise InfeasibleError(
            "no trades keep cash at the reserve under the rules",
            key=f"account {account.id}",
            value=round(s.cash0, 2),
            hint="lower the cash reserve or lift sell restrictions",
        )
    finish = partial(_finish, account, s, rules, as_of)
    zero = np.zeros_like(s.p)
    gain = objective(prob, zero) - objective(prob, sol.z)
    if feasible(prob, zero) and gain <= rules.min_improvement * s.value:
        why = (f"best trades improve the drift objective by {gain:,.2f}, not more than "
               f"min_improvement ({rules.min_improvement:g} of the account)")  # fmt: skip
        return finish(replace(sol, z=zero, note=why), blocks, flows, why, prob, out)
    if stabilise:
        every = np.ones_like(out)  # every ticker may trade: what the account allows
        full = partial(_problem, account, s, rules, as_of, every, excess=True, short=True)
        sol = _stabilised(finish, targets, prices, rules, prob, sol, (blocks, flows, out, s, full))
    return finish(sol, blocks, flows, None, prob, out)


_COST_ROUNDS = 4


def _on_grid(prob: Problem, s: _State, sol: Solution, rules: RebalanceRules) -> Solution:
    """The trades as the grid's decimals (``60.1234``, not ``60.123400000000004``), and a
    sale of a ticker targeted at 0 that would leave less than one grid step of it (a
    fractional position finer than the grid) extended to all that can be sold: the rest
    could never be sold alone, and with cash over its target the objective cannot tell
    the two apart."""
    decimals = rules.share_decimals if rules.fractional else 0
    z = np.where(sol.z == prob.lo, sol.z, np.round(sol.z, decimals))
    dust = (s.w == 0) & (z < 0) & (z > prob.lo) & (z - prob.lo < prob.step - 1e-9)
    if dust.any() and feasible(prob, trial := np.where(dust, prob.lo, z)):
        z = trial
    return sol if np.array_equal(z, sol.z) else replace(sol, z=z)


def _solve_after_costs(prob: Problem, s: _State, rules: RebalanceRules) -> tuple[Problem, Solution]:
    """Solve with money targets taken on the account's value after the plan's own costs.

    Costs lower the value every target is a share of; with targets on the value before
    costs a plan overshoots them by the costs' share, and re-planning after execution would
    trade back (with large per-share commissions, by more than re-plans can fold in: a
    share bought today is not sold today). The targets are scaled to ``value - cost(z)``
    and the problem solved again until the trades stop changing (a few rounds).

    Scaling by ``1 - c / value`` moves the objective by at most ``per_cost * c`` at every
    trade vector (``per_cost``: :func:`_shift_per_cost`), so the first solve also keeps the
    pool of trade vectors within twice that of its optimum, for costs up to a cap: the
    rounds whose cost is under the cap take the proven optimum from the pool, and only the
    others are solved again."""
    shortcuts = rules.solver is SolverChoice.AUTO
    base, per_cost = prob, _shift_per_cost(prob)

    def slack(z: np.ndarray) -> float:  # rounds costing up to 2 % + 0.25 over this plan's
        return 2.0 * per_cost * (1.02 * float(costs(base, z).sum()) + 0.25)

    sol = solve(prob, time_limit=rules.time_limit, shortcuts=shortcuts, slack=slack)
    pool, covers = sol.pool, sol.slack
    for _ in range(_COST_ROUNDS):
        cost = float(costs(base, sol.z).sum())
        if cost <= 0 or s.value <= cost:
            break
        scale = (s.value - cost) / s.value
        scaled = replace(base, t=base.t * scale, cash_target=base.cash_target * scale)
        z = best_of(scaled, pool) if pool is not None and 2 * per_cost * cost <= covers else None
        if z is not None:
            again = replace(sol, z=z)
        else:
            again = solve(scaled, time_limit=rules.time_limit, shortcuts=shortcuts)
        if np.array_equal(again.z, sol.z):
            break
        prob, sol = scaled, again
    return prob, replace(sol, pool=None, slack=0.0)


def _shift_per_cost(prob: Problem) -> float:
    """How far the objective can move at any trade vector, per unit of cost, when the
    targets are scaled by ``1 - cost / value``: with ``a`` the inside weight, each drift
    term is ``(a + |1 - a + lam|)``-Lipschitz in its target and the cash term
    ``(a + |1 - a|)``-Lipschitz in the cash target."""
    if prob.value <= 0:
        return math.inf
    a = prob.inside
    moved = (a + abs(1.0 - a + prob.lam)) * float(np.abs(prob.t).sum())
    return (moved + (a + abs(1.0 - a)) * abs(prob.cash_target)) / prob.value


def _stabilised(
    finish: Callable[..., TradePlan],
    targets: Mapping[str, float],
    prices: Mapping[str, float],
    rules: RebalanceRules,
    prob: Problem,
    sol: Solution,
    extra: tuple,
) -> Solution:
    """Fold in what a re-plan of the post-trade account would trade.

    Costs lower the account's value, which moves every money target a little, and cash
    raised by sales may leave cash outside its band; the next plan could then trade again.
    Adding the re-plan's trades (while the sum stays feasible for this account: lots,
    blocks, minimum order, reserve) makes re-planning after execution trade nothing.
    """
    blocks, flows, out, state, full = extra
    z, limits = sol.z, None
    for k in range(_STABILISE_ROUNDS):
        if not _triggered_after(state, prob, z, rules):  # the cheap, usual case
            note = sol.note if k == 0 else f"{sol.note}; re-planned {k}x for costs"
            return replace(sol, z=z, note=note)
        first = finish(replace(sol, z=z), blocks, flows, None, prob, out)
        try:
            again = _plan(
                first.account_after,
                targets,
                prices,
                rules,
                (0.0, 0.0),
                first.as_of,
                stabilise=False,
            )
        except CapallocError:
            break
        if again.warnings:
            sol = replace(sol, warning="; ".join(filter(None, [sol.warning, *again.warnings])))
        if not again.trades:
            note = sol.note if k == 0 else f"{sol.note}; re-planned {k}x for costs"
            return replace(sol, z=z, note=note)
        dz = {t.ticker: t.shares if t.side is Side.BUY else -t.shares for t in again.trades}
        tickers = [pos.ticker for pos in first.holdings]
        z_new = z + np.array([dz.get(t, 0.0) for t in tickers])
        limits = limits or full()[0]  # what the account allows, beyond this plan's triggers
        if not feasible(limits, z_new):
            break
        z = z_new
    return replace(sol, z=z, note=f"{sol.note}; a re-plan would still trade")


def _triggered_after(s: _State, prob: Problem, z: np.ndarray, rules: RebalanceRules) -> bool:
    """Whether the account after trading ``z`` would have anything outside its bands."""
    h = s.h + z
    cash = s.cash0 - float(s.p @ z) - float(costs(prob, z).sum())
    value = cash + float(s.p @ h)
    after = replace(s, h=h, value=value, cash0=cash, min_order=rules.min_order(value),
                    reserve=rules.reserve(value))  # fmt: skip
    out, excess, short = _triggers(after)
    return bool(out.any() or excess or short)


def _problem(
    account: Account,
    s: _State,
    rules: RebalanceRules,
    as_of: dt.date,
    out: np.ndarray,
    *,
    excess: bool,
    short: bool,
) -> tuple[Problem, tuple[Block, ...]]:
    x = s.p * s.h / s.value
    under = x < s.w
    may_buy = out | (under & excess)
    may_sell = out | short
    toward_buy, toward_sell = _toward_target(s, rules, out, may_buy, may_sell)
    t = s.w * s.value
    # a buy stops at the ticker's band's upper edge (on the value after the most this plan
    # could cost), or the next plan would sell it back; never short of the target itself,
    # and one share past it when no whole number of shares lies inside the band (a $1,300
    # share, a $1,000 target). Without a band every position off target is outside it:
    # cash left over and a share past the target weigh the same (the closest portfolio)
    held = s.p * s.h
    edge = (s.w + s.band) * (s.value - _cost_bound(s, rules)) - held
    room = np.maximum(0.0, np.maximum(edge, t - held))
    step = rules.share_step
    fits = grid_units(np.maximum(edge, 0.0) / s.p, step) * step * s.p  # most buy within
    gap = out & (fits < (s.w - s.band) * s.value - held)
    past = grid_units(np.maximum(t - held, 0.0) / s.p, step, up=True) * step * s.p
    room = np.where(gap, np.maximum(room, past), room)
    room = np.where(s.band > 0, room, s.value)
    lo, hi = np.zeros_like(s.p), np.zeros_like(s.p)
    blocks: list[Block] = []
    for i, ticker in enumerate(s.tickers):
        wants_sell = s.p[i] * s.h[i] > t[i] or short
        if may_sell[i] and s.h[i] > 0:
            lots, why = _sellable(account, s, i, as_of, rules)
            lo[i] = -sum(lot.shares for lot in lots)
            blocks += why if wants_sell else []
        elif toward_sell[i] and s.h[i] > 0:  # down to its target at most
            lots, _ = _sellable(account, s, i, as_of, rules)
            down = grid_units((held[i] - t[i]) / s.p[i], step) * step
            lo[i] = -min(sum(lot.shares for lot in lots), down)
        if may_buy[i]:
            block = buy_block(account, ticker, as_of, rules)
            hi[i] = 0.0 if block else grid_units(room[i] / s.p[i], step) * step
            blocks += [block] if block and s.p[i] * s.h[i] < t[i] else []
        elif toward_buy[i] and not buy_block(account, ticker, as_of, rules):  # up to target
            hi[i] = grid_units((t[i] - held[i]) / s.p[i], step) * step
    prob = Problem(
        p=s.p,
        h=s.h,
        t=t,
        band=s.band * s.value,
        lo=lo,
        hi=hi,
        step=rules.share_step,
        min_order=s.min_order,
        cash0=s.cash0,
        cash_target=s.w_cash * s.value,
        reserve=rules.cash_reserve,
        lam=rules.drift_priority,
        comm_share=rules.commission_per_share,
        comm_min=rules.commission_min,
        spread=rules.spread_bps / 1e4,
        inside=0.0 if rules.trade_to is BandTarget.EDGE else 1.0,
        cash_band=s.band_cash * s.value,
        reserve_pct=rules.cash_reserve_pct,
        value=s.value,
    )
    return _attainable_reserve(account, prob), tuple(blocks)


def _toward_target(
    s: _State, rules: RebalanceRules, out: np.ndarray, may_buy: np.ndarray, may_sell: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """With ``trade_to = "target"``, the tickers inside their bands that may trade toward
    their targets (never past them): the underweight ones when an out-of-band position is
    sold, the overweight ones when one is bought. An out-of-band position then goes back to
    its target; otherwise the rest of its sale would sit in cash, which the objective
    weighs the same as the drift it leaves, and the plan stopped at the band's edge."""
    none = np.zeros_like(out)
    if rules.trade_to is not BandTarget.TARGET or not out.any():
        return none, none
    x = s.p * s.h / s.value
    over, under = x > s.w, x < s.w
    buy = under & ~may_buy & bool((out & over).any())
    sell = over & ~may_sell & bool((out & under).any())
    return buy, sell


def _cost_bound(s: _State, rules: RebalanceRules) -> float:
    """The most a plan of this account could cost: every share sold and the value bought
    again, at the spread, the per-share commission and one minimum commission per ticker."""
    if s.p.size == 0:
        return 0.0
    notional = 2.0 * s.value
    shares = notional / float(s.p.min())
    per_share = rules.commission_per_share * shares
    return rules.spread_bps / 1e4 * notional + per_share + rules.commission_min * 2 * s.p.size


def _attainable_reserve(account: Account, prob: Problem) -> Problem:
    """``prob``, with a lower reserve when even selling every sellable position cannot
    reach it; a withdrawal that selling everything sellable cannot cover is an
    InfeasibleError."""
    if shortfall(prob, np.zeros_like(prob.p)) <= 0:
        return prob
    sell = -prob.lo
    money = prob.p * sell
    ok = (sell > 0) & (money >= prob.min_order - 1e-9)
    fees = np.where(ok, prob.spread * money + np.maximum(prob.comm_min, prob.comm_share * sell), 0)
    reachable = prob.cash0 + float(np.sum(np.where(ok, money, 0.0) - fees))
    if reachable < -1e-9:
        raise InfeasibleError(
            "selling every sellable position cannot fund the withdrawal",
            key=f"account {account.id} cash after withdrawal",
            value=round(prob.cash0, 2),
            hint="lift sell restrictions or withdraw less",
        )
    needed = max(prob.reserve, prob.reserve_pct * (prob.value - float(fees.sum())))
    if reachable >= needed:
        return prob
    return replace(prob, reserve=reachable - 1e-9 * max(1.0, abs(reachable)), reserve_pct=0.0)


def _no_trade_reason(s: _State) -> str:
    if s.value <= 0:
        return "account is empty"
    drift = np.abs(s.p * s.h / s.value - s.w)
    if drift.size == 0:
        return "no positions and cash inside its band"
    i = int(np.argmax(drift - s.band))
    return (
        f"all {s.p.size} positions and cash inside their bands (closest to its edge: "
        f"{s.tickers[i]} drift {drift[i]:.2%} vs band {s.band[i]:.2%})"
    )


def _trade_reason(s: _State, i: int, out: np.ndarray, side: Side) -> str:
    drift = s.p[i] * s.h[i] / s.value - s.w[i]
    if side is Side.SELL and s.cash0 < 0 and drift >= 1:  # more than all the account is left
        return "raise cash for the withdrawal"
    if out[i]:
        return f"drift {drift:+.2%} outside band ±{s.band[i]:.2%}"
    if (drift < 0) == (side is Side.BUY) and not _triggers(s)[1 if side is Side.BUY else 2]:
        return f"drift {drift:+.2%} toward target (out-of-band trades pay for it)"
    return "invest excess cash" if side is Side.BUY else "raise cash"


def _trades(
    account: Account,
    s: _State,
    rules: RebalanceRules,
    as_of: dt.date,
    z: np.ndarray,
    out: np.ndarray | None,
) -> tuple[Trade, ...]:
    """Orders for the trade vector ``z``: lots used by sales, estimated cost, reason."""
    trades: list[Trade] = []
    for i in np.flatnonzero(z):
        ticker, q, price = s.tickers[i], float(abs(z[i])), float(s.p[i])
        side = Side.BUY if z[i] > 0 else Side.SELL
        lots = ()
        if side is Side.SELL:
            ordered, _ = _sellable(account, s, int(i), as_of, rules)
            lots = take_lots(ordered, q, price, as_of, rules)
        cost = rules.order_cost(q, price)
        reason = _trade_reason(s, i, out, side)
        trades.append(Trade(ticker, side, q, price, q * price, lots, float(cost), reason))
    return tuple(trades)


def _finish(
    account: Account,
    s: _State,
    rules: RebalanceRules,
    as_of: dt.date,
    sol: Solution,
    blocks: tuple[Block, ...],
    flows: tuple[float, float],
    no_trade: str | None,
    prob: Problem | None = None,
    out: np.ndarray | None = None,
) -> TradePlan:
    trades_t = _trades(account, s, rules, as_of, sol.z, out)
    h_after = s.h + sol.z
    cash_after = s.cash0 - float(s.p @ sol.z) - sum(t.cost for t in trades_t)
    value_after = cash_after + float(s.p @ h_after)
    positions = tuple(
        Position(
            t,
            float(h_after[i]),
            float(s.p[i] * h_after[i]),
            float(s.p[i] * h_after[i] / value_after) if value_after > 0 else 0.0,
            float(s.w[i]),
            float(s.band[i]),
        )
        for i, t in enumerate(s.tickers)
    )
    after = post_trade_account(account, trades_t, cash_after, as_of)
    warnings = [sol.warning] if sol.warning else []
    reserve = rules.reserve(s.value)
    if s.value > 0 and reserve > (s.w_cash + s.band_cash) * s.value + 0.005:
        high = (  # the reserve wins over the targets: say so, not silently
            f"the cash reserve ({reserve:,.2f}, {reserve / s.value:.1%} of the value) is above "
            f"the cash target {s.w_cash:.1%} (band ±{s.band_cash:.1%}): the trades keep it, "
            "so the other positions fall short of their targets"
        )
        said = "the cash reserve (" in (sol.warning or "")  # a re-plan said it (its value)
        warnings += [] if said else [high]
    return TradePlan(
        account=account.id,
        as_of=as_of,
        trades=trades_t,
        holdings=positions,
        cash_before=account.cash,
        deposit=flows[0],
        withdraw=flows[1],
        cash_after=cash_after,
        cash_target=s.w_cash,
        value_before=s.value,
        value_after=value_after,
        method=sol.method,
        method_note=no_trade or sol.note,
        blocked=blocks,
        no_trade_reason=no_trade
        if no_trade
        else (None if trades_t else "no trade improves on the current holdings"),
        account_after=after,
        warnings=tuple(warnings),
    )

"""What each strategy decides in a month: the policy (the monthly job's pipeline), fixed
weights, buy-and-hold. Every decision is made on an account file whose ``[account]
as_of`` is the decision date, so the pipeline sees no data after it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from optimizer.errors import ConfigError, InfeasibleError, PlanError, SolverError
from optimizer.workflows.pipeline import Pipeline, is_cash, plan_trades

if TYPE_CHECKING:
    from optimizer.account import AccountConfig
    from optimizer.rebalance.holdings import Account
    from optimizer.rebalance.result import TradePlan


@dataclass(frozen=True)
class Decision:
    """A month's plan (None: trade nothing), the weights aimed at, and notes."""

    plan: TradePlan | None
    targets: dict[str, float]
    notes: tuple[str, ...] = ()


class Strategy(Protocol):
    name: str
    kind: str
    description: str

    def decide(self, as_of: dt.date, account: Account, withdraw: float) -> Decision: ...


def at_date(cfg: AccountConfig, as_of: dt.date) -> AccountConfig:
    """``cfg`` as the monthly job would run it on ``as_of``: ``[account] as_of`` set (the one
    place the data is cut), and no holdings or prices file (the backtest's own lots are
    valued at the data's prices on that date)."""
    info = cfg.account.model_copy(update={"as_of": as_of, "holdings": None, "prices": None})
    return dataclasses.replace(cfg, account=info)


@dataclass
class PolicyStrategy:
    """The account file's policy through :meth:`Pipeline.run`, as the monthly job runs it."""

    cfg: AccountConfig
    pipeline: Pipeline
    name: str = "policy"
    kind: str = "policy"
    description: str = "the account file's policy, re-optimized monthly"

    def decide(self, as_of: dt.date, account: Account, withdraw: float) -> Decision:
        cfg = at_date(self.cfg, as_of)
        try:
            run = self.pipeline.run(cfg, account=account, withdraw=withdraw, as_of=as_of)
        except (InfeasibleError, SolverError, PlanError) as exc:  # the job's keep-holdings
            return Decision(None, {}, (f"kept holdings: {exc.kind}: {exc.render()}",))
        return Decision(run.plan, dict(run.allocation.weights), tuple(run.warnings))


@dataclass
class FixedStrategy:
    """Fixed weights, traded back to with the account's [rebalance] rules (its drift bands,
    costs, lots) every month, or only in the first month (``once``: buy-and-hold)."""

    cfg: AccountConfig
    pipeline: Pipeline
    weights: dict[str, float]
    name: str
    kind: str = "fixed"
    description: str = ""
    once: bool = False
    _done: bool = False

    def decide(self, as_of: dt.date, account: Account, withdraw: float) -> Decision:
        if self.once and self._done:
            return Decision(None, {})
        cfg = at_date(self.cfg, as_of)
        estimate = self.pipeline.estimate(cfg)  # cached: the policy's estimate this month
        position = self.pipeline.position(cfg, estimate, None, as_of, account=account)
        self._done = True
        try:
            plan = plan_trades(cfg, position, self.weights, withdraw=withdraw)
        except (InfeasibleError, PlanError) as exc:  # as the policy: keep the holdings
            return Decision(None, self.weights, (f"kept holdings: {exc.kind}: {exc.render()}",))
        return Decision(plan, self.weights)


@dataclass
class HoldStrategy:
    """Keep the initial holdings: never trade."""

    name: str = "buy-and-hold"
    kind: str = "buy-and-hold"
    description: str = "the initial holdings, never traded"

    def decide(self, as_of: dt.date, account: Account, withdraw: float) -> Decision:
        return Decision(None, {})


def default_benchmark(cfg: AccountConfig) -> dict[str, float] | None:
    """60/40: 60 % over the assets tagged ``equity``, 40 % over those tagged ``bonds``, equal
    within each; None when the universe has no such tags."""
    assets = cfg.policy.universe.assets
    equity = [t for t, a in assets.items() if "equity" in a.tags]
    bonds = [t for t, a in assets.items() if "bonds" in a.tags]
    if not equity or not bonds:
        return None
    return {**{t: 0.6 / len(equity) for t in equity}, **{t: 0.4 / len(bonds) for t in bonds}}


def parse_benchmark(text: str, cfg: AccountConfig) -> dict[str, float]:
    """``"SPY=0.6,TLT=0.4"`` → weights over universe tickers, summing to 1."""
    known = {t.upper(): t for t in cfg.tickers}
    weights: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        ticker, sep, value = part.partition("=")
        ticker = ticker.strip().upper()
        if not sep or ticker not in known:
            raise ConfigError(
                f"not a universe ticker=weight; tickers: {', '.join(cfg.tickers)}",
                key="--benchmark",
                value=part or text,
                hint='e.g. --benchmark "LARGE=0.6,BOND=0.4"',
            )
        try:
            w = float(value)
        except ValueError:
            w = math.nan
        if not (math.isfinite(w) and 0 <= w <= 1):
            raise ConfigError("weight is not a number from 0 to 1", key="--benchmark", value=part)
        weights[known[ticker]] = weights.get(known[ticker], 0.0) + w
    total = sum(weights.values())
    if abs(total - 1) > 1e-6:
        raise ConfigError(f"weights sum to {total:.6g}, not 1", key="--benchmark", value=text)
    return weights


def describe(weights: dict[str, float]) -> str:
    return ", ".join(f"{t} {w:.0%}" for t, w in weights.items())


def benchmark_strategies(
    cfg: AccountConfig,
    pipeline: Pipeline,
    specs: tuple[str, ...],
    holds_securities: bool,
) -> list[Strategy]:
    """Fixed-weight benchmarks (``specs``, or the default 60/40) and buy-and-hold: of the
    initial holdings, or, from cash, of the first benchmark bought in the first month."""
    fixed = [(s, parse_benchmark(s, cfg)) for s in specs]
    if not fixed and (default := default_benchmark(cfg)) is not None:
        fixed = [("60/40", default)]
    out: list[Strategy] = [
        FixedStrategy(cfg, pipeline, w, name, description=f"{describe(w)}, rebalanced monthly")
        for name, w in fixed
    ]
    if holds_securities:
        out.append(HoldStrategy())
    elif fixed:
        w = fixed[0][1]
        out.append(
            FixedStrategy(cfg, pipeline, w, "buy-and-hold", kind="buy-and-hold", once=True,
                          description=f"{describe(w)} bought in the first month, then held")
        )  # fmt: skip
    return out


def cash_ticker(cfg: AccountConfig) -> str | None:
    return next((t for t in cfg.tickers if is_cash(cfg, t)), None)

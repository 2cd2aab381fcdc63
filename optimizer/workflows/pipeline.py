"""One account through the whole pipeline: data → estimate → allocation → trade plan.

``Pipeline`` keeps what can be shared between accounts: estimates (keyed by the data,
estimation and scenario sections and the tickers) and compiled optimization problems
(keyed by the policy and the estimate's shape), so a batch of accounts on the same policy
pays for one compilation and one estimate per worker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.config import SharedSections, resolve_path
from optimizer.errors import (
    ConfigError,
    DataError,
    InfeasibleError,
    PlanError,
    SolverError,
    naming_file,
)
from optimizer.tickers import CASH

if TYPE_CHECKING:
    from optimizer.account import AccountConfig
    from optimizer.data.freshness import LastPrice, Staleness
    from optimizer.estimate import Estimate
    from optimizer.optimize.result import Allocation
    from optimizer.optimize.taxterm import TaxLots
    from optimizer.rebalance.holdings import Account
    from optimizer.rebalance.recent import RecentTrades
    from optimizer.rebalance.result import TradePlan
    from optimizer.scenario.build import ScenarioModel

MAX_CONFIGS = 64  # account files kept parsed per process


@dataclass(frozen=True)
class Position:
    """An account's holdings valued at prices: the current weights of the universe."""

    account: Account | None
    prices: dict[
        str, float
    ]  # ticker -> price, every universe ticker but cash (none without holdings)
    weights: dict[str, float]  # ticker -> current weight (cash under the cash ticker)
    value: float
    as_of: dt.date
    notes: tuple[str, ...] = ()  # e.g. other accounts in the holdings file
    realized_ytd: float | None = None  # the year's realised gains from a recent-trades file


@dataclass(frozen=True)
class AccountRun:
    """Everything one account's run produced."""

    config: AccountConfig
    estimate: Estimate
    allocation: Allocation
    position: Position
    plan: TradePlan | None  # None when the account has no holdings file
    without_views: Allocation | None = None  # the same policy on the estimate before [views]
    tax_lots: TaxLots | None = None  # the lots of a tax-aware allocation ([tax] taxable)
    tax_blind: Allocation | None = None  # the same policy blind to taxes (when compared)
    stale: Staleness | None = None  # the last price is older than the limit allows

    @property
    def warnings(self) -> list[str]:
        """Everything the user must be told: stale prices, optimizer and planner fallbacks,
        notes on the holdings."""
        plan = self.plan.warnings if self.plan is not None else ()
        stale = [self.stale.message()] if self.stale else []
        if stale and self.plan is not None and self.position.as_of < self.stale.used_on:
            stale.append(  # the trades' tax rules are not those of the day they are sent
                f"the trades' holding periods and wash-sale windows are counted to "
                f"{self.position.as_of.isoformat()} (the data's as-of date), not to "
                f"{self.stale.used_on.isoformat()}: set [account] as_of to the trade date"
            )
        data = self.estimate.provenance.warnings
        return [*stale, *data, *self.allocation.warnings, *plan, *self.position.notes]


@dataclass
class Pipeline:
    """Caches shared across accounts (one per process; not thread-safe)."""

    estimates: dict[str, Estimate] = field(default_factory=dict)
    problems: dict[str, Any] = field(default_factory=dict)
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    last_dates: dict[str, LastPrice | None] = field(default_factory=dict)
    configs: dict[tuple[str, int, int, int, int], AccountConfig] = field(default_factory=dict)
    closes: dict[str, tuple[float, dt.date] | None] = field(default_factory=dict)
    # account files' sections validated once (optimizer.config.validate); never changed
    sections: SharedSections = field(default_factory=dict)
    compilations: int = 0
    # the day this process's work started: the monthly job dates a past period with it
    today: dt.date = field(default_factory=dt.date.today)

    def account(self, path: str | Path, as_of: dt.date | None = None) -> AccountConfig:
        """The validated account file, parsed once per process while it is unchanged (a
        shared policy file of the monthly job serves every account that names it). With
        ``as_of`` (a past period's rebalance date), the file is read as if its ``[account]
        as_of`` were that date or earlier: no price or estimate from after it."""
        from optimizer.account import load_account

        p = Path(path)
        try:
            st = p.stat()  # the path, and the file it names as it is now
            key = (str(p), st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size, as_of)
        except OSError:
            return load_account(p)  # raises the one-line ConfigError
        if key not in self.configs:
            if len(self.configs) >= MAX_CONFIGS:  # one file per account: keep the recent ones
                del self.configs[next(iter(self.configs))]
            cfg = load_account(p, shared=self.sections)
            if as_of is not None and (cfg.account.as_of is None or cfg.account.as_of > as_of):
                info = cfg.account.model_copy(update={"as_of": as_of})
                cfg = dataclasses.replace(cfg, account=info)
            self.configs[key] = cfg
        return self.configs[key]

    def estimate(self, cfg: AccountConfig) -> Estimate:
        """The account's estimate (shared by accounts saying the same); with [account]
        as_of, no data after that date is used."""
        from optimizer.scenario.build import build_estimate
        from optimizer.views import apply_views

        key = _key(cfg, "data", "estimation", "scenarios") + "|" + ",".join(cfg.tickers)
        key += f"|{cfg.account.as_of}"
        if key not in self.estimates:
            with naming_file(cfg.path), _as_of_in_data(cfg):
                self.estimates[key] = build_estimate(
                    _data_until(cfg), cfg.estimation, cfg.scenarios, cfg.tickers,
                    base_dir=cfg.base_dir,
                )  # fmt: skip
        _check_currency(cfg, self.estimates[key])
        if not cfg.views.view:
            return self.estimates[key]
        tilted = key + "|" + _key(cfg, "views")
        if tilted not in self.estimates:  # the views tilt the shared estimate
            with naming_file(cfg.path):
                self.estimates[tilted] = apply_views(self.estimates[key], cfg.views)
        return self.estimates[tilted]

    def scenario_model(self, cfg: AccountConfig) -> ScenarioModel:
        """The account's history and fitted scenario engine, for estimates of scenario sets
        that are not in files (the what-if page's edits); not cached."""
        from optimizer.scenario.build import fit_scenario_model

        with naming_file(cfg.path), _as_of_in_data(cfg):
            return fit_scenario_model(
                _data_until(cfg), cfg.estimation, cfg.tickers, scenarios=True,
                base_dir=cfg.base_dir,
            )  # fmt: skip

    def prior_estimate(self, cfg: AccountConfig) -> Estimate:
        """The account's estimate before its views (for "with views / without")."""
        est = self.estimate(cfg)
        if est.views is None:
            return est
        key = _key(cfg, "data", "estimation", "scenarios") + "|" + ",".join(cfg.tickers)
        return self.estimates[key + f"|{cfg.account.as_of}"]

    def solver(self, cfg: AccountConfig, estimate: Estimate, tax_lots: int = 0) -> Any:
        """The compiled problem for this account's policy and the estimate's shape (with
        ``tax_lots`` lots per ticker in its tax term; 0: tax-blind)."""
        from dataclasses import replace

        from optimizer.optimize import Optimizer, Shape

        shape = replace(Shape.of(estimate), tax_lots=tax_lots)
        key = policy_key(cfg) + f"|{shape}"
        if key not in self.problems:
            self.problems[key] = Optimizer(cfg.policy).build(shape, file=str(cfg.path))
            self.compilations += 1
        return self.problems[key]

    def last_prices(
        self, cfg: AccountConfig, tickers: tuple[str, ...], as_of: dt.date | None = None
    ) -> dict[str, float]:
        """Each ticker's close on ``as_of`` (the estimate's date), or its last before."""
        from optimizer.scenario.build import last_prices

        key = _key(cfg, "data") + "|" + ",".join(tickers) + f"|{as_of}"
        if key not in self.prices:
            provider = cfg.data.provider(cfg.path)
            self.prices[key] = last_prices(provider, cfg.data, list(tickers), as_of=as_of)
        return self.prices[key]

    def last_close(
        self, cfg: AccountConfig, ticker: str, end: dt.date | None
    ) -> tuple[float, dt.date] | None:
        """``ticker``'s last close up to ``end`` ([data], its [account] as_of) and its date
        (None: no observation), e.g. a [tax.harvest] substitute's."""
        key = f"{_key(cfg, 'data')}|{ticker}|{end}"
        if key not in self.closes:
            data = _data_until(cfg)
            frame = cfg.data.provider(cfg.path).prices([ticker], data.start, end).frame
            series = frame[ticker].dropna() if ticker in frame.columns else None
            got = None
            if series is not None and len(series):
                got = (float(series.iloc[-1]), series.index[-1].date())
            self.closes[key] = got
        return self.closes[key]

    def last_price(self, cfg: AccountConfig, used_on: dt.date) -> LastPrice | None:
        """The oldest last price of the account's priced assets up to ``used_on`` (and
        [account] as_of, [data] end); None for a universe of cash only."""
        from optimizer.data.freshness import oldest_last_price

        tickers = [t for t in cfg.tickers if not is_cash(cfg, t)]
        data = _data_until(cfg)
        end = used_on if data.end is None or used_on < data.end else data.end
        key = _key(cfg, "data") + "|" + ",".join(tickers) + f"|{end}"
        if key not in self.last_dates:
            got = None
            if tickers:
                with naming_file(cfg.path):
                    got = oldest_last_price(
                        cfg.data.provider(cfg.path).prices(tickers, data.start, end)
                    )
            self.last_dates[key] = got
        return self.last_dates[key]

    def staleness(
        self,
        cfg: AccountConfig,
        used_on: dt.date | None,
        limit: int | None,
        priced_on: dt.date | None = None,
        ended_by: str | None = None,
    ) -> Staleness | None:
        """Stale prices for a trade on ``used_on`` (default: [account] as_of, else today),
        of closes taken on ``priced_on`` or before (the estimate's as-of date: a series
        ending earlier, ``ended_by``, holds every price to it, and is the one named)."""
        from optimizer.data.freshness import LastPrice, staleness

        if limit is None:
            return None
        used_as = "the trade date" if used_on else "today"
        if used_on is None and cfg.account.as_of:
            used_as = "the as-of date"
        used_on = used_on or cfg.account.as_of or dt.datetime.now(dt.UTC).date()
        last = self.last_price(cfg, min(used_on, priced_on) if priced_on else used_on)
        if last is not None and ended_by and priced_on == last.date:  # cut there, by it
            last = LastPrice(last.source, ended_by, last.date)
        return staleness(last, used_on, limit, used_as) if last is not None else None

    def run(
        self,
        cfg: AccountConfig,
        *,
        holdings_path: Path | None = None,
        deposit: float = 0.0,
        withdraw: float = 0.0,
        plan: bool = True,
        as_of: dt.date | None = None,
        account_id: str | None = None,
        account: Account | None = None,
        compare_tax_blind: bool = False,
        max_price_age: int | None = None,
        own_file: bool = False,
        estimates: tuple[Estimate, Estimate] | None = None,
    ) -> AccountRun:
        """Estimate, optimize and (with holdings) plan the trades of one account. A taxable
        account's optimizer sees its tax bill, and ``compare_tax_blind`` also solves the
        policy blind to taxes; ``account`` (lots and cash in memory, e.g. a backtest's)
        replaces the holdings file; with ``max_price_age`` (business days), prices older
        than that on the trade date are reported in ``AccountRun.stale``; ``estimates`` (the
        estimate and the one before [views], e.g. the what-if page's edited scenarios)
        replace the account's own."""
        holdings = holdings_path or cfg.holdings_path
        notes: tuple[str, ...] = ()
        recent = None
        if account is None and holdings is not None:  # a bad file fails before estimating
            account, notes = self.read_holdings(cfg, holdings, account_id, own_file=own_file)
            recent = self.recent_trades(cfg)
        estimate = self.estimate(cfg) if estimates is None else estimates[0]
        position = self.position(
            cfg, estimate, holdings, as_of, account_id, account, deposit - withdraw,
            own_file=own_file, notes=notes, recent=recent,
        )  # fmt: skip
        if position.account is None and (deposit or withdraw):
            raise ConfigError(
                f"{'a deposit' if deposit else 'a withdrawal'} needs the account's holdings",
                file=str(cfg.path),
                key="account.holdings",
                hint='set [account] holdings = "holdings.csv" (a new account: a CASH row of 0)',
            )
        current = position.weights if position.account is not None else None
        tax = account_tax_lots(cfg, position)
        if cfg.tax.taxable and tax is None:
            why = "[tax] taxable = true, but there are no tax lots: the allocation is tax-blind"
            position = dataclasses.replace(position, notes=(*position.notes, why))
        blind = None
        from optimizer.optimize import Inputs

        with naming_file(cfg.path, ConfigError, InfeasibleError, SolverError):
            n_lots = 0 if tax is None else tax.n_lots
            solver = self.solver(cfg, estimate, n_lots)
            allocation = solver.solve(Inputs(estimate, current, tax))
            if tax is not None and compare_tax_blind:
                blind = self.solver(cfg, estimate).solve(Inputs(estimate, current))
            without = None
            if estimate.views is not None:  # the views' effect: the same run without them
                prior = self.prior_estimate(cfg) if estimates is None else estimates[1]
                without = self.solver(cfg, prior, n_lots).solve(Inputs(prior, current, tax))
        trade_plan = None
        if plan and position.account is not None:
            order = allocation.tax.lot_order if allocation.tax is not None else None
            with naming_file(holdings or cfg.path):  # (an account worth more than the bound)
                trade_plan = plan_trades(
                    cfg, position, allocation.weights, deposit, withdraw, order
                )
        prov = estimate.provenance
        stale = self.staleness(
            cfg, as_of, max_price_age, prov.as_of if prov else None, prov.ended_by if prov else None
        )
        return AccountRun(
            cfg, estimate, allocation, position, trade_plan,
            without_views=without, tax_lots=tax, tax_blind=blind, stale=stale,
        )  # fmt: skip

    def position(
        self,
        cfg: AccountConfig,
        estimate: Estimate,
        holdings: Path | None,
        as_of: dt.date | None = None,
        account_id: str | None = None,
        account: Account | None = None,
        flow: float = 0.0,
        *,
        own_file: bool = False,
        notes: tuple[str, ...] = (),
        recent: RecentTrades | None = None,
    ) -> Position:
        """Current holdings valued at the account's prices (or the data's last prices);
        ``as_of`` (the trade date for tax rules) defaults to [account] as_of, then to the
        data's last date. ``own_file``: the holdings file is this account's alone (an
        account folder's), so rows of another account in it are an error. ``account`` (with
        the ``notes`` on its file) and ``recent`` (the recent-trades file) are read here
        when not given. ``flow`` (a deposit, or a withdrawal < 0) is cash before trading:
        the weights and value are the account's after it, as the planner's drift is."""
        tickers = tuple(t for t in cfg.tickers if not is_cash(cfg, t))
        prov = estimate.provenance
        data_as_of = (prov.as_of or prov.last) if prov else None
        as_of = as_of or cfg.account.as_of or data_as_of or dt.date.today()
        if holdings is None and account is None:  # nothing to value or trade
            return Position(None, {}, {}, 0.0, as_of)
        prices = self._prices(cfg, tickers, data_as_of)
        if cfg.tax.harvest is not None:  # the substitutes, priced like the universe
            from optimizer.workflows.substitutes import substitute_prices

            prices = {**prices, **substitute_prices(self, cfg, data_as_of, as_of)}
        if account is None:
            account, notes = self.read_holdings(cfg, holdings, account_id, own_file=own_file)
        holdings = holdings or cfg.path
        check_lots_before(account, as_of, holdings)
        realized = None
        if recent is None:
            recent = self.recent_trades(cfg)
        if recent is not None:
            recent.check_before(as_of)
            account, realized = recent.apply(account), recent.realized_ytd(as_of)
        weights, value = current_weights(account, prices, cfg, holdings, flow)
        return Position(account, prices, weights, value, as_of, notes, realized)

    @staticmethod
    def read_holdings(
        cfg: AccountConfig, holdings: Path, account_id: str | None = None, *, own_file: bool = False
    ) -> tuple[Account, tuple[str, ...]]:
        """The account's lots and cash from its holdings file, and notes on the file (see
        :func:`pick_account`)."""
        from optimizer.rebalance.holdings import load_holdings

        accounts = load_holdings(holdings, whole_shares=not cfg.rebalance.fractional)
        return pick_account(
            accounts, account_id or cfg.account.id, holdings, others_allowed=not own_file
        )

    @staticmethod
    def recent_trades(cfg: AccountConfig) -> RecentTrades | None:
        """The account's recent-trades file ([account] recent_trades), or None."""
        if cfg.recent_trades_path is None:
            return None
        from optimizer.rebalance.recent import load_recent_trades

        return load_recent_trades(cfg.recent_trades_path)

    def _prices(
        self, cfg: AccountConfig, tickers: tuple[str, ...], as_of: dt.date | None
    ) -> dict[str, float]:
        if cfg.prices_path is None:
            return self.last_prices(cfg, tickers, as_of)
        from optimizer.rebalance.holdings import load_prices

        prices = load_prices(cfg.prices_path)
        missing = [t for t in tickers if t not in prices]
        if missing:
            raise ConfigError(
                "no price for universe tickers",
                file=str(cfg.prices_path),
                key="ticker",
                value=", ".join(missing),
            )
        return {t: prices[t] for t in tickers}


def plan_trades(
    cfg: AccountConfig,
    position: Position,
    weights: dict[str, float],
    deposit: float = 0.0,
    withdraw: float = 0.0,
    lot_order: dict[str, tuple[str, ...]] | None = None,
) -> TradePlan:
    """The whole-share plan from ``position`` to ``weights`` under the account's rules;
    with ``lot_order`` (a tax-aware allocation's), lots are sold in that order."""
    from optimizer.rebalance.plan import plan
    from optimizer.rebalance.taxlots import lot_order_rules, with_lot_ids

    account, rules = position.account, cfg.tax.rules_for(cfg.rebalance)
    if lot_order is not None:
        account = with_lot_ids(account)
        if cfg.tax.harvest is not None:  # held substitutes' lots, in tax-optimal order too
            from optimizer.workflows.substitutes import substitute_lot_order

            lot_order = {**lot_order, **substitute_lot_order(cfg, position, account)}
        rules = lot_order_rules(rules, lot_order)
    targets = {(CASH if is_cash(cfg, t) else t): w for t, w in weights.items()}
    total = sum(targets.values())
    targets = {t: w / total for t, w in targets.items() if w > 1e-9}
    if cfg.tax.harvest is not None:
        from optimizer.workflows.substitutes import substitute_targets

        targets = substitute_targets(cfg, position, targets)
    trade_plan = plan(
        account,
        targets,
        position.prices,
        rules,
        deposit=deposit,
        withdraw=withdraw,
        as_of=position.as_of,
    )
    if cfg.tax.harvest is None:
        return trade_plan
    from optimizer.rebalance.harvest import harvest

    return harvest(
        trade_plan, position.prices, cfg.tax.rules_for(cfg.rebalance), cfg.tax.harvest,
        short_term_rate=cfg.tax.short_term_rate, long_term_rate=cfg.tax.long_term_rate,
    )  # fmt: skip


def account_tax_lots(cfg: AccountConfig, position: Position) -> TaxLots | None:
    """The account's lots for the optimizer's tax term ([tax] taxable, lots held)."""
    if position.account is None or not cfg.tax.taxable:
        return None
    from optimizer.rebalance.taxlots import tax_lots

    tax = cfg.tax
    if position.realized_ytd is not None:  # from the recent-trades file
        tax = tax.model_copy(update={"realized_gains_ytd": position.realized_ytd})
    return tax_lots(
        tax, position.account, cfg.tickers, position.prices, position.weights,
        position.value, position.as_of, tax.rules_for(cfg.rebalance),
    )  # fmt: skip


def check_lots_before(account: Account, as_of: dt.date, file: Path) -> None:
    """A lot acquired after the trade date is an error naming the file, the lot and its date
    (its holding period, and the same-day and wash-sale rules, would be wrong)."""
    for lot in account.lots:
        if lot.acquired is not None and lot.acquired > as_of:
            raise PlanError(
                f"lot acquired after the as-of date {as_of.isoformat()}",
                file=str(file),
                key=f"{f'line {lot.line}: ' if lot.line else ''}account {account.id} "
                f"lot {lot.lot_id or lot.ticker} acquired",
                value=lot.acquired.isoformat(),
                hint="fix the date, or trade on or after it (the trade date: [account] as_of, "
                "rebalance --as-of, or the monthly job's period)",
            )


def current_weights(
    account: Account,
    prices: dict[str, float],
    cfg: AccountConfig,
    file: Path,
    flow: float = 0.0,
) -> tuple[dict[str, float], float]:
    """Weights of ``account`` over the universe after ``flow`` (a deposit, or a withdrawal
    < 0) is added to its cash; a held ticker outside it is an error. An empty account
    funded by a deposit (a new one) is that much cash."""
    cash_ticker = next((t for t in cfg.tickers if is_cash(cfg, t)), None)
    values: dict[str, float] = {t: 0.0 for t in cfg.tickers}
    held_for = cfg.tax.harvest.held_for() if cfg.tax.harvest is not None else {}
    for ticker, shares in account.positions.items():
        if ticker in held_for:  # a substitute: exposure to the ticker it stands in for
            values[held_for[ticker]] += shares * prices[ticker]
            continue
        if ticker not in prices and ticker == cash_ticker:  # the cash tag: not a fund
            raise PlanError(
                "holds shares of the ticker that stands for the account's cash balance "
                "(tagged 'cash')",
                file=str(file),
                key=f"account {account.id} ticker",
                value=ticker,
                hint=f"hold cash as a CASH row, or drop the cash tag of {ticker} in "
                f"{cfg.path.name} to hold it as a priced fund",
            )
        if ticker not in prices:
            raise PlanError(
                "holds a ticker outside the universe of its account file",
                file=str(file),
                key=f"account {account.id} ticker",
                value=ticker,
                hint=f"add it to [universe.assets] of {cfg.path.name}",
            )
        values[ticker] += shares * prices[ticker]
    if account.cash and cash_ticker is None:
        raise PlanError(
            "holds cash but the universe has no asset tagged 'cash'",
            file=str(file),
            key=f"account {account.id} CASH",
            value=account.cash,
        )
    if cash_ticker is not None:
        values[cash_ticker] += account.cash + flow
    value = sum(values.values())
    if flow < 0 and value <= 0:
        raise PlanError(
            "the withdrawal takes all the account is worth or more (selling costs leave less)",
            file=str(file), key="withdraw", value=-flow,
            hint=f"the account is worth {value - flow:,.2f} before it",
        )  # fmt: skip
    if not math.isfinite(value) or value <= 0:
        raise PlanError("the account has no value to allocate", file=str(file), value=value)
    return {t: v / value for t, v in values.items()}, value


def _data_until(cfg: AccountConfig) -> Any:
    """The [data] section, ending at [account] as_of when that is earlier."""
    as_of, end = cfg.account.as_of, cfg.data.end
    if as_of is None or (end is not None and end <= as_of):
        return cfg.data
    return cfg.data.model_copy(update={"end": as_of})


@contextlib.contextmanager
def _as_of_in_data(cfg: AccountConfig) -> Iterator[None]:
    """An [account] as_of before the data is an error naming the file, the key and the date."""
    try:
        yield
    except DataError as exc:
        as_of = cfg.account.as_of
        if as_of is None or not exc.message.startswith("no observations between"):
            raise
        raise ConfigError(
            f"before the data ({exc.key}: {exc.message})",
            file=str(cfg.path),
            key="account.as_of",
            value=as_of.isoformat(),
            hint="choose a date the price history covers",
        ) from None


def is_cash(cfg: AccountConfig, ticker: str) -> bool:
    return ticker == CASH or "cash" in cfg.policy.universe.assets[ticker].tags


def pick_account(
    accounts: dict[str, Account], account_id: str, file: Path, *, others_allowed: bool = True
) -> tuple[Account, tuple[str, ...]]:
    """This account's lots, and a note naming the other accounts the file also lists (a
    custodian export may hold many; a typo in an id would otherwise go unseen). Without
    ``others_allowed`` (the file is this account's own) another account's rows are an
    error: a mistyped id would leave its lots out of the plan."""
    if account_id not in accounts:
        known = ", ".join(sorted(accounts)) or "none"
        raise PlanError(
            f"no lots for this account; accounts in the file: {known}",
            file=str(file),
            key="account",
            value=account_id,
        )
    others = sorted(a for a in accounts if a != account_id)
    if others and not others_allowed:
        raise PlanError(
            f"rows of another account in {account_id}'s own holdings file",
            file=str(file),
            key="account",
            value=others[0],
            hint=f"an account folder's holdings.csv holds that account's lots only: fix the "
            f"id, or move the rows of {', '.join(others[:3])} to their own account",
        )
    note = (
        (f"{file.name} also lists accounts {', '.join(others)}; only {account_id} was used",)
        if others
        else ()
    )
    return accounts[account_id], note


_KEYS: dict[tuple[str, tuple[int, ...], str], tuple[tuple[Any, ...], str]] = {}
_MAX_KEYS = 256


def _memo(
    cfg: AccountConfig,
    what: str,
    parts: tuple[Any, ...],
    reads_paths: bool,
    make: Callable[[], str],
) -> str:
    """``make()`` once per ``what`` and validated sections ``parts`` (and, when the key
    resolves file-relative paths, per account folder): accounts sharing a policy file, or
    copying one policy into their own files, share the sections (validated once per
    :class:`Pipeline`, see :func:`optimizer.config.validate`), so their keys are made once.
    The entry holds the sections, so their ids are not reused while it is there."""
    memo = (what, tuple(map(id, parts)), str(cfg.base_dir.resolve()) if reads_paths else "")
    hit = _KEYS.get(memo)
    if hit is not None and all(a is b for a, b in zip(hit[0], parts, strict=True)):
        return hit[1]
    if len(_KEYS) >= _MAX_KEYS:
        _KEYS.pop(next(iter(_KEYS), None), None)  # type: ignore[arg-type]
    key = make()
    _KEYS[memo] = (parts, key)
    return key


def _key(cfg: AccountConfig, *sections: str) -> str:
    """A cache key for ``sections`` of ``cfg``: their content, with the file-relative paths
    (csv folders, cache folder, extra scenario folder) resolved, so accounts in different
    folders that say the same thing share one entry."""
    parts = tuple(getattr(cfg, name) for name in sections)
    return _memo(
        cfg,
        ",".join(sections),
        parts,
        _reads_paths(cfg, sections),
        lambda: _make_key(cfg, sections),
    )


def _reads_paths(cfg: AccountConfig, sections: tuple[str, ...]) -> bool:
    """Whether :func:`_make_key` resolves file-relative paths of ``sections`` (a csv
    source, a cache folder, an extra scenario folder)."""
    data = "data" in sections and (cfg.data.source.startswith("csv:") or bool(cfg.data.cache_dir))
    return data or ("scenarios" in sections and cfg.scenarios.dir is not None)


def _make_key(cfg: AccountConfig, sections: tuple[str, ...]) -> str:
    parts = []
    for name in sections:
        data = getattr(cfg, name).model_dump(mode="json")
        if name == "data":
            data["source"] = _resolved_source(cfg)
            if data.get("cache_dir"):
                data["cache_dir"] = str(resolve_path(data["cache_dir"], cfg.path).resolve())
        if name == "scenarios" and data.get("dir"):
            data["dir"] = str((cfg.base_dir / data["dir"]).resolve())
        parts.append(json.dumps(data, sort_keys=True))
    return "|".join(parts)


def _resolved_source(cfg: AccountConfig) -> str:
    scheme, sep, arg = cfg.data.source.partition(":")
    if not (sep and scheme == "csv"):
        return cfg.data.source
    paths = [str(resolve_path(p.strip(), cfg.path).resolve()) for p in arg.split(",")]
    return "csv:" + ",".join(paths)


def policy_key(cfg: AccountConfig) -> str:
    """A cache key for the policy's content (universe, objective, constraints)."""
    p = cfg.policy
    parts = (p.universe, p.objective, p.constraints)
    return _memo(cfg, "policy", parts, False, lambda: "|".join(m.model_dump_json() for m in parts))


def _check_currency(cfg: AccountConfig, estimate: Estimate) -> None:
    """Prices quoted in another currency than the account's would value a pound as a
    dollar; a source that says its currency (Yahoo) is checked."""
    got = estimate.provenance.currency if estimate.provenance is not None else None
    if got is not None and got.upper() != cfg.account.currency.upper():
        raise ConfigError(
            f"prices are in {got}, the account in {cfg.account.currency}",
            file=str(cfg.path),
            key="account.currency",
            value=cfg.account.currency,
            hint=f'set [account] currency = "{got}", or use tickers quoted in '
            f"{cfg.account.currency}",
        )

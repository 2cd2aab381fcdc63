"""The Python front door: each pipeline stage as one call, pandas in and out.

Re-exported by ``optimizer/__init__.py`` (``optimizer.prices``, ``optimizer.scenario_estimate``,
``optimizer.plan_trades``, ...); see docs/api.md. Every function here is a thin adapter over
the functions the CLI and the workflows use (``data.get_provider``,
``scenario.build.build_estimate``, ``optimize.core``, ``rebalance.plan.plan``): no second
implementation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from optimizer.estimate import Estimate
    from optimizer.rebalance.holdings import Account
    from optimizer.rebalance.result import TradePlan
    from optimizer.rebalance.rules import RebalanceRules

DateLike = str | dt.date | None


def prices(
    source: str,
    tickers: Sequence[str],
    start: DateLike = None,
    end: DateLike = None,
    *,
    cache_dir: str | Path | None = None,
    offline: bool = False,
) -> pd.DataFrame:
    """Validated, aligned adjusted closes, (n_dates, n_tickers), from ``source``.

    ``source`` is ``"sample"``, ``"yahoo"`` or ``"csv:PATH[,PATH...]"`` as in ``[data]``;
    ``start`` / ``end`` are dates or ``"YYYY-MM-DD"``. The frame's
    ``attrs["provenance"]`` is the :class:`~optimizer.data.base.Provenance`
    (``Estimate.from_prices`` carries it on).
    """
    from optimizer.data import get_provider

    provider = get_provider(source, cache_dir=cache_dir, offline=offline)
    data = provider.prices(list(tickers), _date(start, "start"), _date(end, "end"))
    frame = data.frame.copy()
    frame.attrs["provenance"] = data.provenance
    return frame


def scenario_estimate(
    source: str,
    tickers: Sequence[str],
    scenarios: Sequence[str | Mapping[str, Any]] | Mapping[str, float | None],
    *,
    start: DateLike = None,
    end: DateLike = None,
    horizon: str | Mapping[str, Any] | None = None,
    estimation: Mapping[str, Any] | None = None,
    seed: int | None = None,
    n_samples: int | None = None,
    scenario_dir: str | Path | None = None,
) -> Estimate:
    """Scenarios (their shocks, propagated through the factor model) in, the mixture out.

    ``scenarios`` names scenario files (built-in, or in ``scenario_dir``): ids, ``{"id":
    ..., "probability": ...}`` entries as in ``[scenarios] use``, or ``{id: probability}``.
    ``horizon`` is ``"3 months"`` or ``{"value": 3, "unit": "months"}``; ``estimation`` is
    the ``[estimation]`` table. The result is the same :class:`Estimate` an account file
    with these sections gets (``optimizer.scenario.build.build_estimate``).
    """
    from optimizer.config import validate
    from optimizer.data import DataConfig
    from optimizer.scenario.build import build_estimate
    from optimizer.scenario.config import EstimationConfig, ScenarioSetConfig

    data = validate(DataConfig, {"source": source, "start": start, "end": end}, prefix="data")
    est_table = dict(estimation or {})
    if horizon is not None:
        est_table["horizon"] = _horizon(horizon)
    est = validate(EstimationConfig, est_table, prefix="estimation")
    set_table: dict[str, Any] = {"use": _uses(scenarios)}
    for key, value in (("seed", seed), ("n_samples", n_samples), ("dir", scenario_dir)):
        if value is not None:
            set_table[key] = str(value) if key == "dir" else value
    sset = validate(ScenarioSetConfig, set_table, prefix="scenarios")
    return build_estimate(data, est, sset, list(tickers), base_dir=Path.cwd())


def scenario_table(estimate: Estimate, weights: Any = None) -> pd.DataFrame:
    """One row per scenario of ``estimate``: probability, plausibility and each asset's
    horizon mean return; with ``weights`` (a Series, mapping or :class:`Allocation`, summing
    to 1, as ``capalloc stress --weights``) also the portfolio's horizon mean return
    (column ``portfolio``)."""
    import pandas as pd

    rows = {
        s.id: {
            "title": s.title,
            "probability": s.probability,
            "plausibility": s.plausibility,
            "mahalanobis": s.mahalanobis,
            **dict(zip(estimate.tickers, map(float, s.mu), strict=True)),
        }
        for s in estimate.scenarios
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scenario"
    if weights is not None:
        from optimizer.scenario.stress import check_weights

        given = check_weights(_weights(weights).to_dict(), known=estimate.tickers)
        w = pd.Series(given, dtype=float).reindex(list(estimate.tickers)).fillna(0.0)
        table["portfolio"] = table[list(estimate.tickers)].to_numpy() @ w.to_numpy()
    return table


def plan_trades(
    holdings: str | Path | Account,
    targets: Any,
    prices: Any,
    rules: RebalanceRules | Mapping[str, Any] | None = None,
    *,
    account: str | None = None,
    deposit: float = 0.0,
    withdraw: float = 0.0,
    as_of: DateLike = None,
) -> TradePlan:
    """Whole-share, tax-aware trades from ``holdings`` to ``targets``.

    ``holdings`` is a lots CSV (``account`` picks one of its accounts when it lists
    several) or an :class:`~optimizer.rebalance.holdings.Account`; ``targets`` an
    :class:`Allocation`, a Series or a mapping ticker -> weight (``CASH`` is cash; weights
    are divided by their sum and those below 1e-9 dropped, as for a proposal); ``prices`` a
    Series or mapping ticker -> price, or a price frame (its last row with a value per
    ticker); ``rules`` the ``[rebalance]`` table or :class:`RebalanceRules`.
    """
    from optimizer.config import validate
    from optimizer.rebalance.plan import plan
    from optimizer.rebalance.rules import RebalanceRules

    if not isinstance(rules, RebalanceRules):
        rules = validate(RebalanceRules, dict(rules or {}), prefix="rebalance")
    acct = _account(holdings, account, whole_shares=not rules.fractional)
    w = _weights(targets)  # normalised as Pipeline.plan_trades does for a proposal
    total = float(w.sum())
    targets_map = {str(t): float(v) / total for t, v in w.items() if v > 1e-9}
    return plan(
        acct,
        targets_map,
        _last_prices(prices),
        rules,
        deposit=deposit,
        withdraw=withdraw,
        as_of=_date(as_of, "as_of"),
    )


def _account(holdings: Any, account_id: str | None, *, whole_shares: bool) -> Account:
    from optimizer.rebalance.holdings import Account, load_holdings
    from optimizer.workflows.pipeline import pick_account

    if isinstance(holdings, Account):
        return holdings
    accounts = load_holdings(holdings, whole_shares=whole_shares)
    if account_id is None and len(accounts) == 1:
        account_id = next(iter(accounts))
    return pick_account(accounts, account_id or "", Path(holdings))[0]


def _weights(weights: Any) -> pd.Series:
    """A float Series ticker -> weight from an Allocation, a Series or a mapping."""
    import pandas as pd

    if hasattr(weights, "weights_series"):  # an Allocation: its weights as solved
        weights = weights.weights
    return pd.Series(weights, dtype=float)


def _last_prices(prices: Any) -> dict[str, float]:
    import pandas as pd

    if isinstance(prices, pd.DataFrame):
        last = prices.ffill().iloc[-1] if len(prices) else pd.Series(dtype=float)
        prices = last.dropna()  # a ticker without any price is left out: the planner names it
    return {str(t): float(p) for t, p in dict(prices).items()}


def _uses(scenarios: Any) -> list[dict[str, Any]]:
    if isinstance(scenarios, Mapping):
        return [{"id": k, "probability": p} for k, p in scenarios.items()]
    return [{"id": s} if isinstance(s, str) else dict(s) for s in scenarios]


def _horizon(horizon: str | Mapping[str, Any]) -> Any:
    if isinstance(horizon, str):
        value, _, unit = horizon.strip().partition(" ")
        try:
            return {"value": float(value), "unit": unit.strip()}
        except ValueError:
            from optimizer.errors import ConfigError

            raise ConfigError(
                "horizon is a number and a unit", key="horizon", value=horizon, hint="'3 months'"
            ) from None
    return dict(horizon)


def _date(value: DateLike, key: str) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        from optimizer.errors import ConfigError

        raise ConfigError("not a date (YYYY-MM-DD)", key=key, value=value) from None

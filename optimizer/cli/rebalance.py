"""``capalloc rebalance``: whole-share, tax-aware trades from holdings and targets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from optimizer.cli.output import MONEY, GivenPath, emit, format_option, note, pct, table
from optimizer.csvout import quantity
from optimizer.errors import ConfigError, PlanError, naming_file


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:  # a bad option value: a usage error (exit 2), as --period's
        raise click.BadParameter(
            f"{value!r} is not a date YYYY-MM-DD", param_hint="--as-of"
        ) from None


@click.command("rebalance")
@click.option(
    "--holdings",
    required=True,
    type=GivenPath(dir_okay=False),
    help="Tax lots CSV: account,ticker,shares,cost_per_share,acquired[,lot_id].",
)
@click.option(
    "--targets", type=GivenPath(dir_okay=False), help="Target weights CSV: ticker,weight."
)
@click.option(
    "--config",
    type=GivenPath(dir_okay=False),
    help="TOML with [rebalance] rules and/or a [targets] table.",
)
@click.option("--prices", type=GivenPath(dir_okay=False), help="Prices CSV: ticker,price.")
@click.option(
    "--source",
    help="Data source of the prices (last closes on or before --as-of): sample, yahoo, csv:PATH.",
)
@click.option(
    "--positions",
    type=GivenPath(dir_okay=False),
    help="Stated positions CSV (account,ticker,shares) checked against the lots.",
)
@click.option(
    "--recent-sales",
    type=GivenPath(dir_okay=False),
    help="Recent sales CSV (account,ticker,sold,gain) for the wash-sale guard.",
)
@click.option("--account", help="Plan only this account.")
@click.option("--deposit", type=MONEY, default=0.0, help="Money added to the account (0 to 1e12).")
@click.option("--withdraw", type=MONEY, default=0.0, help="Money taken out (0 to 1e12).")
@click.option("--as-of", "as_of", help="Trade date, YYYY-MM-DD (default: today).")
@click.option(
    "--out",
    type=GivenPath(dir_okay=False),
    help="Write the orders CSV here (atomically; nothing on error).",
)
@format_option
def rebalance(
    holdings: str,
    targets: str | None,
    config: str | None,
    prices: str | None,
    source: str | None,
    positions: str | None,
    recent_sales: str | None,
    account: str | None,
    deposit: float,
    withdraw: float,
    as_of: str | None,
    out: str | None,
    fmt: str,
) -> None:
    """Trades that bring each account back to its targets under the rules."""
    from optimizer.atomic import write_atomic
    from optimizer.rebalance import orders_csv, plan
    from optimizer.rebalance.inputs import gather

    if deposit and withdraw:
        raise click.UsageError("give --deposit or --withdraw, not both")
    if prices and source:
        raise click.UsageError("give --prices or --source, not both")
    day = _date(as_of) or dt.date.today()
    run = gather(
        holdings=holdings,
        targets=targets,
        config=config,
        prices=prices,
        source=source,
        positions=positions,
        recent_sales=recent_sales,
        account=account,
        as_of=day,
    )
    from optimizer.workflows.pipeline import check_lots_before

    if not run.accounts:
        raise ConfigError(
            "no rows under the header: no account to plan",
            file=holdings,
            key="rows",
            hint="one row per tax lot, and a CASH row for the cash",
        )

    if (deposit or withdraw) and len(run.accounts) > 1:  # not the same sum for each of them
        flag = "--deposit" if deposit else "--withdraw"
        raise click.UsageError(
            f"{flag} is money for one account; {holdings} holds {len(run.accounts)}: "
            "choose it with --account"
        )
    for acct in run.accounts.values():  # a lot bought after the trade date cannot be planned
        check_lots_before(acct, day, Path(holdings))
        late = next((s for s in acct.recent_sales if s.sold > day), None)
        if late is not None:  # nor a sale after it (it would block buys as a same-day sale)
            raise ConfigError(
                f"sale dated after the as-of date {day.isoformat()}",
                file=str(recent_sales),
                key=f"account {acct.id} ticker {late.ticker} sold",
                value=late.sold.isoformat(),
                hint="trade on or after it (--as-of), or fix the date",
            )
    with naming_file(holdings, PlanError, ConfigError):  # about an account's holdings
        plans = [
            plan(
                acct,
                run.targets,
                run.prices,
                run.rules,
                deposit=deposit,
                withdraw=withdraw,
                as_of=day,
            )
            for acct in run.accounts.values()
        ]
    if out:
        write_atomic(out, orders_csv(plans))
    document = _document(plans, run.provenance | {"as_of": day.isoformat(), "out": out})
    document["warnings"] = [*run.warnings, *document["warnings"]]
    emit(fmt, document, lambda: _render(plans, run.warnings))


def _document(plans: list, provenance: dict[str, Any]) -> dict[str, Any]:
    trades = [{"account": p.account, **t.to_dict()} for p in plans for t in p.trades]
    methods: dict[str, int] = {}
    for p in plans:
        methods[p.method.value] = methods.get(p.method.value, 0) + 1
    return {
        "trades": trades,
        "holdings": {p.account: [h.to_dict() for h in p.holdings] for p in plans},
        "weights": {p.account: {h.ticker: h.weight for h in p.holdings} for p in plans},
        "metrics": {
            "accounts": len(plans),
            "trades": len(trades),
            "total_cost": sum(p.total_cost for p in plans),
            "methods": methods,
            "by_account": {p.account: p.metrics() for p in plans},
        },
        "blocked": [{"account": p.account, **b.to_dict()} for p in plans for b in p.blocked],
        "warnings": [f"{p.account}: {w}" for p in plans for w in p.warnings],
        "provenance": provenance,
    }


def _render(plans: list, warnings: tuple[str, ...] = ()) -> None:
    for w in warnings:
        note(f"warning: {w}")
    for p in plans:
        rows = [
            (
                t.ticker,
                t.side.value,
                quantity(t.shares),
                f"{t.price:,.2f}" if t.price >= 1 else f"{t.price:.6g}",  # the JSON: every digit
                f"{t.notional:,.2f}",
                f"{t.cost:,.2f}",
                f"{t.st_gain + t.lt_gain:,.2f}",
                t.reason,
            )
            for t in p.trades
        ]
        m = p.metrics()
        if rows:
            table(
                f"account {p.account}: trades ({p.method.value})",
                ["ticker", "side", "shares", "price", "notional", "cost", "gain", "reason"],
                rows,
            )
        else:
            note(f"account {p.account}: no trade needed — {p.no_trade_reason}")
        note(
            f"  cash after {m['residual_cash']:,.2f} ({pct(m['cash_weight'])}), "
            f"max drift {pct(m['max_abs_drift'])}, cost {m['total_cost']:,.2f}"
        )
        for b in p.blocked:
            note(f"  blocked {b.side.value} {b.ticker} by {b.rule.value}: {b.reason}")
        for w in p.warnings:
            note(f"  warning: {w}")

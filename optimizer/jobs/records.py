"""What a run records per account: attempts, claims, and their ledger rows.

Row building is kept apart from the ``Ledger`` so the workers can serialise an outcome's
columns (``outcome_columns``, ``order_columns``) and the runner's process only inserts.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from optimizer.jobs.model import AccountOutcome, AccountResult, Order, Period


class AttemptStatus(StrEnum):
    TRADED = "traded"
    NO_TRADE = "no-trade"
    FALLBACK = "fallback"
    FAILED = "failed"
    CHANGED_AFTER_DONE = "changed-after-done"


FINAL = frozenset({AttemptStatus.TRADED, AttemptStatus.NO_TRADE, AttemptStatus.FALLBACK})


@dataclass(frozen=True)
class Attempt:
    """One account's attempt in a run, as it is recorded."""

    account: str
    inputs_hash: str | None
    status: AttemptStatus
    result: AccountResult | None = None  # None for attempts decided before the pipeline
    error_kind: str | None = None
    error: str | None = None
    orders_path: Path | None = None  # final order file, when the outcome has orders


@dataclass(frozen=True)
class Claim:
    """The final outcome already recorded for an account and period."""

    account: str
    run_id: int
    inputs_hash: str
    status: str
    n_orders: int
    orders_path: str | None


def bulk_insert(conn: Any, table: Any, rows: list[dict]) -> None:
    """One ``executemany`` of ``rows`` (dicts with the same keys) with the driver's own
    parameter style: the statement is compiled once and each column's bind processor
    (e.g. SQLite's DateTime to text) applied directly, which is several times faster than
    per-row parameter construction for the 100,000 order rows of a large run."""
    if not rows:
        return
    from sqlalchemy import insert

    keys = list(rows[0])
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=keys)
    for key in keys:
        process = table.c[key].type.bind_processor(conn.dialect)
        if process is not None:
            rows = [{**r, key: process(r[key])} for r in rows]
    params: list[Any] = rows
    if conn.dialect.positional:
        get = operator.itemgetter(*compiled.positiontup)
        params = [get(r) for r in rows] if len(keys) > 1 else [(get(r),) for r in rows]
    conn.exec_driver_sql(str(compiled), params)


def rows_of(
    run_id: int, period: Period, attempts: Sequence[Attempt], now: dt.datetime
) -> tuple[list[dict], list[dict], list[dict]]:
    attempt_rows, claim_rows, order_rows = [], [], []
    label = period.label
    for a in attempts:
        res = a.result
        outcome = res.outcome if res is not None else None
        attempt_rows.append(
            {
                "run_id": run_id,
                "account": a.account,
                "period": label,
                "inputs_hash": a.inputs_hash,
                "status": a.status.value,
                "error_kind": a.error_kind or (res.error_kind if res else None),
                "error": a.error or (res.error if res else None),
                **_outcome_columns(res, outcome),
                "seconds": res.seconds if res else None,
                "recorded": now,
            }
        )
        if a.status not in FINAL or outcome is None:
            continue
        claim_rows.append(
            {
                "account": a.account,
                "period": label,
                "run_id": run_id,
                "inputs_hash": a.inputs_hash,
                "status": a.status.value,
                "n_orders": len(outcome.orders),
                "orders_path": str(a.orders_path) if a.orders_path else None,
                "recorded": now,
            }
        )
        assert res is not None
        rows = res.order_rows or tuple(order_columns(o) for o in outcome.orders)
        order_rows.extend(
            {"run_id": run_id, "account": a.account, "period": label, "seq": i, **row}
            for i, row in enumerate(rows)
        )
    return attempt_rows, claim_rows, order_rows


def _outcome_columns(res: AccountResult | None, outcome: AccountOutcome | None) -> dict:
    if res is not None and res.columns is not None:
        return dict(res.columns)
    return outcome_columns(outcome)


TAX_COLUMNS = (  # account_runs' tax figures of a taxable account (revision 0003), money
    "tax_st_gain",  # net short-term gains the period's orders realise
    "tax_lt_gain",  # net long-term gains
    "tax_due",  # at the account's rates (< 0: losses that offset other gains)
    "tax_gain_budget_used",  # net realised gains counted against [tax] gain_budget (>= 0)
    "tax_harvested_loss",  # losses realised by tax-loss harvesting (> 0)
)


def outcome_columns(outcome: AccountOutcome | None) -> dict[str, str | float | None]:
    """The ``account_runs`` columns that describe an outcome (JSON text, tax figures)."""
    if outcome is None:
        return dict.fromkeys(
            ("fallback", "provenance_json", "allocation_json", "warnings_json", *TAX_COLUMNS)
        )
    tax = outcome.tax or {}
    return {
        "fallback": outcome.fallback_reason,
        "provenance_json": _json(outcome.provenance),
        "allocation_json": _json(outcome.allocation),
        "warnings_json": _json(list(outcome.warnings)),
        **{k: (float(tax[k]) if tax.get(k) is not None else None) for k in TAX_COLUMNS},
    }


def order_columns(o: Order) -> dict[str, Any]:
    """The ``orders`` columns of one order (without run, account, period and seq)."""
    return {
        "ticker": o.ticker,
        "side": o.side.value,
        "shares": o.shares,
        "est_price": o.est_price,
        "notional": o.notional,
        "est_cost": o.est_cost,
        "reason": o.reason,
        "extra_json": _json(o.extra) if o.extra else None,
    }


def _json(value: Any) -> str:
    """Strict JSON; plain dicts take the fast path, anything else goes through
    ``to_jsonable`` (numpy, dates, dataclasses; NaN becomes null)."""
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        from optimizer.jsonable import to_jsonable

        return json.dumps(to_jsonable(value), sort_keys=True, allow_nan=False)

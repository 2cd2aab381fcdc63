"""A small, deterministic stand-in for the product pipeline, for the monthly-job tests.

``account.toml`` holds ``[targets]`` (ticker -> weight) and optionally ``fail`` (an error
kind to raise); ``holdings.csv`` holds ``ticker,shares,price`` rows and ``cash``. Orders are
the whole-share moves to the target weights. ``CAPALLOC_TEST_SLEEP`` (seconds) slows each
account down so a test can kill a run in the middle of a batch.
"""

from __future__ import annotations

import csv
import math
import os
import time
import tomllib
import uuid

from optimizer.errors import ConfigError, InfeasibleError, SolverError
from optimizer.jobs.model import AccountOutcome, AccountSpec, OutcomeStatus, Period

FAILURES = {"infeasible": InfeasibleError, "solver": SolverError}


class Context:
    """Built once per worker: stands for the compiled optimization problem."""

    def __init__(self) -> None:
        self.token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.solved = 0


def prepare_worker() -> Context:
    return Context()


def read_holdings(path) -> tuple[dict[str, tuple[float, float]], float]:
    positions, cash = {}, 0.0
    with open(path, newline="") as fh:
        for line_no, row in enumerate(csv.DictReader(fh), start=2):
            try:
                if row["ticker"] == "CASH":
                    cash = float(row["shares"])
                else:
                    positions[row["ticker"]] = (float(row["shares"]), float(row["price"]))
            except (TypeError, ValueError):
                raise ConfigError(
                    "not a number", file=f"{path}:{line_no}", key="shares", value=row["shares"]
                ) from None
    return positions, cash


def target_orders(config: dict, positions: dict, cash: float) -> list[dict]:
    value = cash + sum(q * p for q, p in positions.values())
    orders = []
    for ticker in sorted(set(config["targets"]) | set(positions)):
        shares, price = positions.get(ticker, (0.0, config.get("prices", {}).get(ticker, 100.0)))
        goal = math.floor(config["targets"].get(ticker, 0.0) * value / price)
        delta = goal - shares
        if delta:
            orders.append(
                {
                    "ticker": ticker,
                    "side": "buy" if delta > 0 else "sell",
                    "shares": abs(delta),
                    "est_price": price,
                    "notional": abs(delta) * price,
                    "est_cost": round(abs(delta) * price * 0.0005, 6),
                    "reason": "to target",
                    "lot": "fifo",
                }
            )
    return orders


def process_account(ctx: Context, account: AccountSpec, period: Period) -> AccountOutcome:
    if pause := float(os.environ.get("CAPALLOC_TEST_SLEEP", "0")):
        time.sleep(pause)
    with open(account.config_path, "rb") as fh:
        config = tomllib.load(fh)
    if "fail" in config:
        raise FAILURES[config["fail"]]("policy admits no portfolio", key="constraints")
    positions, cash = read_holdings(account.holdings_path)
    orders = target_orders(config, positions, cash)
    ctx.solved += 1
    return AccountOutcome(
        status=OutcomeStatus.TRADED if orders else OutcomeStatus.NO_TRADE,
        orders=orders,
        allocation=dict(config["targets"]),
        provenance={"source": "test", "worker": ctx.token, "rebalance": str(period.rebalance_date)},
        warnings=("test pipeline",),
    )


def broken(ctx, account, period):
    raise RuntimeError("boom")


def trivial(ctx, account, period):
    """No I/O at all: for measuring the runner's own overhead."""
    return AccountOutcome(
        OutcomeStatus.TRADED,
        orders=[{"ticker": "SPY", "side": "buy", "shares": 1, "est_price": 500.0}],
    )


def dies_on_a003(ctx, account, period):
    """Kills its worker process on account a003 (a segfaulting solver, an OOM kill)."""
    if account.account_id == "a003":
        os._exit(1)
    return process_account(ctx, account, period)


def dies_once_on_a003(ctx, account, period):
    """Kills its worker process on account a003 the first time only: the marker file named
    by ``CAPALLOC_TEST_DIE_ONCE`` is created atomically by the one that dies."""
    if account.account_id == "a003":
        try:
            os.close(os.open(os.environ["CAPALLOC_TEST_DIE_ONCE"], os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            pass
        else:
            os._exit(1)
    return process_account(ctx, account, period)

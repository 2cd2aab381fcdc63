"""Pure data exchanged between the monthly runner, the per-account pipeline and the ledger.

The runner hands each worker an :class:`AccountSpec` and the :class:`Period`; the pipeline
(``process_account``) returns an :class:`AccountOutcome` or raises a ``CapallocError``; the
worker wraps either into an :class:`AccountResult` that the runner records in the ledger.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from optimizer.errors import PlanError


class OutcomeStatus(StrEnum):
    """What the pipeline decided for one account and period (all three are final)."""

    TRADED = "traded"  # orders were produced
    NO_TRADE = "no-trade"  # the portfolio is within its bands: nothing to do
    FALLBACK = "fallback"  # the configured fallback applied: keep holdings, trade nothing


class FallbackPolicy(StrEnum):
    """What to do when the pipeline fails for an account (see docs/monthly-job.md)."""

    NONE = "none"  # record the failure; the next run retries the account
    KEEP_HOLDINGS = "keep-holdings"  # record a fallback outcome: keep holdings, no orders


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True)
class Period:
    """A rebalancing month and its rebalance date: the first NYSE session of the month,
    looked up in the exchange calendar when first needed unless ``known_date`` gives it (a
    period the ledger has recorded keeps the date it was recorded with)."""

    year: int
    month: int
    known_date: dt.date | None = field(default=None, compare=False)

    @functools.cached_property
    def rebalance_date(self) -> dt.date:
        """The first session of the month (``known_date`` when given).

        Raises
        ------
        ConfigError
            The exchange calendar does not cover the month, or it has no session.
        """
        if self.known_date is not None:
            return self.known_date
        from optimizer.jobs.sessions import first_session

        return first_session(self.year, self.month)

    @property
    def label(self) -> str:
        """``"YYYY-MM"``."""
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class AccountSpec:
    """One account of the batch: where its inputs are and what to do if it fails."""

    account_id: str  # also the order file's name: [A-Za-z0-9._-]+
    config_path: Path  # account.toml
    holdings_path: Path  # holdings.csv
    fallback: FallbackPolicy = FallbackPolicy.NONE
    inputs_hash: str = ""  # sha256 over config, holdings, referenced files and the period
    named_by_folder: bool = False  # one folder per account: an [account] id must match it


ORDER_COLUMNS = ("ticker", "side", "shares", "est_price", "notional", "est_cost", "reason")


@dataclass(frozen=True)
class Order:
    """One whole-share order in an account's order file."""

    ticker: str
    side: Side
    shares: float  # > 0, whole shares in practice
    est_price: float | None = None
    notional: float | None = None
    est_cost: float | None = None
    reason: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)  # any other keys, kept in the ledger

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Order:
        """Build from a pipeline's order dict; a malformed order is a ``PlanError``."""
        try:
            ticker = str(data["ticker"]).strip()
            side = Side(str(data["side"]).lower())
            shares = float(data["shares"])
        except (KeyError, ValueError, TypeError) as exc:
            raise PlanError(
                "malformed order from the pipeline", value=dict(data), hint=str(exc)
            ) from None
        if not ticker or not math.isfinite(shares) or shares <= 0:
            raise PlanError("an order needs a ticker and a positive share count", value=dict(data))
        known = {"ticker", "side", "shares", "est_price", "notional", "est_cost", "reason"}
        return cls(
            ticker=ticker,
            side=side,
            shares=shares,
            est_price=_opt_float(data.get("est_price")),
            notional=_opt_float(data.get("notional")),
            est_cost=_opt_float(data.get("est_cost")),
            reason=str(data.get("reason") or ""),
            extra={k: v for k, v in data.items() if k not in known},
        )


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class AccountOutcome:
    """What the pipeline returns for one account.

    ``orders`` may be given as dicts (keys ``ticker, side, shares, est_price, notional,
    est_cost, reason`` and any extra ones); they are normalised to :class:`Order`.
    A ``traded`` outcome has at least one order; ``no-trade`` and ``fallback`` have none.
    """

    status: OutcomeStatus
    orders: tuple[Order, ...] = ()
    allocation: Mapping[str, float] = field(default_factory=dict)  # ticker -> target weight
    provenance: Mapping[str, Any] = field(default_factory=dict)  # estimate provenance
    warnings: tuple[str, ...] = ()
    fallback_reason: str | None = None  # why the fallback applied
    tax: Mapping[str, float] | None = None  # a taxable account's figures (TAX_COLUMNS)

    def __post_init__(self) -> None:
        status = OutcomeStatus(self.status)
        orders = tuple(o if isinstance(o, Order) else Order.from_mapping(o) for o in self.orders)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "orders", orders)
        object.__setattr__(self, "warnings", tuple(self.warnings))
        if (status is OutcomeStatus.TRADED) != bool(orders):
            raise PlanError(
                f"a {status.value!r} outcome cannot carry {len(orders)} orders",
                hint="'traded' needs orders; 'no-trade' and 'fallback' have none",
            )


@dataclass(frozen=True)
class AccountResult:
    """One account's result as the runner records it: an outcome or a failure."""

    account_id: str
    outcome: AccountOutcome | None
    error_kind: str | None = None  # exception class name, e.g. "InfeasibleError"
    error: str | None = None  # the one-line message
    seconds: float = 0.0  # time spent in the pipeline
    # prepared in the worker so the runner's process only inserts and renames:
    columns: Mapping[str, Any] | None = None  # the outcome's ledger columns, serialised
    order_rows: tuple[Mapping[str, Any], ...] = ()  # each order's ledger columns
    temp_path: Path | None = None  # the order file, written under its temporary name
    inputs_hash: str | None = None  # hashed in the worker (None: the inputs were unreadable)

    @property
    def failed(self) -> bool:
        return self.outcome is None


class WorkerContext(Protocol):
    """Whatever ``prepare_worker`` builds once per worker process (caches, compiled
    problems); the runner passes it back, untouched, to every ``process_account`` call."""


PrepareWorker = Callable[[], Any]
ProcessAccount = Callable[[Any, AccountSpec, Period], AccountOutcome]
PriceDates = Callable[[Sequence[AccountSpec], Period], Iterable[tuple[str, Any]]]

"""The per-account pipeline as the runner sees it, and the worker-side loop.

A pipeline is named ``MODULE:FUNCTION``. ``FUNCTION(ctx, account, period)`` returns an
:class:`~optimizer.jobs.model.AccountOutcome` or raises a ``CapallocError``. If ``MODULE``
also defines ``prepare_worker()``, it runs once per worker process and its result is the
``ctx`` of every call in that worker (caches, compiled optimization problems); otherwise
``ctx`` is ``None``. The default is the product's pipeline,
``optimizer.workflows:process_account``; ``--processor`` is the extension point for
custom pipelines (and for deterministic test pipelines).
"""

from __future__ import annotations

import gc
import importlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from optimizer.errors import CapallocError, ConfigError, InfeasibleError, SolverError
from optimizer.jobs.accounts import inputs_hash, own_files
from optimizer.jobs.model import (
    AccountOutcome,
    AccountResult,
    AccountSpec,
    FallbackPolicy,
    OutcomeStatus,
    Period,
    PrepareWorker,
    PriceDates,
    ProcessAccount,
)
from optimizer.jobs.orders import OrderFiles
from optimizer.jobs.records import order_columns, outcome_columns

DEFAULT_PROCESSOR = "optimizer.workflows:process_account"


@dataclass(frozen=True)
class Pipeline:
    """A pipeline named ``MODULE:FUNCTION`` (picklable: workers import it by name)."""

    target: str = DEFAULT_PROCESSOR

    def load(self) -> tuple[PrepareWorker | None, ProcessAccount]:
        """Import the module; return its ``prepare_worker`` (or None) and the function.

        Raises
        ------
        ConfigError
            The name is malformed, the module cannot be imported or lacks the function.
        """
        module_name, sep, attr = self.target.partition(":")
        if not sep or not module_name or not attr:
            raise ConfigError("expected MODULE:FUNCTION", key="--processor", value=self.target)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(
                "cannot import the pipeline module",
                key="--processor",
                value=self.target,
                hint=" ".join(str(exc).split())[:120],
            ) from None
        process = getattr(module, attr, None)
        if not callable(process):
            raise ConfigError(
                "the pipeline module has no such function", key="--processor", value=self.target
            )
        prepare = getattr(module, "prepare_worker", None)
        return (prepare if callable(prepare) else None), process

    def price_dates(self) -> PriceDates | None:
        """The module's ``last_price_dates(specs, period)`` (the staleness check before a
        run; yields ``(account, LastPrice)``), or None when it has none."""
        module = importlib.import_module(self.target.partition(":")[0])
        hook = getattr(module, "last_price_dates", None)
        return hook if callable(hook) else None


# One per worker process: set by init_worker, read by process_chunk.
_WORKER: dict[str, Any] = {}


def init_worker(target: str) -> None:
    """Pool initializer: load the pipeline and call ``prepare_worker`` once.

    A failure is kept and reported as every account's error, so the run still records
    each account instead of dying on a broken pool. A worker forked from a process that
    loaded ``target`` already (:func:`preload`) keeps that state, caches included.
    """
    if _WORKER.get("target") == target and "error" not in _WORKER:
        return
    _WORKER.clear()
    _WORKER.update(load_worker(target))


def preload(target: str, specs: Sequence[AccountSpec], period: Period) -> None:
    """Load ``target`` in this process and, if its module defines ``warm_worker(ctx,
    specs, period)``, let it fill ``ctx``'s caches from ``specs``: worker processes forked
    from here then start with the imports, estimates and compiled problems done once."""
    init_worker(target)
    if "error" in _WORKER:
        return
    module = importlib.import_module(target.partition(":")[0])
    warm = getattr(module, "warm_worker", None)
    if callable(warm):
        warm(_WORKER["ctx"], specs, period)
    # what is loaded now lives as long as the run: the workers' garbage collections need
    # not walk it (a full one costs about 0.1 s over the libraries' objects)
    gc.freeze()


def load_worker(target: str) -> dict[str, Any]:
    """The pipeline ``target`` loaded and prepared: ``{"target", "process", "ctx"}``, or
    ``{"target", "error": (kind, message)}`` when it cannot be."""
    try:
        prepare, process = Pipeline(target).load()
        return {"target": target, "ctx": prepare() if prepare else None, "process": process}
    except Exception as exc:
        error = (type(exc).__name__, _one_line(exc, "worker preparation failed"))
        return {"target": target, "error": error}


def process_chunk(
    specs: Sequence[AccountSpec], period: Period, files: OrderFiles | None = None
) -> list[AccountResult]:
    """Run the pipeline on each account of a chunk (in the worker process).

    With ``files`` (not in a dry run) each order file is also written here, under its
    hidden temporary name, and the ledger columns serialised, so the runner's process
    only syncs, inserts and renames.
    """
    return process_chunk_with(_WORKER, specs, period, files)


def process_chunk_with(
    state: dict[str, Any],
    specs: Sequence[AccountSpec],
    period: Period,
    files: OrderFiles | None = None,
) -> list[AccountResult]:
    """:func:`process_chunk` with an explicit worker state (from :func:`load_worker`)."""
    if "error" in state:
        kind, message = state["error"]
        return [AccountResult(s.account_id, None, kind, message) for s in specs]
    process, ctx = state["process"], state["ctx"]
    return [_one(process, ctx, spec, period, files) for spec in specs]


def _one(
    process: ProcessAccount, ctx: Any, spec: AccountSpec, period: Period, files: OrderFiles | None
) -> AccountResult:
    """Hash the account's inputs (unless the runner already did), then run it: the files
    are read here, in the worker, so the runner's process does not read them first."""
    digest = spec.inputs_hash
    if not digest:
        try:
            digest = inputs_hash(spec, period)
        except CapallocError as exc:  # unreadable inputs: failed before the pipeline
            return AccountResult(spec.account_id, None, type(exc).__name__, exc.render())
        spec = replace(spec, inputs_hash=digest)
    return replace(_prepare(run_one(process, ctx, spec, period), files), inputs_hash=digest)


def _prepare(res: AccountResult, files: OrderFiles | None) -> AccountResult:
    outcome = res.outcome
    if outcome is None:
        return res
    temp = None
    if files is not None and outcome.orders:
        temp = files.write_temp(res.account_id, outcome.orders, sync=False)
    rows = tuple(order_columns(o) for o in outcome.orders)
    columns = outcome_columns(outcome)
    # the allocation and provenance travel in ``columns`` only (not twice to the runner)
    slim = replace(outcome, allocation={}, provenance={})
    return replace(res, outcome=slim, columns=columns, order_rows=rows, temp_path=temp)


def run_one(process: ProcessAccount, ctx: Any, spec: AccountSpec, period: Period) -> AccountResult:
    """One account: the outcome, the configured fallback, or the failure — never a raise."""
    start = time.perf_counter()
    try:
        outcome = process(ctx, spec, period)
        if not isinstance(outcome, AccountOutcome):
            raise TypeError(f"the pipeline returned {type(outcome).__name__}, not AccountOutcome")
    except CapallocError as exc:
        seconds = time.perf_counter() - start
        if spec.fallback is FallbackPolicy.KEEP_HOLDINGS and not _malformed_input(exc, spec):
            reason = f"{type(exc).__name__}: {exc.render()}"
            fallback = AccountOutcome(OutcomeStatus.FALLBACK, fallback_reason=reason)
            return AccountResult(spec.account_id, fallback, seconds=seconds)
        return AccountResult(spec.account_id, None, type(exc).__name__, exc.render(), seconds)
    except Exception as exc:  # a pipeline bug: recorded for this account, others go on
        seconds = time.perf_counter() - start
        return AccountResult(
            spec.account_id, None, "InternalError", _one_line(exc, "internal error"), seconds
        )
    return AccountResult(spec.account_id, outcome, seconds=time.perf_counter() - start)


def _malformed_input(exc: CapallocError, spec: AccountSpec) -> bool:
    """A configuration error, or any error in the account's own files (its holdings: a
    negative share count, a ticker outside the universe, another account's id; a price
    or data file its config names: a price of 0): someone must fix the file, so no
    fallback papers over it. An infeasible policy or a solver failure names the config
    too, and keeps the holdings as before."""
    if isinstance(exc, ConfigError):
        return True
    if isinstance(exc, (InfeasibleError, SolverError)) or not exc.file:
        return False
    return Path(str(exc.file).removeprefix("csv:")).resolve() in own_files(spec)


def _one_line(exc: BaseException, prefix: str) -> str:
    text = exc.render() if isinstance(exc, CapallocError) else f"{type(exc).__name__}: {exc}"
    return f"{prefix}: " + " ".join(text.split())[:400]

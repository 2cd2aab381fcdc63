"""The local worker processes of a run (``--workers N``).

On Linux the runner loads the pipeline and warms its caches on the first account before
the pool starts (:func:`~optimizer.jobs.processor.preload`), and the workers fork from it:
the imports, the estimate and the compiled problem are made once, not once per worker.
The price check runs in the workers (one part of the accounts each) instead of one
account after another in the runner's process.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator, Sequence
from typing import Any

from optimizer.jobs.model import AccountResult, AccountSpec, Period
from optimizer.jobs.orders import OrderFiles
from optimizer.jobs.processor import Pipeline, init_worker, process_chunk


class WorkerPool:
    """``workers`` processes; ``prepare_worker`` runs once in each as it starts. Where
    processes can fork (Linux), they do, so a pipeline loaded in this process beforehand
    (:func:`~optimizer.jobs.processor.preload`) is loaded in each of them."""

    def __init__(self, target: str, workers: int) -> None:
        from concurrent.futures import ProcessPoolExecutor

        self.target = target
        self.workers = workers
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=fork_context(), initializer=start_worker,
            initargs=(target,),
        )  # fmt: skip

    def price_dates(self, specs: Sequence[AccountSpec], period: Period) -> list[tuple[str, Any]]:
        """The pipeline's ``last_price_dates`` over ``specs``, one part per worker, in the
        order of ``specs``."""
        size = -(-len(specs) // self.workers) or 1
        parts = [list(specs[i : i + size]) for i in range(0, len(specs), size)]
        found: list[tuple[str, Any]] = []
        for part in self.pool.map(price_dates_of, [self.target] * len(parts), parts,
                                  [period] * len(parts)):  # fmt: skip
            found.extend(part)
        return found

    def map_chunks(
        self, chunks: list[list[AccountSpec]], period: Period, files: OrderFiles | None
    ) -> Iterator[list[AccountResult]]:
        """Each chunk's results, in completion order; the accounts of a chunk whose worker
        died are failed (``WorkerDied``), retried by the next run."""
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        pending = {self.pool.submit(process_chunk, c, period, files): c for c in chunks}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    chunk = pending.pop(fut)
                    try:
                        yield fut.result()
                    except BrokenProcessPool:
                        message = "a worker process died while processing this account's chunk"
                        yield [AccountResult(s.account_id, None, "WorkerDied", message)
                               for s in chunk]  # fmt: skip
        finally:
            for fut in pending:
                fut.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def start_worker(target: str) -> None:
    """Pool initializer. A terminal's Ctrl-C, and a SIGTERM sent to the process group (a
    scheduler stopping the job), reach every process of the group; only the runner acts on
    them (the chunks in flight finish, the run is recorded as failed, the pool shuts down),
    so a worker ignores both: one stopped in the middle of a chunk would break the pool
    (an internal error, tracebacks, at worst a pool that never shuts down)."""
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    init_worker(target)


@contextlib.contextmanager
def stop_signals_ignored() -> Iterator[None]:
    """Processes started inside inherit Ctrl-C and SIGTERM as ignored (a Python process
    keeps an ignored SIGINT ignored), so only this one acts on them; this one's own
    handlers are back after. Outside the main thread it changes nothing."""
    try:
        previous = [(sig, signal.signal(sig, signal.SIG_IGN)) for sig in _STOP_SIGNALS]
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous:
            signal.signal(sig, handler)


def fork_context() -> Any:
    """The ``fork`` multiprocessing context on Linux, else None (the platform's default)."""
    import multiprocessing
    import sys

    if sys.platform != "linux":
        return None
    return multiprocessing.get_context("fork")


def price_dates_of(
    target: str, specs: Sequence[AccountSpec], period: Period
) -> list[tuple[str, Any]]:
    """In a worker: the pipeline's price-date hook over one part of the accounts."""
    hook = Pipeline(target).price_dates()
    return [] if hook is None else list(hook(specs, period))

"""The per-account pipeline on a Dask cluster (``run-monthly --dask``).

The split of work is the same as with the local worker pool, with one difference: the
Dask workers only *compute* (the pipeline's outcome and its serialised ledger columns);
the coordinating process (the one running ``capalloc run-monthly``) writes every order
file under its temporary name, syncs, commits the chunk's claims in the database and
renames. So the workers need to read the accounts (the same paths on a shared file
system) but never write anything, the ledger's guards are unchanged, and a worker lost
in the middle of a chunk costs nothing but the recomputation: Dask reschedules the chunk
on another worker (up to ``distributed.scheduler.allowed-failures`` times, 3 by
default), and as nothing of it was recorded, nothing is recorded twice. A chunk that
still fails is recorded as failed (``WorkerDied``) and retried by the next run.

``--dask local`` starts a ``LocalCluster`` of ``--workers`` processes (one thread each);
``--dask local:N`` of N processes; ``--dask tcp://host:port`` connects to a running
scheduler (see docs/monthly-job.md for Kubernetes and HPC).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from optimizer.errors import ConfigError
from optimizer.jobs.model import AccountResult, AccountSpec, Period

_LOCAL = re.compile(r"local(?::(\d{1,3}))?", re.ASCII)
_REMOTE = re.compile(r"(tcp|tls|ucx|inproc)://\S+")
CONNECT_TIMEOUT = "20s"


@dataclass(frozen=True)
class DaskTarget:
    """Where ``--dask`` points: a local cluster of ``n_workers``, or a scheduler address."""

    address: str | None  # None: a LocalCluster
    n_workers: int = 1

    @classmethod
    def parse(cls, text: str, default_workers: int) -> DaskTarget:
        """``local``, ``local:N`` or ``tcp://host:port``; anything else is a ConfigError."""
        text = text.strip()
        if m := _LOCAL.fullmatch(text):
            n = int(m.group(1)) if m.group(1) else default_workers
            if not 1 <= n <= 256:
                raise ConfigError("a local cluster needs 1 to 256 workers", key="--dask",
                                  value=text)  # fmt: skip
            return cls(None, n)
        if _REMOTE.fullmatch(text):
            return cls(text)
        raise ConfigError(
            "expected local, local:N or a scheduler address such as tcp://host:8786",
            key="--dask",
            value=text,
        )


class DaskPool:
    """A connected Dask client (and its local cluster, if we started one)."""

    def __init__(self, target: DaskTarget, pipeline: str) -> None:
        # the cluster's own log lines stay off the job's stderr (workers inherit it): what
        # matters reaches the job as a failed or lost task, which it retries or records;
        # at "error" a busy machine printed a worker's heartbeat traceback at shutdown
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "critical")
        try:
            import distributed
        except ImportError:
            raise ConfigError(
                "Dask is not installed", key="--dask",
                value=target.address or f"local:{target.n_workers}",
                hint="pip install 'capalloc[dask]'",
            ) from None  # fmt: skip
        self.target = target
        self.target_pipeline = pipeline
        self.cluster = None
        try:
            if target.address is None:
                from optimizer.jobs.pool import stop_signals_ignored

                with stop_signals_ignored():  # Ctrl-C stops the job, which closes the cluster
                    self.cluster = distributed.LocalCluster(
                        n_workers=target.n_workers, threads_per_worker=1, processes=True,
                        dashboard_address=None, silence_logs=50,  # logging.CRITICAL
                    )  # fmt: skip
                self.client = distributed.Client(self.cluster)
            else:
                self.client = distributed.Client(target.address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise ConfigError(
                "cannot reach the Dask scheduler", key="--dask",
                value=target.address or "local", hint=" ".join(str(exc).split())[:160],
            ) from None  # fmt: skip

    @property
    def workers(self) -> int:
        """Threads across the cluster's workers now (for sizing the chunks)."""
        return max(1, sum(self.client.nthreads().values()))

    def map_chunks(
        self, chunks: list[list[AccountSpec]], period: Period, files: object = None
    ) -> Iterator[list[AccountResult]]:
        """Each chunk's results, in completion order; a chunk Dask gave up on (its workers
        died too often) comes back as failed accounts (``WorkerDied``). ``files`` is not
        used: the order files are written by the coordinator."""
        target = self.target_pipeline
        from distributed import as_completed

        futures = {
            self.client.submit(compute_chunk, target, chunk, period, pure=False): chunk
            for chunk in chunks
        }
        try:
            for fut in as_completed(list(futures)):
                chunk = futures.pop(fut)
                try:
                    yield fut.result()
                except Exception as exc:  # KilledWorker, a lost scheduler, ...
                    message = ("the Dask workers running this account's chunk died "
                               f"({type(exc).__name__})")  # fmt: skip
                    yield [AccountResult(s.account_id, None, "WorkerDied", message)
                           for s in chunk]  # fmt: skip
        finally:
            if futures:
                self.client.cancel(list(futures))

    def close(self) -> None:
        for part in (getattr(self, "client", None), self.cluster):
            if part is not None:
                with contextlib.suppress(Exception):
                    part.close()


_STATE = threading.local()  # per worker thread: the pipeline and its prepared context


def compute_chunk(target: str, specs: Sequence[AccountSpec], period: Period) -> list[AccountResult]:
    """Runs on a Dask worker: prepare the pipeline once per worker thread, then compute
    each account's outcome and its ledger columns (no order file: the coordinator writes
    them)."""
    from optimizer.jobs.processor import load_worker, process_chunk_with

    state = getattr(_STATE, "worker", None)
    if state is None or state.get("target") != target:
        state = load_worker(target)
        _STATE.worker = state
    return process_chunk_with(state, specs, period, None)

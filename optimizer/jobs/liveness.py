"""Is a lock holder still alive? Process liveness on this host, heartbeats elsewhere."""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LockHolder:
    run_id: int
    host: str
    pid: int
    proc_start: str
    heartbeat: dt.datetime


def utcnow() -> dt.datetime:
    """Naive UTC timestamp (portable across SQLite and PostgreSQL columns)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def process_start_token(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or ``""``."""
    stat = _proc_stat(pid)
    return stat[19] if stat and len(stat) > 19 else ""


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()  # fields from 3 (state) on


def pid_alive(pid: int, proc_start: str = "") -> bool:
    """Whether ``pid`` is a live (not zombie) process started at ``proc_start``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    stat = _proc_stat(pid)
    if stat is None:
        return Path("/proc").is_dir() is False  # no procfs: trust os.kill
    if stat[0] in ("Z", "X"):
        return False
    return not proc_start or process_start_token(pid) == proc_start


def is_stale(holder: LockHolder, stale_after: dt.timedelta) -> bool:
    """A lock is stale when its process is gone (same POSIX host) or, otherwise, when its
    heartbeat is older than ``stale_after``."""
    if holder.host == socket.gethostname() and os.name == "posix":
        return not pid_alive(holder.pid, holder.proc_start)
    return utcnow() - holder.heartbeat > stale_after

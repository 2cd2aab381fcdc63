"""Order files: ``<orders_dir>/<period>/<account>.csv``, written so none is ever partial.

Per account: the CSV goes to a hidden temporary file in the same folder; the chunk's
temporary files are made durable together (one ``syncfs`` on Linux, else an fsync each);
the chunk's ledger transaction (attempt, claim and orders rows) commits; only then is the
temporary file renamed onto its final name and the folder fsynced. The ledger is the
source of truth and the file is derived from it, so a crash at any instant leaves either

* the rows and the file (both done),
* neither (the next run processes the account again), or
* the rows without the file (crash between commit and rename): the next run's
  :meth:`OrderFiles.reconcile` rewrites the file from the ``orders`` table, byte for byte.

A visible order file is therefore always complete and always recorded. Reconciliation also
removes leftover temporary files, and renames any visible order file the ledger does not
know (say, copied in by hand) to ``<name>.orphan`` so nobody sends it by mistake.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizer.atomic import fsync_dir
from optimizer.csvout import csv_text, money_text, price_text, quantity
from optimizer.errors import ConfigError, LedgerError
from optimizer.jobs.ledger import Ledger
from optimizer.jobs.model import ORDER_COLUMNS, Order, Period
from optimizer.jobs.records import Claim

TEMP_SUFFIX = ".tmp"
TAX_COLUMNS = ("st_gain", "lt_gain", "lots")  # as in propose's orders.csv, from Order.extra
HEADER = ("account", "period", *ORDER_COLUMNS[:-1], *TAX_COLUMNS, ORDER_COLUMNS[-1])


@dataclass(frozen=True)
class Reconciliation:
    """What the start-of-run reconciliation changed in the period's order folder."""

    removed_temp: tuple[str, ...] = ()  # leftover temporary files deleted
    rewritten: tuple[str, ...] = ()  # accounts whose recorded file was missing: rewritten
    orphaned: tuple[str, ...] = ()  # unrecorded order files renamed to *.orphan

    @property
    def changed(self) -> bool:
        return bool(self.removed_temp or self.rewritten or self.orphaned)


def render_orders(account: str, period: Period, orders: Iterable[Order]) -> str:
    """The CSV text of an order file (deterministic: same orders, same bytes)."""
    rows = (
        [account, period.label, o.ticker, o.side.value, _num(o.shares, quantity),
         _num(o.est_price, price_text), _num(o.notional, money_text),
         _num(o.est_cost, money_text), *(_cell(o.extra.get(c)) for c in TAX_COLUMNS),
         o.reason]
        for o in orders
    )  # fmt: skip
    return csv_text(HEADER, rows)


def _cell(value: Any) -> str:
    """An extra column: text as the pipeline gave it (``"12.50"``), a number in cents."""
    if value is None or isinstance(value, str):
        return value or ""
    return money_text(float(value))


def _num(x: float | None, text: Callable[[float], str]) -> str:
    """A number as ``propose``'s orders.csv writes its column (shares every digit they
    have, prices to four decimals, money to cents)."""
    return "" if x is None else text(float(x))


def check_folder(root: Path, period: Period) -> None:
    """:func:`prepare_folder`'s refusals without creating anything: run before the ledger
    is created, so a run refused for its order folder leaves no ledger file behind."""
    folder = root / period.label
    if folder.exists() or folder.is_symlink():
        if not folder.is_dir():
            raise ConfigError(
                "the order folder's path is taken by a file", key="--orders-dir",
                value=str(folder), hint="move the file away or choose another --orders-dir",
            )  # fmt: skip
        existing = folder
    else:  # the nearest folder that exists is where it will be created
        existing = next((p for p in folder.parents if p.exists()), Path("/"))
        if not existing.is_dir():
            raise ConfigError(
                "cannot create the order folder", key="--orders-dir", value=str(folder),
                hint=f"{existing} is a file",
            )  # fmt: skip
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "write in" if existing == folder else "create"
        raise ConfigError(
            f"cannot {what} the order folder", key="--orders-dir", value=str(folder),
            hint=f"{existing}: read-only filesystem or no write permission",
        )  # fmt: skip


def prepare_folder(root: Path, period: Period) -> Path:
    """Create ``root/<period>`` if needed and check it is a folder this process can write.

    Raises
    ------
    ConfigError
        The path is a file, or the folder cannot be created or written (read-only
        filesystem, permissions): one line naming ``--orders-dir``, before any order.
    """
    check_folder(root, period)
    folder = root / period.label
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # made meanwhile as a file, or a filesystem gone read-only
        raise ConfigError(
            "cannot create the order folder", key="--orders-dir", value=str(folder),
            hint=exc.strerror or str(exc),
        ) from None  # fmt: skip
    return folder


class OrderFiles:
    """The order folder of one period, as one run writes it."""

    def __init__(self, root: Path, period: Period, run_id: int) -> None:
        self.root = root
        self.period = period
        self.run_id = run_id
        self.folder = root / period.label
        self._folder_ready = False

    def final_path(self, account: str) -> Path:
        return self.folder / f"{account}.csv"

    def write_temp(self, account: str, orders: Iterable[Order], *, sync: bool = True) -> Path:
        """Write the account's CSV under a hidden temporary name (fsynced if ``sync``;
        otherwise call :meth:`sync` on the chunk's files before committing)."""
        tmp = self.folder / f".{account}.csv.run{self.run_id}{TEMP_SUFFIX}"
        text = render_orders(account, self.period, orders)
        try:
            if not self._folder_ready:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._folder_ready = True
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                if sync:
                    fh.flush()
                    os.fsync(fh.fileno())
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise LedgerError(
                "cannot write the order file", file=str(tmp), hint=exc.strerror or str(exc)
            ) from None
        return tmp

    def sync(self, temps: Mapping[str, Path]) -> None:
        """Make a chunk's temporary files durable: one ``syncfs`` of the folder's
        filesystem where the platform has it (Linux), else one fsync per file."""
        if not temps:
            return
        if _syncfs(self.folder):
            return
        for tmp in temps.values():
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def publish(self, temps: Mapping[str, Path]) -> None:
        """Rename committed temporary files onto their final names; fsync the folder."""
        for account, tmp in temps.items():
            os.replace(tmp, self.final_path(account))
        if temps:
            fsync_dir(self.folder)

    @staticmethod
    def discard(temps: Mapping[str, Path]) -> None:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                tmp.unlink()

    def reconcile(self, claims: Mapping[str, Claim], ledger: Ledger) -> Reconciliation:
        """Make the period's folder agree with the ledger (see the module docstring)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        removed, orphaned = [], []
        recorded = {c.orders_path for c in claims.values() if c.orders_path}
        present = set()
        for entry in self.folder.iterdir():  # compared as strings: paths built the same way
            if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX):
                entry.unlink()
                removed.append(entry.name)
            elif entry.suffix == ".csv" and str(entry) not in recorded:
                os.replace(entry, entry.with_name(entry.name + ".orphan"))
                orphaned.append(entry.name)
            else:
                present.add(str(entry))
        rewritten = []
        for claim in sorted(claims.values(), key=lambda c: c.account):
            path = claim.orders_path
            if claim.n_orders and path and path not in present and not os.path.exists(path):
                orders = ledger.orders_of(self.period, claim.account)
                files = OrderFiles(Path(path).parent.parent, self.period, self.run_id)
                os.replace(files.write_temp(claim.account, orders), path)
                rewritten.append(claim.account)
        if removed or orphaned or rewritten:
            fsync_dir(self.folder)
        return Reconciliation(tuple(sorted(removed)), tuple(rewritten), tuple(sorted(orphaned)))


@functools.cache
def _libc_syncfs() -> Any:
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    return fn


def _syncfs(folder: Path) -> bool:
    """``syncfs(2)`` on the filesystem holding ``folder``; False when unavailable."""
    fn = _libc_syncfs()
    if fn is None:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        return fn(fd) == 0
    finally:
        os.close(fd)

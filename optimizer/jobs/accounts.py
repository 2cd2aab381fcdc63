"""Accounts of a monthly run, read from a folder, and the hash of each account's inputs.

Two layouts are accepted:

* one sub-folder per account, named after the account, holding ``account.toml`` and
  ``holdings.csv`` (folders whose name starts with ``.`` or ``_`` are ignored);
* one ``accounts.csv`` with columns ``account, config, holdings`` and optionally
  ``fallback`` (``none`` or ``keep-holdings``); paths are relative to the CSV file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from optimizer.config import parse_toml
from optimizer.errors import CapallocError, ConfigError
from optimizer.files import read_bytes, read_text
from optimizer.jobs.model import AccountSpec, FallbackPolicy, Period
from optimizer.limits import MAX_CSV_BYTES, MAX_TOML_BYTES

CONFIG_NAME = "account.toml"
HOLDINGS_NAME = "holdings.csv"
INDEX_NAME = "accounts.csv"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f]")
_REFERENCE_SUFFIXES = (".csv", ".toml", ".json", ".txt", ".parquet")
_REFERENCE_RE = re.compile(
    "|".join(re.escape(x) for x in _REFERENCE_SUFFIXES).encode(), re.IGNORECASE
)


def discover_accounts(
    folder: str | Path, *, fallback: FallbackPolicy = FallbackPolicy.NONE
) -> list[AccountSpec]:
    """List the accounts in ``folder`` (either layout), sorted by account id.

    Parameters
    ----------
    folder:
        The accounts folder.
    fallback:
        Default fallback policy; an ``accounts.csv`` ``fallback`` column overrides it.

    Raises
    ------
    ConfigError
        The folder is missing, holds no account, an id is invalid or repeated, or the
        ``accounts.csv`` is malformed (names file, row and value).
    """
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError("accounts folder not found", key="--accounts", value=str(root))
    index = root / INDEX_NAME
    listed = index.exists() or index.is_symlink()  # a FIFO or a dangling link: refused
    specs = _from_index(index, fallback) if listed else _from_subfolders(root, fallback)
    if not specs:
        raise ConfigError(
            "no accounts found",
            key="--accounts",
            value=str(root),
            hint=f"expected sub-folders with {CONFIG_NAME} and {HOLDINGS_NAME}, or {INDEX_NAME}",
        )
    return sorted(specs, key=lambda s: s.account_id)


def _from_subfolders(root: Path, fallback: FallbackPolicy) -> list[AccountSpec]:
    specs = []
    for sub in root.iterdir():
        if not sub.is_dir() or sub.name.startswith((".", "_")):
            continue
        if not _ID_RE.match(sub.name) and not os.path.exists(sub / CONFIG_NAME):
            continue  # not an account's folder (lost+found): no id, no config
        _check_id(sub.name, file=str(root))
        specs.append(
            AccountSpec(sub.name, sub / CONFIG_NAME, sub / HOLDINGS_NAME, fallback,
                        named_by_folder=True)
        )  # fmt: skip
    return specs


def _from_index(index: Path, fallback: FallbackPolicy) -> list[AccountSpec]:
    specs: dict[str, AccountSpec] = {}
    paths: dict[str, Path] = {}  # a policy file shared by many rows: one Path object
    for line_no, row in _index_rows(index):
        where = f"{index}:{line_no}"
        account = (row.get("account") or "").strip()
        _check_id(account, file=where)
        if account in specs:
            raise ConfigError("account listed twice", file=where, key="account", value=account)
        config = (row.get("config") or "").strip()
        holdings = (row.get("holdings") or "").strip()
        for key, value in (("config", config), ("holdings", holdings)):
            if not value:
                raise ConfigError("required column is empty", file=where, key=key)
            if _CONTROL_RE.search(value):
                raise ConfigError(
                    "a path with a control character (NUL, newline, ...)", file=where, key=key,
                    value=value,
                )  # fmt: skip
        policy = fallback
        if (raw := (row.get("fallback") or "").strip()) != "":
            try:
                policy = FallbackPolicy(raw)
            except ValueError:
                known = ", ".join(p.value for p in FallbackPolicy)
                raise ConfigError(
                    f"unknown fallback; known: {known}", file=where, key="fallback", value=raw
                ) from None
        if (config_path := paths.get(config)) is None:
            config_path = paths[config] = index.parent / config
        specs[account] = AccountSpec(account, config_path, index.parent / holdings, policy)
    return list(specs.values())


_INDEX_COLUMNS = ("account", "config", "holdings", "fallback")


def _index_rows(index: Path) -> Iterator[tuple[int, dict[str, str | None]]]:
    text = read_text(index)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        started = 1  # the line the row being read starts on (an unclosed quote's)
        first: list[str] = next((row for row in reader if row), [])
        # " config" is config; a spreadsheet's trailing comma is an unnamed, empty column
        header = [name.strip() for name in first]
        missing = {"account", "config", "holdings"} - set(header)
        if missing:
            found = ",".join(header) or "an empty first line"
            raise ConfigError(
                f"missing columns {', '.join(sorted(missing))}; the header reads {found!r}",
                file=str(index),
                key="columns",
                hint="a comma-separated header: account,config,holdings",
            )
        named = [c for c in header if c]
        unknown = [c for c in named if c not in _INDEX_COLUMNS]
        if unknown or len(set(named)) != len(named):
            what = f"unknown column {unknown[0]!r}" if unknown else "a column named twice"
            raise ConfigError(
                f"{what}; the header reads {','.join(header)!r}",
                file=str(index),
                key="columns",
                hint=f"the columns are {','.join(_INDEX_COLUMNS)} (fallback optional)",
            )
        started = reader.line_num + 1
        for cells in reader:
            started = reader.line_num + 1
            if not cells:
                continue
            where = f"{index}:{reader.line_num}"
            if len(cells) > len(header):  # an unquoted comma in a path: which cell is which?
                raise ConfigError(
                    f"more cells than the header's {len(header)} columns",
                    file=where,
                    key="columns",
                    value=",".join(cells[len(header) :]),
                    hint='quote a path that holds a comma ("lots, 2017.csv")',
                )
            stray = next(
                (c for h, c in zip(header, cells, strict=False) if not h and c.strip()), None
            )
            if stray is not None:
                raise ConfigError(
                    "a value under an unnamed column",
                    file=where,
                    key="columns",
                    value=stray,
                    hint=f"the header reads {','.join(header)!r}: name the column or clear it",
                )
            row = {h: (cells[j] if j < len(cells) else None) for j, h in enumerate(header) if h}
            if any((v or "").strip() for v in row.values()):
                yield reader.line_num, row
    except csv.Error as exc:
        if "end of data" in str(exc):  # a quote opened and never closed
            raise ConfigError(
                "a quote opened on this line is never closed", file=f"{index}:{started}",
                hint='close the quote ("a path, with a comma.csv")',
            ) from None  # fmt: skip
        raise ConfigError(
            "cannot read the accounts index", file=str(index), hint=str(exc)
        ) from None


def _check_id(account: str, *, file: str) -> None:
    if not _ID_RE.match(account):
        raise ConfigError(
            "invalid account id",
            file=file,
            key="account",
            value=account,
            hint="letters, digits, '.', '_' and '-', starting with a letter or digit (a "
            "folder whose name starts with '_' or '.' is left out)",
        )


def inputs_hash(spec: AccountSpec, period: Period, *, check_id: bool = True) -> str:
    """sha256 over the period, the config bytes, the holdings bytes and referenced files.

    A referenced file is any string value in the TOML that names an existing file
    (relative to the config's folder) with a data-file suffix; its path and bytes enter
    the hash, so editing a scenario file or a price file also changes the hash.

    Raises
    ------
    ConfigError
        The config or holdings file cannot be read, or (one folder per account) the
        config's ``[account] id`` is not the folder's name. (A malformed TOML is hashed as
        bytes; the pipeline reports it as the account's failure.)
    """
    digest = hashlib.sha256()
    digest.update(f"period={period.label}\n".encode())
    config = _config_bytes(spec.config_path)
    if spec.named_by_folder and check_id:
        _check_declared_id(spec, config)
    holdings = _read_bytes(spec.holdings_path)
    for label, data in (("config", config), ("holdings", holdings)):
        digest.update(f"{label}:{len(data)}\n".encode())
        digest.update(data)
    for ref in _referenced_files(config, spec.config_path, exclude=spec.holdings_path):
        data = _read_bytes(ref)
        digest.update(f"ref:{ref.name}:{len(data)}\n".encode())
        digest.update(data)
    return digest.hexdigest()


def own_files(spec: AccountSpec) -> set[Path]:
    """The holdings file and every data file the account's config names (resolved): the
    files whose errors are the account's to fix, never a fallback's to paper over."""
    try:
        config = _config_bytes(spec.config_path)
    except CapallocError:
        config = b""
    refs = _referenced_files(config, spec.config_path, exclude=spec.holdings_path)
    return {spec.holdings_path.resolve(), *(r.resolve() for r in refs)}


def with_hash(spec: AccountSpec, period: Period, *, done_with: str | None = None) -> AccountSpec:
    """``spec`` with its ``inputs_hash`` filled in.

    ``done_with``: the hash recorded when the account was done. Inputs whose bytes hash to
    it are the ones that passed every check then, so the ``[account] id`` check (a TOML
    parse) is only made when they differ.
    """
    if done_with is not None:
        digest = inputs_hash(spec, period, check_id=False)
        if digest == done_with:
            return replace(spec, inputs_hash=digest)
    return replace(spec, inputs_hash=inputs_hash(spec, period))


def _read_bytes(path: Path, limit: int = MAX_CSV_BYTES) -> bytes:
    return read_bytes(path, limit=limit)


_LAST_CONFIG: list[Any] = [None]  # ((path, device, inode, mtime, size), bytes): one item,
# replaced whole, so threads of one worker never see a key with another file's bytes


def _config_bytes(path: Path) -> bytes:
    """The account file's bytes; a policy file shared by the accounts that follow each
    other is read once while it is unchanged (same file, modification time and size)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return _read_bytes(path, MAX_TOML_BYTES)  # raises the one-line ConfigError
    key = (str(path), st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
    last = _LAST_CONFIG[0]
    if last is not None and last[0] == key and stat.S_ISREG(st.st_mode):
        return last[1]
    data = _read_bytes(path, MAX_TOML_BYTES)
    _LAST_CONFIG[0] = (key, data)
    return data


def _check_declared_id(spec: AccountSpec, config: bytes) -> None:
    """An ``[account] id`` in a folder's ``account.toml`` must be the folder's name: the
    orders and the ledger use the folder's name, so a different id means the file was
    copied from another account (or the folder renamed) by mistake."""
    try:
        # the pipeline parses the same text next: it takes this parse (as read_text decodes)
        declared = parse_toml(config.decode("utf-8-sig"), keep=True).get("account", {})
    except (ConfigError, UnicodeDecodeError):
        return  # the pipeline reports the malformed file
    given = declared.get("id") if isinstance(declared, dict) else None
    if given is not None and given != spec.account_id:
        raise ConfigError(
            f"[account] id differs from the account's folder name {spec.account_id!r}",
            file=str(spec.config_path),
            key="account.id",
            value=given,
            hint="set the id to the folder's name (or rename the folder), or drop the id",
        )


def _referenced_files(config: bytes, config_path: Path, *, exclude: Path) -> list[Path]:
    if not _REFERENCE_RE.search(config):
        return []  # no file name in the text: no need to parse it
    try:
        data = parse_toml(config.decode("utf-8-sig"))  # a byte-order mark as the loading
    except (ConfigError, UnicodeDecodeError):
        return []  # the bytes are hashed; the pipeline reports the malformed file
    found: dict[Path, None] = {}
    base = config_path.parent
    for text in _strings(data):
        if not text.lower().endswith(_REFERENCE_SUFFIXES) or "\n" in text:
            continue
        candidate = Path(text.removeprefix("csv:")).expanduser()
        candidate = candidate if candidate.is_absolute() else base / candidate
        if candidate.is_file() and candidate.resolve() != exclude.resolve():
            found[candidate] = None
    return sorted(found)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)

"""Atomic file writes for every file the product writes (report, proposal, orders from the
CLI, the market-data cache): readers see the old file or the new one, never half of one.
The monthly job's two-phase order files (optimizer.jobs.orders) use :func:`fsync_dir`."""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from optimizer.errors import ConfigError


def write_atomic(
    path: str | os.PathLike[str], text: str | bytes, *, encoding: str = "utf-8"
) -> Path:
    """Write ``text`` to ``path`` atomically and durably.

    The text goes to a temporary file in the same folder, is flushed and fsynced, then
    renamed over ``path`` with :func:`os.replace`; the folder is fsynced where the platform
    allows it. On any failure the temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path:
        Destination file. Its folder is created if missing.
    text:
        The whole content (``bytes`` are written as they are: a PDF).
    encoding:
        Text encoding (UTF-8 by default).

    Returns
    -------
    Path
        The destination path.

    Raises
    ------
    ConfigError
        The folder cannot be created or written (names the file and the OS reason).
    """
    return write_files_atomic({Path(path): text}, encoding=encoding)[0]


def write_files_atomic(texts: Mapping[Path, str | bytes], *, encoding: str = "utf-8") -> list[Path]:
    """Write several files, in any folders, as one set: each is first written and fsynced
    under a temporary name beside its destination; only when all are written are they
    renamed into place, each previous file kept under a hard link until every rename has
    succeeded. A file that cannot be written or renamed (its folder's path taken by a
    file, no permission, a full disk) leaves every destination as it was.

    Raises
    ------
    ConfigError
        Names the destination that could not be written and the reason.
    """
    staged: list[tuple[str, Path]] = []
    made: list[Path] = []  # folders created for the set, parents first
    try:
        for path, text in texts.items():
            target = Path(path)
            staged.append((_stage(target, text, encoding, made), target))
        for _tmp, target in staged:  # a rename that would fail must fail before the first
            if target.is_dir() and not target.is_symlink():
                raise _cannot(target, "a folder has the file's name")
        _publish(staged)
    except BaseException:
        _discard(tmp for tmp, _target in staged)
        for folder in reversed(made):  # only the folders this call made, if left empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    for folder in dict.fromkeys(target.parent for _tmp, target in staged):
        fsync_dir(folder)
    return [target for _tmp, target in staged]


def _publish(staged: list[tuple[str, Path]]) -> None:
    """Rename each staged file onto its destination; on a failure, put back what the
    destinations held (or remove what was new) and raise naming the destination."""
    done: list[tuple[Path, str | None]] = []  # (destination, its previous file's link)
    for i, (tmp, target) in enumerate(staged):
        keep = None
        try:
            if os.path.lexists(target):
                keep = f"{tmp}.previous"
                os.link(target, keep, follow_symlinks=False)
            os.replace(tmp, target)
        except OSError as exc:
            for dest, previous in reversed(done):
                with contextlib.suppress(OSError):
                    if previous is None:
                        os.unlink(dest)
                    else:
                        os.replace(previous, dest)
            _discard([*(t for t, _d in staged[i:]), *([keep] if keep else [])])
            raise _cannot(target, exc) from exc
        done.append((target, keep))
    _discard(previous for _dest, previous in done if previous is not None)


def _discard(paths: Iterable[str]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _stage(target: Path, text: str | bytes, encoding: str, made: list[Path]) -> str:
    """``text`` written and fsynced under a temporary name in ``target``'s folder; the
    folders it had to create are added to ``made``."""
    folder = target.parent
    chain = (folder, *folder.parents)
    missing = list(itertools.takewhile(lambda p: not p.exists(), chain))
    taken = chain[len(missing)] if len(missing) < len(chain) else None  # the nearest that is
    if taken is not None and not taken.is_dir():
        raise _cannot(target, f"{taken} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        made.extend(reversed(missing))
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _cannot(target, exc) from exc
    try:
        os.fchmod(fd, _mode_for(target))
        _write_fd(fd, text, encoding)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError):
            raise _cannot(target, exc) from exc
        raise
    return tmp_name


def _cannot(target: Path, why: OSError | str) -> ConfigError:
    hint = why if isinstance(why, str) else (why.strerror or str(why))
    return ConfigError("cannot write the output file", file=str(target), hint=hint)


def write_set_atomic(
    folder: str | os.PathLike[str],
    texts: Mapping[str, str | bytes],
    *,
    retire: tuple[str, ...] = (),
) -> dict[str, Path]:
    """Write several files of ``folder`` as one set: all new, or all as they were.

    Every file is first written and fsynced in a hidden staging folder inside ``folder``
    (same filesystem, so nothing later needs new space); only when all are written are
    they renamed into place, one ``rename`` each. A failure while writing (full disk,
    permissions, an error while rendering) leaves the previous set untouched. Files named
    in ``retire`` that are not part of the new set are removed, so no stale member of an
    older set (an ``orders.csv`` of a plan that no longer trades, say) stays beside it.

    Returns
    -------
    dict
        ``name -> path`` of each file written.

    Raises
    ------
    ConfigError
        The folder cannot be created or written (names the folder and the OS reason).
    """
    target = Path(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=target))
    except OSError as exc:
        raise ConfigError(
            "cannot write the output folder", file=str(target), hint=exc.strerror or str(exc)
        ) from exc
    try:
        for name, text in texts.items():
            _write_durable(stage / name, text, _mode_for(target / name))
        fsync_dir(stage)
        for name in texts:  # a rename that would fail must fail before the first one
            if (target / name).is_dir() and not (target / name).is_symlink():
                raise IsADirectoryError(errno.EISDIR, "a folder has the name of a file", name)
        for name in texts:
            os.replace(stage / name, target / name)
        for name in retire:
            if name not in texts:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(target / name)
    except OSError as exc:
        raise ConfigError(
            "cannot write the output folder; the previous files are unchanged",
            file=str(target),
            hint=exc.strerror or str(exc),
        ) from exc
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    fsync_dir(target)
    return {name: target / name for name in texts}


def _write_durable(path: Path, text: str | bytes, mode: int) -> None:
    _write_fd(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), text, "utf-8")


def _write_fd(fd: int, content: str | bytes, encoding: str) -> None:
    """Write the whole ``content`` (text encoded, or bytes) to ``fd``, fsync and close it."""
    if isinstance(content, bytes):
        with os.fdopen(fd, "wb") as raw:
            raw.write(content)
            raw.flush()
            os.fsync(raw.fileno())
        return
    with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _mode_for(target: Path) -> int:
    """The existing file's permissions, else the usual ``0o666`` less the umask."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def fsync_dir(folder: Path) -> None:
    """Persist the rename itself (POSIX); a no-op where folders cannot be opened."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)

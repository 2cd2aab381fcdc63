"""TOML → validated models. Every error names the file, the key and the bad value.

Each pipeline stage owns the pydantic model of its own configuration section (the data
layer owns ``[data]``, the optimizer ``[objective]`` and ``[constraints]``, ...); this module
holds the shared machinery: reading TOML, turning pydantic's errors into one-line
``ConfigError``s, and resolving paths relative to the file that names them.
"""

from __future__ import annotations

import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import tomli
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from optimizer.errors import ConfigError
from optimizer.files import read_text
from optimizer.limits import MAX_TOML_BYTES, MAX_TOML_DEPTH

M = TypeVar("M", bound=BaseModel)
# validated sections kept by (model, repr of the data): see ``validate(shared=...)``
SharedSections = dict[tuple[type, str], BaseModel]


class StrictModel(BaseModel):
    """Base for configuration models: unknown keys are errors, instances are frozen,
    NaN and infinities are refused in every float field."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """A number field takes a number: ``change_bp = true`` was 1 bp and
        ``probability = "0.3"`` 0.3, where the file most likely holds a slip."""
        if info.field_name is None:
            return value
        annotation = cls.model_fields[info.field_name].annotation
        items: list[Any] = [value]
        if isinstance(value, list) and typing.get_origin(annotation) in (list, tuple):
            annotation = (typing.get_args(annotation) or (Any,))[0]  # list[float]: each item
            items = value
        kinds = _scalar_kinds(annotation)
        for item in items:
            if isinstance(item, bool | str) and kinds and kinds <= {int, float}:
                shown = "true/false" if isinstance(item, bool) else "text"
                raise ValueError(f"a number, not {shown}")
        return value


def _scalar_kinds(annotation: Any) -> set[Any]:
    """The plain types a field accepts (``float | None`` -> {float}); empty when it takes
    anything else too (a model, a list, an enum, text)."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _scalar_kinds(args[0])
    if origin in (typing.Union, types.UnionType):
        kinds: set[Any] = set()
        for a in args:
            if a is type(None):
                continue
            sub = _scalar_kinds(a)
            if not sub:
                return set()
            kinds |= sub
        return kinds
    return {annotation} if annotation in (int, float) else set()


def read_toml(path: str | Path, *, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """Read a TOML file; a missing, oversized, too deeply nested or malformed file is one
    ``error`` line (limits in :mod:`optimizer.limits`)."""
    p = Path(path)
    text = read_text(p, limit=MAX_TOML_BYTES, error=error)
    return parse_toml(text, file=str(p), error=error)


# text -> its parsed dict, left by ``parse_toml(..., keep=True)`` for the next parse of the
# same text, which takes it (once: a later parse of that text parses it anew)
_KEPT: dict[str, dict[str, Any]] = {}


def parse_toml(
    text: str,
    *,
    file: str | None = None,
    error: type[ConfigError] = ConfigError,
    keep: bool = False,
) -> dict[str, Any]:
    """TOML text → dict; syntax errors and nesting beyond ``MAX_TOML_DEPTH`` are errors.

    ``keep``: the same text is about to be parsed again (the monthly job's id check, then
    the account file's loading): the result is kept for that next parse, which takes it
    instead of parsing twice; the caller only reads it, and not after that parse.
    """
    kept = _KEPT.pop(text, None)
    if kept is not None:
        if keep:
            _KEPT[text] = kept
        return kept
    try:
        data = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        raise error(f"malformed TOML: {exc}", file=file) from None
    except RecursionError:
        data = None
    if data is None or _depth(data) > MAX_TOML_DEPTH:
        raise error(
            f"tables or arrays nested more than {MAX_TOML_DEPTH} deep", file=file,
            hint="see docs/limits.md",
        )  # fmt: skip
    if keep:
        _KEPT.clear()  # one text at a time
        _KEPT[text] = data
    return data


def _depth(value: Any) -> int:
    """How deeply tables and arrays nest in ``value`` (level by level: no recursion limit;
    counting stops past ``MAX_TOML_DEPTH``)."""
    level, containers = 0, [value] if isinstance(value, (dict, list)) else []
    while containers and level <= MAX_TOML_DEPTH:
        level += 1
        inner = []
        for item in containers:
            for child in item.values() if isinstance(item, dict) else item:
                if isinstance(child, (dict, list)):
                    inner.append(child)
        containers = inner
    return level


def validate(
    model: type[M],
    data: Any,
    *,
    file: str | Path | None = None,
    prefix: str = "",
    error: type[ConfigError] = ConfigError,
    shared: SharedSections | None = None,
) -> M:
    """Validate ``data`` against ``model``; the first problem becomes one ``error`` line.

    ``prefix`` is the dotted key of ``data`` inside its file (``"constraints"``), so the
    message names the full key (``constraints.turnover``). ``shared``: validated sections
    kept by (model, repr of the data) for a caller that reads many files saying the same
    and never changes what it gets (the monthly job's pipeline): an instance found there is
    returned as it is, lists and tables inside it included; only frozen models and only
    successes are kept (the validators read nothing but the data).
    """
    memo = None
    if shared is not None and model.model_config.get("frozen", False):
        memo = (model, repr(data))
        if (hit := shared.get(memo)) is not None:
            return hit  # type: ignore[return-value]
    try:
        valid = model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(part) for part in first["loc"])
        key = ".".join(part for part in (prefix, loc) if part) or None
        value = first.get("input")
        if isinstance(value, dict):  # a missing key: pydantic hands back the parent table
            value = None
        message = first["msg"].removeprefix("Value error, ")  # our own checks' words only
        if first["type"] == "extra_forbidden":
            known = ", ".join(sorted(model.model_fields)) if "." not in loc else None
            message = "unknown key" + (f"; known keys: {known}" if known else "")
        elif first["type"] == "missing":
            message = "required key is missing"
        hint = None
        if isinstance(value, float) and not math.isfinite(value):
            hint = "numbers past the float range, such as 1e400, read as inf"
        raise error(
            message, file=str(file) if file else None, key=key, value=value, hint=hint
        ) from None
    if memo is not None and shared is not None:
        if len(shared) >= MAX_SHARED:  # the oldest goes (threads: pop, not del)
            shared.pop(next(iter(shared), None), None)  # type: ignore[arg-type]
        shared[memo] = valid
    return valid


MAX_SHARED = 512  # validated sections a ``shared`` cache keeps


def load(model: type[M], path: str | Path, *, error: type[ConfigError] = ConfigError) -> M:
    """Read and validate a whole TOML file against ``model``."""
    return validate(model, read_toml(path, error=error), file=path, error=error)


def resolve_path(value: str | Path, relative_to: str | Path) -> Path:
    """A path from a config file, taken relative to that file's folder unless absolute."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else (Path(relative_to).parent / p)

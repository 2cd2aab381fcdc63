"""Shared output helpers: ``--format``, JSON encoding and human tables."""

from __future__ import annotations

import functools
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from optimizer.jsonable import to_jsonable  # re-exported: commands import it from here

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Human table, or one JSON document on stdout.",
)

max_price_age_option = click.option(
    "--max-price-age",
    default=5,  # optimizer.data.freshness.DEFAULT_MAX_PRICE_AGE (not imported: +13 ms of start-up)
    show_default=True,
    type=click.IntRange(0, 100_000),
    metavar="DAYS",
    help="Business days (Mon-Fri) the last price may lie before the trade date "
    "before it counts as stale.",
)


class Money(click.ParamType):
    """An amount of money on the command line: finite, ``0 <= x <= MAX_MONEY``
    (docs/limits.md); anything else is a usage error (exit 2) naming the option."""

    name = "AMOUNT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from optimizer.limits import MAX_MONEY

        try:
            amount = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not (math.isfinite(amount) and 0 <= amount <= MAX_MONEY):
            self.fail(f"{value!r} is not an amount between 0 and {MAX_MONEY:g}", param, ctx)
        return amount


MONEY = Money()


class GivenPath(click.Path):
    """``click.Path`` that refuses an empty value: ``--accounts ''`` (an unset variable in a
    cron line) would otherwise be the current folder."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path (is a variable unset?)", param, ctx)
        return super().convert(value, param, ctx)


class FiniteRange(click.FloatRange):
    """``click.FloatRange`` that also refuses ``nan`` and infinities (which compare false
    with both bounds and would otherwise pass)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def emit_json(document: dict[str, Any]) -> None:
    """``document`` as one JSON document on stdout, in one write (``json.dump`` writes
    every token: one system call each when stdout is unbuffered, ``PYTHONUNBUFFERED``)."""
    sys.stdout.write(json.dumps(to_jsonable(document), indent=2, allow_nan=False) + "\n")


MAX_WARNING_LINES = 20  # on stderr; the document holds every one


def emit(fmt: str, document: dict[str, Any], render_table: Callable[[], None]) -> None:
    """Print ``document`` as JSON, or call ``render_table`` for the human view (which
    prints the warnings under its tables). With JSON, the document's ``warnings`` are also
    one line each on stderr, so a person or a cron log sees them beside the document."""
    if fmt == "json":
        emit_json(document)
        warnings = document.get("warnings") or []
        for w in warnings[:MAX_WARNING_LINES]:
            print(f"capalloc: warning: {' '.join(str(w).split())}", file=sys.stderr)
        if len(warnings) > MAX_WARNING_LINES:
            more = len(warnings) - MAX_WARNING_LINES
            print(f"capalloc: warning: ... and {more:,} more (the document's warnings)",
                  file=sys.stderr)  # fmt: skip
    else:
        render_table()


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    caption: str | None = None,
) -> None:
    """Print a rich table on stdout (numbers right-aligned, text left-aligned).

    A column whose cells are all numbers is never narrowed below its widest cell, so a
    narrow terminal or a pipe (80 columns) wraps the text columns and headers instead of
    cutting a number; text that still does not fit folds onto the next line, never "…".
    """
    from rich.measure import Measurement
    from rich.table import Table

    cells = [[_cell(v) for v in row] for row in rows]
    t = Table(title=title, caption=caption, show_lines=False)
    for i, col in enumerate(columns):
        column = [r[i] for r in cells if i < len(r)]
        numeric = any(map(_DIGIT.search, column)) and all(map(_NUMBER.fullmatch, column))
        width = _min_width(column if numeric else [*column, col], numeric)
        t.add_column(
            _fold_header(col, width) if numeric and width else col,
            justify="right" if numeric and i > 0 else "left",
            no_wrap=numeric,
            min_width=width,
            overflow="fold",
        )
    from rich.text import Text

    for row in cells:  # plain text: "[universe.assets]" in a message keeps its brackets
        t.add_row(*(Text(c) for c in row))
    out = console()
    need = Measurement.get(out, out.options.update(max_width=10_000), t).minimum
    if need > out.width:  # wider than the screen rather than cut
        out = console(width=need)
    out.print(t)


def _fold_header(header: str, width: int) -> str:
    """A long header over a narrow numeric column, broken at hyphens and spaces."""
    import textwrap

    limit = max(width, TEXT_MIN_WIDTH)
    if len(header) <= limit:
        return header
    return "\n".join(textwrap.wrap(header, limit, break_long_words=False))


def _min_width(column: list[str], numeric: bool) -> int | None:
    """Numbers keep their widest cell; text keeps up to TEXT_MIN_WIDTH characters."""
    if not column:
        return None
    widest = max(map(len, column))
    return widest if numeric else min(widest, TEXT_MIN_WIDTH)


TEXT_MIN_WIDTH = 10
_NUMBER = re.compile(r"[-+−]?[\d,]*\.?\d*(e[-+]?\d+)?\s?(%|pp|bp|x|s)?|–|")  # or empty
_DIGIT = re.compile(r"\d")


def note(text: str, *, markup: bool = False) -> None:
    """A line of context under a table (stdout, human mode only). Plain text: a message
    naming ``[data] start`` keeps its brackets (rich markup only when asked for)."""
    console(highlight=False).print(text, markup=markup)


def data_line(prov: dict[str, Any] | None) -> str:
    """``Data: SOURCE FIRST..LAST (FREQUENCY), as of DATE`` from a provenance document."""
    prov = prov or {}
    as_of = prov.get("as_of") or prov.get("last")
    return (
        f"Data: {prov.get('source')} {prov.get('first')}..{prov.get('last')} "
        f"({prov.get('frequency')}), as of {as_of}"
    )


def console(**kwargs: Any) -> Any:
    """A rich Console on stdout whose closed pipe (``| head``) ends the command quietly:
    rich would exit 1; the CLI's entry point turns BrokenPipeError into exit 0."""
    return _console_class()(soft_wrap=True, **kwargs)


@functools.cache
def _console_class() -> type:
    from rich.console import Console

    class QuietPipeConsole(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    return QuietPipeConsole


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        return f"{value:,.4f}"
    return str(value)


def pct(x: float | None, digits: int = 2) -> str:
    """Format a fraction as a percentage string (0.0123 -> '1.23%')."""
    if x is None or not math.isfinite(x):
        return "–"
    if abs(x) < 0.5 * 10 ** -(digits + 2):  # no "-0.00%"
        x = 0.0
    return f"{100 * x:.{digits}f}%"


def check_output(key: str, path: Path | None) -> None:
    """An output whose folder is missing is refused before any work."""
    from optimizer.errors import ConfigError

    if path is None:
        return
    parent = path.resolve().parent
    if parent.exists() and not parent.is_dir():
        raise ConfigError(f"{parent.name} is a file, not a folder", key=key, value=str(path))
    if not parent.is_dir():
        raise ConfigError("folder does not exist", key=key, value=str(path))

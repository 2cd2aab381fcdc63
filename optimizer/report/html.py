"""Tiny HTML building blocks: every string that reaches the page goes through ``esc``.

Functions here return HTML fragments as ``str``. Only ``el`` and ``raw``-marked
fragments are trusted; text arguments are always escaped.
"""

from __future__ import annotations

import html
from collections.abc import Container, Iterable, Sequence
from typing import Any

from optimizer.report.css import CSS


class Raw(str):
    """An HTML fragment that is already safe (built by these helpers)."""

    __slots__ = ()


def esc(value: Any) -> str:
    """Escape any value for text or a quoted attribute (``&<>"'``)."""
    if isinstance(value, Raw):
        return value
    return html.escape("" if value is None else str(value), quote=True)


def attrs(**kwargs: Any) -> str:
    """Render attributes; ``class_`` becomes ``class``, ``data_x`` becomes ``data-x``.

    ``None`` and ``False`` values are dropped; ``True`` renders a bare attribute.
    """
    parts = []
    for key, value in kwargs.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        parts.append(f" {name}" if value is True else f' {name}="{esc(value)}"')
    return "".join(parts)


def el(tag: str, *children: Any, **kwargs: Any) -> Raw:
    """``<tag attrs>children</tag>``; plain-string children are escaped."""
    inner = "".join(esc(c) for c in children if c is not None)
    return Raw(f"<{tag}{attrs(**kwargs)}>{inner}</{tag}>")


def join(parts: Iterable[Any]) -> Raw:
    """Concatenate fragments (escaping plain strings)."""
    return Raw("".join(esc(p) for p in parts if p is not None))


def table(
    headers: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    *,
    class_: str = "data",
    caption: str | None = None,
    text_cols: Container[int] = (0,),
    foot: Sequence[Any] | None = None,
) -> Raw:
    """A table whose columns are right-aligned numbers except those in ``text_cols``."""

    def cells(row: Sequence[Any], tag: str) -> Raw:
        return join(
            el(tag, cell, class_=None if i in text_cols else "num") for i, cell in enumerate(row)
        )

    head = el("thead", el("tr", cells(headers, "th")))
    body = el("tbody", join(el("tr", cells(row, "td")) for row in rows))
    tail = el("tfoot", el("tr", cells(foot, "td"))) if foot else None
    cap = el("caption", caption) if caption else None
    # a table wider than a narrow screen scrolls inside its wrapper, never widens the page
    return el("div", el("table", cap, head, body, tail, class_=class_), class_="table-wrap")


def section(title: str, *children: Any, id_: str | None = None) -> Raw:
    """A report section with a heading."""
    return el("section", el("h2", title), *children, id=id_)


def banner(text: str, *, kind: str = "warn") -> Raw:
    """A prominent one-paragraph notice (``warn`` or ``info``)."""
    return el("div", text, class_=f"banner {kind}", role="note")


def page(title: str, body: Any, *, running_head: str | None = None) -> str:
    """A whole self-contained HTML5 document with the inline stylesheet; ``running_head``
    is repeated at the top of every printed page (PDF), hidden on screen."""
    if running_head:
        body = join([el("div", running_head, class_="running-head"), body])
    head = (
        '<meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style>"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head>{head}</head>'
        f"<body><main>{esc(body)}</main></body></html>\n"
    )

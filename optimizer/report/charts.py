"""Small inline-SVG chart helpers: grouped bars, stacked bars, a frontier scatter.

Each helper takes plain numbers and returns an ``<svg>`` fragment (a :class:`Raw`
string) with no scripts and no external references. Geometry is linear in the data:
a bar's height (or a segment's width) is ``|value| * scale`` for one scale per chart, so
a value twice as large draws a bar twice as tall. Elements carry ``data-series`` and
``data-category`` attributes to say what they draw (not the values themselves).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from optimizer.report.fmt import num, pct
from optimizer.report.html import Raw, attrs, el, esc

Formatter = Callable[[float | None], str]

CHART_FONT = "Arial, 'Liberation Sans', Helvetica, sans-serif"
CURRENT_COLOR = "#9aa7b4"
PROPOSED_COLOR = "#1f4e79"
PALETTE = (
    "#1f4e79",
    "#4f8fc0",
    "#9cc3e4",
    "#c8a04a",
    "#6c9a5b",
    "#8c6bb1",
    "#b3b3b3",
    "#d17a45",
    "#2e8b8b",
    "#a3496b",
    "#7a6a3a",
    "#5b6875",
)


@dataclass(frozen=True)
class Series:
    """One data series: ``values[i]`` belongs to ``categories[i]`` (``None`` = missing)."""

    key: str  # machine name, e.g. "current"
    label: str  # legend text
    values: tuple[float | None, ...]
    color: str


@dataclass(frozen=True)
class Marker:
    """A labelled point on a scatter chart."""

    key: str
    label: str
    x: float
    y: float
    color: str


@dataclass(frozen=True)
class LinearScale:
    """Affine map from the data interval ``[d0, d1]`` to the pixel interval ``[r0, r1]``."""

    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, x: float) -> float:
        span = self.d1 - self.d0
        if span == 0:
            return (self.r0 + self.r1) / 2
        return self.r0 + (x - self.d0) * (self.r1 - self.r0) / span


def nice_ticks(lo: float, hi: float, n: int = 5) -> tuple[float, ...]:
    """Round tick values covering ``[lo, hi]`` (about ``n`` of them, steps of 1, 2, 2.5, 5)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return (0.0,)
    if hi < lo:
        lo, hi = hi, lo
    if hi - lo <= 1e-9 * max(abs(lo), abs(hi), 1e-300):  # a single value: pad around it
        pad = abs(hi) * 0.1 or 0.01
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    k0 = math.floor(lo / step + 1e-9)
    k1 = math.ceil(hi / step - 1e-9)
    return tuple((k0 + i) * step for i in range(k1 - k0 + 1))


def _f(x: float) -> str:
    return f"{x:.3f}"


def wrap_label(label: str, max_chars: int, max_lines: int = 2) -> list[str]:
    """Split ``label`` at spaces and after hyphens into at most ``max_lines`` lines of
    about ``max_chars``; a line still too long is cut with an ellipsis."""
    max_chars = max(max_chars, 3)
    lines: list[str] = []
    for word in re.findall(r"[^\s-]*-+|\S+", str(label)) or [""]:
        sep = "" if not lines or lines[-1].endswith("-") else " "
        if lines and len(lines[-1]) + len(sep) + len(word) <= max_chars:
            lines[-1] += sep + word
        else:
            lines.append(word)
    if len(lines) > max_lines:
        rest = lines[max_lines - 1 :]
        tail = "".join(w if w.endswith("-") else w + " " for w in rest).rstrip()
        lines = [*lines[: max_lines - 1], tail]
    return [line if len(line) <= max_chars else line[: max_chars - 1] + "…" for line in lines]


def _multiline(
    x: float, y: float, lines: Sequence[str], step: float = 13.0, **kwargs: object
) -> str:
    """A ``<text>`` with one ``<tspan>`` per line, the first at ``(x, y)``."""
    spans = "".join(
        f'<tspan x="{_f(x)}" dy="{0 if i == 0 else step}">{esc(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return f'<text x="{_f(x)}" y="{_f(y)}"{attrs(**kwargs)}>{spans}</text>'


def _svg(width: float, height: float, title: str, body: Sequence[str]) -> Raw:
    # size and font as attributes too: renderers that skip the page's CSS inside SVG
    # (WeasyPrint) then measure text as the layout here assumes
    head = f"<svg{attrs(class_='chart', role='img', font_size='11', font_family=CHART_FONT)}"
    head += f' viewBox="0 0 {_f(width)} {_f(height)}" width="{_f(width)}" height="{_f(height)}">'
    return Raw(head + str(el("title", title)) + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, **kwargs: object) -> str:
    return f'<text x="{_f(x)}" y="{_f(y)}"{attrs(**kwargs)}>{esc(text)}</text>'


def _legend(
    series: Sequence[Series | Marker], x0: float, x1: float, y: float
) -> tuple[list[str], int]:
    """Legend swatches laid out left to right from ``(x0, y)``, wrapping at ``x1``.

    Returns the SVG elements and the number of lines used (16 px apart).
    """
    out: list[str] = []
    x, line = x0, 0
    for s in series:
        step = 24 + 6.5 * len(s.label)
        if x > x0 and x + step > x1:
            x, line = x0, line + 1
        yy = y + 16 * line
        out.append(
            f'<rect x="{_f(x)}" y="{_f(yy - 9)}" width="10" height="10" fill="{esc(s.color)}"/>'
        )
        out.append(_text(x + 14, yy, s.label))
        x += step
    return out, line + 1 if series else 0


def ink_for(color: str) -> str:
    """Dark or white text, whichever reads better on a ``#rrggbb`` fill."""
    try:
        r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    except ValueError:
        return "#1d2733"
    return "#ffffff" if 0.299 * r + 0.587 * g + 0.114 * b < 140 else "#1d2733"


def _value_axis(scale: LinearScale, ticks: Sequence[float], x0: float, x1: float, fmt: Formatter):
    """Horizontal grid lines with tick labels for a vertical value axis."""
    out = []
    for t in ticks:
        y = scale(t)
        out.append(f'<line class="grid" x1="{_f(x0)}" x2="{_f(x1)}" y1="{_f(y)}" y2="{_f(y)}"/>')
        out.append(_text(x0 - 6, y + 4, fmt(t), text_anchor="end"))
    return out


def grouped_bars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    fmt: Formatter = pct,
    height: float = 260,
    max_width: float = 880,
) -> Raw:
    """Vertical bars, one group per category and one bar per series; signed values allowed.

    Parameters
    ----------
    categories:
        Group labels, length ``n``.
    series:
        Each with ``n`` values; bars rise from zero (down for negative values).
    title:
        Accessible title of the chart.
    fmt:
        Formats tick and value labels.
    """
    left, right, top = 56.0, 12.0, 26.0
    n, k = max(len(categories), 1), max(len(series), 1)
    group_w = max(40.0, min(120.0, (max_width - left - right) / n))
    width = left + right + group_w * n
    labels = [wrap_label(cat, int(group_w / 6.2), max_lines=4) for cat in categories]
    bottom = 20.0 + 13.0 * max([len(x) for x in labels] or [1])  # every line of every label
    height += bottom - 46.0
    legend, lines = _legend(series, left, width - right, 14)
    top += 16 * max(lines - 1, 0)
    height += 16 * max(lines - 1, 0)
    vals = [v for s in series for v in (num(x) for x in s.values) if v is not None]
    ticks = nice_ticks(min([0.0, *vals]), max([0.0, *vals]) or 0.01)
    scale = LinearScale(ticks[0], ticks[-1], height - bottom, top)
    body = _value_axis(scale, ticks, left, width - right, fmt)
    bar_w = group_w * 0.8 / k
    y0 = scale(0.0)
    for i, cat in enumerate(categories):
        gx = left + i * group_w + group_w * 0.1
        for j, s in enumerate(series):
            v = num(s.values[i]) if i < len(s.values) else None
            if v is None:
                continue
            yv = scale(v)
            body.append(
                f'<rect class="bar" x="{_f(gx + j * bar_w)}" y="{_f(min(yv, y0))}"'
                f' width="{_f(bar_w * 0.92)}" height="{_f(abs(yv - y0))}" fill="{esc(s.color)}"'
                f"{attrs(data_series=s.key, data_category=cat)}>"
                f"{el('title', f'{cat} — {s.label}: {fmt(v)}')}</rect>"
            )
        body.append(
            _multiline(gx + group_w * 0.4, height - bottom + 16, labels[i], text_anchor="middle")
        )
    body.append(
        f'<line class="axis" x1="{_f(left)}" x2="{_f(width - right)}" y1="{_f(y0)}" y2="{_f(y0)}"/>'
    )
    body.extend(legend)
    return _svg(width, height, title, body)


def stacked_bars(
    rows: Sequence[str],
    segments: Sequence[Series],
    *,
    title: str,
    fmt: Formatter = pct,
    width: float = 640,
) -> Raw:
    """Horizontal stacked bars, one per row; segment ``s`` of row ``i`` is ``s.values[i]``.

    Widths use one scale for the whole chart (a total of 1.0 spans the plot, or the
    largest total if above 1). Non-positive or missing values draw nothing.
    """
    label_chars = min(max([len(str(r)) for r in rows] or [0]), 22)
    left, right, top, row_h = 16.0 + 6.5 * label_chars, 16.0, 30.0, 34.0
    row_h += 16.0  # a lane under each bar for the values of segments too narrow to hold them
    legend, lines = _legend(segments, left, width - right, 16)
    top += 16 * max(lines - 1, 0)
    totals = [sum(max(num(s.values[i]) or 0.0, 0.0) for s in segments) for i in range(len(rows))]
    span = max([1.0, *totals])
    scale = LinearScale(0.0, span, 0.0, width - left - right)
    height = top + row_h * len(rows) + 8
    body: list[str] = []
    bar_h = row_h - 26.0
    for i, row in enumerate(rows):
        y = top + i * row_h
        label = wrap_label(row, label_chars, 3)  # whole, on up to three lines
        first = y + 4 + bar_h / 2 + 4 - 6.5 * (len(label) - 1)
        body.append(_multiline(left - 8, first, label, step=13.0, text_anchor="end"))
        x, lane_end = left, -math.inf
        for s in segments:
            v = num(s.values[i])
            if v is None or v <= 0:
                continue
            w = scale(v)
            body.append(
                f'<rect class="segment" x="{_f(x)}" y="{_f(y + 4)}" width="{_f(w)}"'
                f' height="{_f(bar_h)}" fill="{esc(s.color)}"'
                f"{attrs(data_series=s.key, data_category=row)}>"
                f"{el('title', f'{row} — {s.label}: {fmt(v)}')}</rect>"
            )
            text = fmt(v)
            if w > 7.0 * len(text) + 6:  # fits inside
                body.append(_text(x + w / 2, y + 8 + bar_h / 2, text, text_anchor="middle",
                                  fill=ink_for(s.color)))  # fmt: skip
            else:  # in the lane below, pushed right of the previous lane label
                half = 3.4 * len(text)
                cx = min(max(x + w / 2, lane_end + half + 6), width - right - half)
                lane_end = cx + half
                ty = y + 4 + bar_h
                body.append(f'<line class="tick" x1="{_f(x + w / 2)}" x2="{_f(cx)}" '
                            f'y1="{_f(ty)}" y2="{_f(ty + 6)}" stroke="#8a96a3"/>')  # fmt: skip
                body.append(_text(cx, ty + 17, text, text_anchor="middle", class_="lane"))
            x += w
    body.extend(legend)
    return _svg(width, height, title, body)


def scatter_chart(
    curve: Sequence[tuple[float, float]],
    markers: Sequence[Marker],
    *,
    title: str,
    x_label: str,
    y_label: str,
    fmt: Formatter = pct,
    width: float = 640,
    height: float = 320,
    context: Sequence[Marker] = (),
    arrow: tuple[str, str] | None = None,
) -> Raw:
    """A line through ``curve`` points (drawn as dots too) and labelled ``markers``.

    ``x`` grows to the right and ``y`` upwards, both on linear scales shared by the curve,
    the markers and the ``context`` points (small labelled dots, e.g. each asset alone).
    ``arrow`` names two markers (from, to) joined by a dashed line. Curve points with a
    missing coordinate are skipped.
    """
    left, right, top, bottom = 60.0, 20.0, 28.0, 44.0
    pts = [(num(x), num(y)) for x, y in curve]
    pts = [(x, y) for x, y in pts if x is not None and y is not None]
    xs = [x for x, _ in pts] + [m.x for m in (*markers, *context)] or [0.0]
    ys = [y for _, y in pts] + [m.y for m in (*markers, *context)] or [0.0]
    xt, yt = nice_ticks(min([0.0, *xs]), max(xs)), nice_ticks(min(ys), max(ys))
    sx = LinearScale(xt[0], xt[-1], left, width - right)
    sy = LinearScale(yt[0], yt[-1], height - bottom, top)
    body = _value_axis(sy, yt, left, width - right, fmt)
    body += _x_axis(sx, xt, top, height - bottom, fmt)
    mid_y = (top + height - bottom) / 2
    body.append(_text((left + width - right) / 2, height - 8, x_label, text_anchor="middle"))
    body.append(
        _text(14, mid_y, y_label, text_anchor="middle", transform=f"rotate(-90 14 {_f(mid_y)})")
    )
    if len(pts) > 1:
        path = " ".join(f"{_f(sx(x))},{_f(sy(y))}" for x, y in sorted(pts))
        body.append(f'<polyline points="{path}" fill="none" stroke="#4f8fc0" stroke-width="2"/>')
    body.extend(
        f'<circle class="frontier-point" cx="{_f(sx(x))}" cy="{_f(sy(y))}" r="2.5" fill="#4f8fc0"/>'
        for x, y in pts
    )
    body += _context(context, sx, sy, lambda m: f"{m.label}: {x_label} {fmt(m.x)}, "
                     f"{y_label} {fmt(m.y)}")  # fmt: skip
    ends = {m.key: m for m in markers}
    if arrow and arrow[0] in ends and arrow[1] in ends:
        a, b = ends[arrow[0]], ends[arrow[1]]
        body.append(
            f'<line class="move" x1="{_f(sx(a.x))}" y1="{_f(sy(a.y))}" x2="{_f(sx(b.x))}"'
            f' y2="{_f(sy(b.y))}" stroke="#5b6875" stroke-width="1.5" stroke-dasharray="5 4"/>'
        )
    for m in markers:
        tip = el("title", f"{m.label}: {x_label} {fmt(m.x)}, {y_label} {fmt(m.y)}")
        body.append(
            f'<circle class="marker" cx="{_f(sx(m.x))}" cy="{_f(sy(m.y))}" r="6"'
            f' fill="{esc(m.color)}" stroke="#fff" stroke-width="1.5"'
            f"{attrs(data_series=m.key)}>{tip}</circle>"
        )
        body.append(_text(sx(m.x) + 9, sy(m.y) - 8, m.label))
    return _svg(width, height, title, body)


def _context(
    points: Sequence[Marker], sx: LinearScale, sy: LinearScale, tip: Callable[[Marker], str]
) -> list[str]:
    """Small labelled grey dots (each asset alone) behind the frontier."""
    out = []
    for m in points:
        out.append(
            f'<circle class="context" cx="{_f(sx(m.x))}" cy="{_f(sy(m.y))}" r="3.5"'
            f' fill="{esc(m.color)}"{attrs(data_series=m.key)}>{el("title", tip(m))}</circle>'
        )
        out.append(_text(sx(m.x) + 6, sy(m.y) + 4, m.label, fill="#5b6875"))
    return out


def _x_axis(
    scale: LinearScale, ticks: Sequence[float], y0: float, y1: float, fmt: Formatter
) -> list[str]:
    """Vertical grid lines with tick labels under the plot for a horizontal axis."""
    out = []
    for t in ticks:
        x = _f(scale(t))
        out.append(f'<line class="grid" x1="{x}" x2="{x}" y1="{_f(y0)}" y2="{_f(y1)}"/>')
        out.append(_text(scale(t), y1 + 18, fmt(t), text_anchor="middle"))  # clear of y labels
    return out

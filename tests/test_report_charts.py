"""Properties of the SVG chart helpers over generated inputs (Hypothesis).

For any values, the geometry must be one linear map of the data: bar heights and
segment widths equal ``scale * |value|`` with one scale per chart, bars start at the zero
line, and everything lies inside the drawing.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.report import charts
from tests.test_report_support import parse

PX = 0.01
values = st.floats(-1.0, 1.0, allow_nan=False).map(lambda v: round(v, 6))


def _svg_box(svg: str) -> tuple[float, float]:
    root = next(e for e in parse(svg).elements if e.tag == "svg")
    return root.num("width"), root.num("height")


def _rects(svg: str, css_class: str) -> list:
    return [e for e in parse(svg).elements if e.tag == "rect" and e.attrs.get("class") == css_class]


@settings(max_examples=60, deadline=None)
@given(
    data=st.integers(1, 8).flatmap(
        lambda n: st.lists(st.lists(values, min_size=n, max_size=n), min_size=1, max_size=3)
    )
)
def test_grouped_bars_are_one_linear_map_from_zero(data):
    cats = [f"c{i}" for i in range(len(data[0]))]
    series = [charts.Series(f"s{j}", f"S{j}", tuple(v), "#1f4e79") for j, v in enumerate(data)]
    svg = charts.grouped_bars(cats, series, title="t")
    assert parse(svg).errors == []
    width, height = _svg_box(svg)
    bars = {(e.attrs["data-series"], e.attrs["data-category"]): e for e in _rects(svg, "bar")}
    assert len(bars) == sum(len(v) for v in data)
    flat = [
        (bars[(f"s{j}", c)], v)
        for j, vals in enumerate(data)
        for c, v in zip(cats, vals, strict=True)
    ]
    big_bar, big = max(flat, key=lambda bv: abs(bv[1]))
    k = big_bar.num("height") / abs(big) if big else 0.0
    zero = {
        round(b.num("y"), 2) if v < 0 else round(b.num("y") + b.num("height"), 2)
        for b, v in flat
        if v != 0
    }
    assert len(zero) <= 1
    for bar, v in flat:
        assert bar.num("height") == pytest.approx(k * abs(v), abs=PX)
        assert bar.num("y") >= 0 and bar.num("y") + bar.num("height") <= height + PX
        assert bar.num("x") >= 0 and bar.num("x") + bar.num("width") <= width + PX


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 5).flatmap(
        lambda k: st.lists(
            st.lists(st.floats(0, 1, allow_nan=False), min_size=k, max_size=k),
            min_size=1,
            max_size=4,
        )
    )
)
def test_stacked_segments_are_contiguous_and_proportional(rows):
    names = [f"row {i}" for i in range(len(rows))]
    k = len(rows[0])
    segments = [
        charts.Series(f"s{j}", f"S{j}", tuple(r[j] for r in rows), charts.PALETTE[j])
        for j in range(k)
    ]
    svg = charts.stacked_bars(names, segments, title="t")
    width, _ = _svg_box(svg)
    drawn = _rects(svg, "segment")
    total = max([1.0, *(sum(r) for r in rows)])
    for name, r in zip(names, rows, strict=True):
        mine = [e for e in drawn if e.attrs["data-category"] == name]
        assert [e.attrs["data-series"] for e in mine] == [f"s{j}" for j in range(k) if r[j] > 0]
        for a, b in itertools.pairwise(mine):
            assert b.num("x") == pytest.approx(a.num("x") + a.num("width"), abs=PX)
        if mine:
            plot = width - mine[0].num("x") - 16  # right margin
            for e in mine:
                v = r[int(e.attrs["data-series"][1:])]
                assert e.num("width") == pytest.approx(plot * v / total, abs=PX)
            assert mine[-1].num("x") + mine[-1].num("width") <= width + PX


@settings(max_examples=40, deadline=None)
@given(
    pts=st.lists(
        st.tuples(st.floats(0.001, 0.5), st.floats(-0.2, 0.3)),
        min_size=2,
        max_size=12,
        unique_by=lambda p: p[0],
    ),
)
def test_scatter_points_share_one_affine_map(pts):
    marker = charts.Marker("m", "M", pts[0][0] * 1.1, pts[0][1] - 0.01, "#c0392b")
    svg = charts.scatter_chart(pts, [marker], title="t", x_label="x", y_label="y")
    elements = parse(svg).elements
    circles = [e for e in elements if e.tag == "circle"]
    xy = np.array([*pts, (marker.x, marker.y)])
    px = np.array([(c.num("cx"), c.num("cy")) for c in circles])
    width, height = _svg_box(svg)
    for col, sign in ((0, 1), (1, -1)):
        if np.ptp(xy[:, col]) < 1e-9:
            continue
        slope, intercept = np.polyfit(xy[:, col], px[:, col], 1)
        assert sign * slope > 0
        assert np.max(np.abs(slope * xy[:, col] + intercept - px[:, col])) < PX
    assert np.all((px >= 0) & (px <= [width, height]))


@settings(max_examples=200, deadline=None)
@given(lo=st.floats(-1e4, 1e4), span=st.floats(0, 1e4))
def test_nice_ticks_cover_the_range_in_round_equal_steps(lo, span):
    hi = lo + span
    ticks = charts.nice_ticks(lo, hi)
    tol = 1e-8 * max(1.0, abs(lo), abs(hi))  # float noise far below a pixel
    assert ticks[0] <= lo + tol and ticks[-1] >= hi - tol
    assert 2 <= len(ticks) <= 12
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0], rtol=1e-6)
    mantissa = steps[0] / 10 ** math.floor(math.log10(steps[0]))
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 2.5, 5, 10))


@settings(deadline=None)
@given(st.text(min_size=0, max_size=80), st.integers(3, 30))
def test_wrapped_labels_fit(label, width):
    lines = charts.wrap_label(label, width)
    assert 1 <= len(lines) <= 2
    assert all(len(line) <= width for line in lines)


def test_long_legends_wrap_inside_the_drawing():
    series = [
        charts.Series(f"T{i}", f"TICKER{i:02d}", (0.05,), charts.PALETTE[i % 12]) for i in range(20)
    ]
    for svg in (
        charts.stacked_bars(["a"], series, title="t"),
        charts.grouped_bars(["a"], series, title="t"),
    ):
        width, height = _svg_box(svg)
        for e in parse(svg).elements:
            if e.tag in ("rect", "text") and "x" in e.attrs:
                assert 0 <= e.num("x") <= width
                assert 0 <= e.num("y") <= height

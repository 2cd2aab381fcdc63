"""The report pages laid out by a real browser (headless Chromium, Debian's ``chromium``) at
desktop width (1,200 px) and phone width (390 px): nothing wider than the page, no chart
label cut, outside its chart or on top of another label. Skipped without /usr/bin/chromium
(``apt-get install -y chromium``)."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
MEASURE = (Path(__file__).parent / "layout_support" / "measure.js").read_text()
WIDTHS = (1200, 390)


def layout(page: Path, width: int) -> dict:
    """Load ``page`` in an iframe ``width`` px wide (headless windows are at least 500 px)
    and return the measurements of ``measure.js``."""
    harness = page.with_name(f"harness-{width}-{page.stem}.html")
    harness.write_text(
        f'<!DOCTYPE html><html><body style="margin:0"><iframe id="page" src="{page.name}" '
        f'style="border:0;width:{width}px;height:900px"></iframe>'
        f"<script>{MEASURE}</script></body></html>"
    )
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--hide-scrollbars",
           "--allow-file-access-from-files", f"--window-size={width + 100},1000",
           "--virtual-time-budget=5000", "--dump-dom", harness.as_uri()]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="layout-result">(.*?)</pre>', res.stdout, re.S)
    assert found, res.stderr[-2000:]
    result = json.loads(html.unescape(found.group(1)))
    assert "error" not in result, result
    assert result["width"] == width
    return result


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("pages")
    config = ROOT / "examples" / "proposal" / "account.toml"
    res = run_cli("propose", "--config", str(config), "--out", str(out / "p"))
    assert res.returncode == 0, res.stderr
    whatif = ROOT / "examples" / "whatif" / "account.toml"
    res = run_cli("whatif", "--config", str(whatif), "--html", str(out / "whatif.html"))
    assert res.returncode == 0, res.stderr
    return {"proposal": out / "p" / "report.html", "whatif": out / "whatif.html"}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["proposal", "whatif"])
def test_nothing_overflows_and_no_label_is_cut(pages, name, width):
    m = layout(pages[name], width)
    assert m["scrollWidth"] <= m["width"], m["overflow"]
    assert m["overflow"] == []
    assert m["texts"] > 20  # the charts were measured
    assert m["truncated"] == [] and m["outside"] == [] and m["overlapping"] == []
    if width >= 1200:  # on a desktop every table fits: no column hidden behind a scroll
        assert m["scrolled_tables"] == []


def test_the_probe_sees_an_overflow(tmp_path):
    """The measurement is not vacuous: a too-wide element and a cut label are found."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<html><body><div style="width:1500px">wide</div><svg class="chart" width="100" '
        'height="40"><text x="5" y="20">Tariff shock: an April-2025-like se…</text>'
        '<text x="8" y="22">over</text></svg></body></html>'
    )
    m = layout(page, 1200)
    assert m["scrollWidth"] > 1200 and any("wide" in o for o in m["overflow"])
    assert m["truncated"] and m["outside"] and m["overlapping"]

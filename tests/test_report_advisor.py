"""``[advisor]``: firm, advisor, contact and logo in the report header, the PDF's running
header and the acknowledgement block; bad logos refused in one line."""

from __future__ import annotations

import base64
import json
import re
import shutil

import pytest

from optimizer.report import render_proposal
from tests.conftest import ROOT, run_cli

EXAMPLE = ROOT / "examples" / "proposal"
PNG = base64.b64decode(  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def with_logo(tmp_path, name: str = "logo.svg"):
    """A copy of the example with its (commented) logo line switched on, naming ``name``."""
    shutil.copytree(EXAMPLE, tmp_path / "a")
    config = tmp_path / "a" / "account.toml"
    text = config.read_text()
    line = next(x for x in text.splitlines() if x.startswith('# logo = "logo.svg"'))
    config.write_text(text.replace(line, f'logo = "{name}"'))
    return config


def test_example_report_shows_the_advisor_and_embeds_the_logo(tmp_path):
    config = with_logo(tmp_path)
    res = run_cli("propose", "--config", str(config), "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    html = (tmp_path / "out" / "report.html").read_text()
    doc = json.loads((tmp_path / "out" / "proposal.json").read_text())
    assert doc["advisor"]["firm"] == "Harbor Point Advisors"
    (src,) = re.findall(r'<img class="logo" src="([^"]+)"', html)
    assert src.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(src.split(",", 1)[1]) == (EXAMPLE / "logo.svg").read_bytes()
    header = html[html.index('<header class="report">') : html.index("</header>")]
    for text in ("Harbor Point Advisors", "Jane Rivera, CFP", "jane.rivera@harborpoint.example"):
        assert text in header
    closing = html[html.index('id="acknowledgement"') :]
    assert "Client: Smith family trust" in closing
    assert "Advisor: Jane Rivera, CFP, Harbor Point Advisors" in closing
    assert html.index('id="acknowledgement"') > html.index("IMPORTANT: The projections")


def test_example_pdf_names_the_firm_on_every_page(tmp_path):
    pytest.importorskip("weasyprint")
    pypdf = pytest.importorskip("pypdf")
    res = run_cli("propose", "--config", str(EXAMPLE / "account.toml"), "--out", str(tmp_path),
                  "--pdf")  # fmt: skip
    assert res.returncode == 0, res.stderr
    pages = [
        " ".join(p.extract_text().split()) for p in pypdf.PdfReader(tmp_path / "report.pdf").pages
    ]
    for page in pages:
        assert "Prepared by Jane Rivera, CFP, Harbor Point Advisors" in page
    assert "Acknowledgement" in pages[-1] and "Client: Smith family trust" in pages[-1]


def test_png_logo_and_no_advisor_section(tmp_path):
    config = with_logo(tmp_path, "firm.png")
    (tmp_path / "a" / "firm.png").write_bytes(PNG)
    res = run_cli("propose", "--config", str(config), "--format", "json")
    assert res.returncode == 0, res.stderr
    logo = json.loads(res.stdout)["advisor"]["logo"]
    assert logo == "data:image/png;base64," + base64.b64encode(PNG).decode()
    text = config.read_text()
    start, end = text.index("[advisor]"), text.index("[data]")
    config.write_text(text[:start] + text[end:])
    res = run_cli("propose", "--config", str(config), "--format", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["advisor"] is None


@pytest.mark.parametrize(
    ("logo", "content", "needle"),
    [
        ("missing.png", None, "file not found"),
        ("notes.png", b"just some text, not an image", "not an image (PNG, JPEG, GIF or SVG)"),
        ("big.png", PNG + b"\0" * (512 << 10), "above the limit of 524,288"),
        ("folder", "dir", "is a folder, not a file"),
    ],
)
def test_bad_logo_is_one_line_exit_3(tmp_path, logo, content, needle):
    config = with_logo(tmp_path, logo)
    target = tmp_path / "a" / logo
    if content == "dir":
        target.mkdir()
    elif content is not None:
        target.write_bytes(content)
    res = run_cli("propose", "--config", str(config), "--out", str(tmp_path / "out"))
    assert res.returncode == 3, res.stderr
    lines = res.stderr.strip().splitlines()
    # the value is the path, cut to 80 characters like every value in an error line
    assert len(lines) == 1 and f"advisor.logo='{str(target)[:60]}" in lines[0]
    assert needle in lines[0]
    assert not (tmp_path / "out").exists()


def test_unknown_advisor_key_is_refused(tmp_path):
    shutil.copytree(EXAMPLE, tmp_path / "a")
    config = tmp_path / "a" / "account.toml"
    firm = 'firm = "Harbor Point Advisors"\n'
    config.write_text(config.read_text().replace(firm, firm + 'phone = "1"\n'))
    res = run_cli("propose", "--config", str(config), "--format", "json")
    assert res.returncode == 3 and "advisor.phone" in res.stderr


@pytest.mark.parametrize(
    "logo", ["https://example.com/logo.png", "javascript:alert(1)", "data:text/html;base64,PGI+"]
)
def test_only_an_embedded_image_is_drawn(logo):
    doc = {"weights": {"A": 1.0}, "advisor": {"firm": "F", "logo": logo}}
    html = render_proposal(doc)
    assert "<img" not in html and logo not in html

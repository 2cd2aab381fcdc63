"""The PDF reports: ``propose --pdf`` and ``whatif --pdf``, rendered by WeasyPrint from the
same HTML, read back with pypdf."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from optimizer.report.disclosure import FAVOURS, LEGEND, VARY
from tests.conftest import ROOT, run_cli

pytest.importorskip("weasyprint")
pypdf = pytest.importorskip("pypdf")

EXAMPLE = ROOT / "examples" / "proposal" / "account.toml"


def flat(text: str) -> str:
    return " ".join(text.split())


def pages_text(path: Path) -> list[str]:
    return [flat(p.extract_text()) for p in pypdf.PdfReader(path).pages]


@pytest.fixture(scope="module")
def proposal(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("proposal")
    res = run_cli("propose", "--config", str(EXAMPLE), "--out", str(out), "--pdf")
    assert res.returncode == 0, res.stderr
    return out


def test_example_pdf_has_disclosure_numbers_and_totals(proposal):
    pages = pages_text(proposal / "report.pdf")
    assert len(pages) > 1
    text = " ".join(pages)
    for paragraph in (LEGEND, VARY, FAVOURS):  # the FINRA Rule 2214 disclosure
        assert flat(paragraph) in text
    doc = json.loads((proposal / "proposal.json").read_text())
    cost = sum(t["est_cost"] for t in doc["trades"])  # the totals row, summed here
    assert len(doc["trades"]) > 0 and f"Total ${cost:,.2f}" in text
    assert f"${doc['account']['value']:,.0f}" in text
    assert doc["advisor"]["firm"] == "Harbor Point Advisors" and "Harbor Point Advisors" in pages[0]
    for i, page in enumerate(pages, start=1):  # "Page X of Y" and the running head on each
        assert f"Page {i} of {len(pages)}" in page
        assert "Allocation proposal · Smith family trust" in page


def test_pdf_is_the_html_laid_out(proposal):
    text = " ".join(pages_text(proposal / "report.pdf"))
    html = (proposal / "report.html").read_text()
    for heading in re.findall(r"<h2>([^<]+)</h2>", html):  # every section, in order
        assert flat(heading.replace("&#x27;", "'").replace("&amp;", "&")) in text
    assert pypdf.PdfReader(proposal / "report.pdf").pages[0].mediabox.width == 612  # letter


def test_a4_paper(tmp_path):
    res = run_cli("propose", "--config", str(EXAMPLE), "--out", str(tmp_path), "--pdf",
                  "--paper", "a4")  # fmt: skip
    assert res.returncode == 0, res.stderr
    box = pypdf.PdfReader(tmp_path / "report.pdf").pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # 210 x 297 mm


def test_pdf_is_one_of_the_set_and_retired_without_pdf(tmp_path):
    res = run_cli("propose", "--config", str(EXAMPLE), "--out", str(tmp_path), "--pdf")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "orders.csv", "proposal.json", "report.html", "report.pdf",
    ]  # fmt: skip
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF-")
    res = run_cli("propose", "--config", str(EXAMPLE), "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "report.pdf").exists()  # no stale PDF beside a new report


def test_pdf_without_out_is_a_usage_error(tmp_path):
    res = run_cli("propose", "--config", str(EXAMPLE), "--pdf")
    assert res.returncode == 2 and "--out" in res.stderr


def test_whatif_pdf(tmp_path):
    config = ROOT / "examples" / "whatif" / "account.toml"
    pdf = tmp_path / "whatif.pdf"
    res = run_cli("whatif", "--config", str(config), "--pdf", str(pdf), "--format", "json")
    assert res.returncode == 0, res.stderr
    pages = pages_text(pdf)
    text = " ".join(pages)
    assert "Regret" in text and flat(LEGEND) in text
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    assert list(tmp_path.iterdir()) == [pdf]


def test_long_table_repeats_its_header_and_splits_no_row():
    from optimizer.report import render_proposal
    from optimizer.report.pdf import render_pdf
    from tests.test_report_support import proposal_doc

    doc = proposal_doc()
    base = doc["trades"][0]
    doc["trades"] = [
        {**base, "ticker": f"T{i:03d}", "reason": f"row {i:03d} end"} for i in range(150)
    ]
    pdf = render_pdf(render_proposal(doc))
    pages = [flat(p.extract_text()) for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]
    with_rows = [p for p in pages if re.search(r"\bT\d{3}\b", p)]
    assert len(with_rows) >= 3  # the table spans pages
    for page in with_rows:  # its header row on each of them
        assert "Ticker Side Shares" in page
    for i in range(150):  # every row whole on one page: ticker and reason together
        assert any(f"T{i:03d}" in p and f"row {i:03d} end" in p for p in with_rows), i

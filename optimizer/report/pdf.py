"""The PDF of a report: the same HTML, laid out on pages by WeasyPrint.

The page's print stylesheet (``optimizer/report/css.py``) sets the paper, the margins, a
running header (client, advisor, date) and "Page X of Y" on every page; table header
rows repeat on each page and no row is split. WeasyPrint needs pango, harfbuzz and
fontconfig from the system (Debian: ``libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b
fonts-dejavu-core``).
"""

from __future__ import annotations

import logging
from enum import StrEnum

from optimizer.errors import ConfigError


class Paper(StrEnum):
    """Paper sizes a PDF can be laid out on."""

    LETTER = "letter"
    A4 = "a4"


def render_pdf(html: str, *, paper: Paper = Paper.LETTER) -> bytes:
    """Lay ``html`` (a self-contained report page) out as a PDF on ``paper``.

    Raises
    ------
    ConfigError
        WeasyPrint or its system libraries are missing (names what to install).
    """
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: pango or harfbuzz not found
        raise ConfigError(
            "cannot render PDF: WeasyPrint or its system libraries are missing",
            key="--pdf",
            hint=f"pip install 'weasyprint>=62,<71' and the pango libraries ({exc})"[:200],
        ) from None
    for name in ("weasyprint", "fontTools"):  # layout notes are not the user's business
        logging.getLogger(name).setLevel(logging.ERROR)
    size = "A4" if paper is Paper.A4 else "letter"  # after the page's own @page: wins
    html = html.replace("</head>", f"<style>@page {{ size: {size}; }}</style></head>", 1)
    return weasyprint.HTML(string=html).write_pdf()


__all__ = ["Paper", "render_pdf"]

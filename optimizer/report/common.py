"""Sections shared by the proposal and the what-if pages: header, data banners,
provenance, warnings, ticker ordering."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from optimizer.report.buckets import Bucket, bucket_of
from optimizer.report.fmt import money
from optimizer.report.html import Raw, attrs, banner, el, join, section

_BUCKET_ORDER = {b: i for i, b in enumerate(Bucket)}


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one (absent sections)."""
    return value if isinstance(value, Mapping) else {}


def listing(value: Any) -> list[Any]:
    """``value`` as a list when it is a list or tuple, else empty."""
    return list(value) if isinstance(value, list | tuple) else []


def order_tickers(names: Iterable[str], tags: Mapping[str, Any]) -> list[str]:
    """Unique tickers, grouped by bucket (small, mid, large cap, bonds, cash), stable inside."""
    seen = list(dict.fromkeys(str(n) for n in names))
    return sorted(seen, key=lambda t: _BUCKET_ORDER[bucket_of(t, listing(tags.get(t)))])


def when(value: Any) -> str:
    """An ISO timestamp as ``21 November 2026, 10:00`` (other text unchanged)."""
    if not value:
        return ""
    try:
        stamp = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    text = f"{stamp.day} {stamp:%B %Y}"
    return text if len(str(value)) <= 10 else f"{text}, {stamp:%H:%M}"


_DATA_URI = re.compile(r"data:image/(png|jpeg|gif|svg\+xml);base64,[A-Za-z0-9+/=]+")


def logo(advisor: Mapping[str, Any]) -> Raw | None:
    """The firm's logo: only an embedded image (``data:image/...;base64``) is drawn, so
    the page never loads anything from elsewhere."""
    uri = advisor.get("logo")
    if not isinstance(uri, str) or not _DATA_URI.fullmatch(uri):
        return None
    alt = f"{advisor.get('firm') or 'Firm'} logo"
    return Raw(f'<img class="logo"{attrs(src=uri, alt=alt)}>')


def advisor_block(doc: Mapping[str, Any]) -> Raw | None:
    """Firm, advisor and contact (and logo) for the top of the page."""
    advisor = mapping(doc.get("advisor"))
    lines = [advisor.get(k) for k in ("firm", "advisor", "contact") if advisor.get(k)]
    if not lines and logo(advisor) is None:
        return None
    text = join(el("div", line, class_="firm" if i == 0 else None) for i, line in enumerate(lines))
    return el("div", logo(advisor), el("div", text), class_="advisor")


def header(doc: Mapping[str, Any], default_title: str) -> Raw:
    """Title, account name and id, account value and date generated; the advisor's firm,
    name, contact and logo when the document has them."""
    account = mapping(doc.get("account"))
    meta = []
    if account.get("name") or account.get("id"):
        name = account.get("name") or account.get("id")
        ident = f" ({account['id']})" if account.get("name") and account.get("id") else ""
        meta.append(el("span", el("strong", "Account: "), f"{name}{ident}"))
    if account.get("value") is not None:
        value = money(account.get("value"), account.get("currency"))
        meta.append(el("span", el("strong", "Value: "), value))
    if doc.get("generated"):
        meta.append(el("span", el("strong", "Prepared: "), when(doc.get("generated"))))
    title = el(
        "div", el("h1", doc.get("title") or default_title), el("div", join(meta), class_="meta")
    )
    return el("header", el("div", title, advisor_block(doc), class_="brand"), class_="report")


def acknowledgement(doc: Mapping[str, Any]) -> Raw:
    """The closing block the client and the advisor sign: received, reviewed, understood."""
    account, advisor = mapping(doc.get("account")), mapping(doc.get("advisor"))
    client = account.get("name") or account.get("id") or "Client"
    who = ", ".join(str(advisor[k]) for k in ("advisor", "firm") if advisor.get(k)) or "Advisor"
    text = (
        "I have received and reviewed this proposal, including the important information "
        "above about its hypothetical projections, and I understand that it is not a "
        "guarantee of future results. No trade is placed until I approve it."
    )
    lines = join(
        el("div", el("span", label), el("span", "Date", class_="date"), class_="sig")
        for label in (f"Client: {client}", f"Advisor: {who}")
    )
    return el(
        "section",
        el("h2", "Acknowledgement"),
        el("p", text),
        el("div", lines, class_="lines"),
        class_="signature",
        id="acknowledgement",
    )


def running_head(doc: Mapping[str, Any], default_title: str) -> str:
    """The line at the top of every printed page: title, client, advisor and firm, date."""
    account, advisor = mapping(doc.get("account")), mapping(doc.get("advisor"))
    who = ", ".join(str(advisor[k]) for k in ("advisor", "firm") if advisor.get(k))
    parts = [
        doc.get("title") or default_title,
        account.get("name") or account.get("id"),
        f"Prepared by {who}" if who else None,
        when(str(doc.get("generated") or "")[:10]),
    ]
    return " · ".join(str(p) for p in parts if p)


def data_banners(provenance: Mapping[str, Any]) -> Raw:
    """Prominent notices when results rest on the bundled sample or on stale data."""
    out = []
    span = _span(provenance)
    if str(provenance.get("source", "")).lower() == "sample":
        out.append(
            banner(
                "Computed on the bundled sample data"
                + (f" ({span})" if span else "")
                + ", not on current market prices: the figures illustrate the method and "
                "are not a recommendation for today's markets."
            )
        )
    if provenance.get("stale"):
        last = provenance.get("last")
        out.append(
            banner(
                "Some market data came from a stale cache"
                + (f" (latest price {last})" if last else "")
                + ": figures may not reflect recent market moves."
            )
        )
    return join(out)


def _span(provenance: Mapping[str, Any]) -> str:
    first, last = provenance.get("first"), provenance.get("last")
    return f"{first} to {last}" if first and last else ""


def provenance_section(provenance: Mapping[str, Any]) -> Raw | None:
    """Where the data came from: source, tickers, dates, frequency, staleness, notes."""
    if not provenance:
        return None
    rows = [
        ("Source", provenance.get("source")),
        ("Tickers", ", ".join(map(str, listing(provenance.get("tickers"))))),
        ("First date", provenance.get("first")),
        ("Last date", provenance.get("last")),
        ("As of (estimation, prices and lots)", provenance.get("as_of")),
        ("Frequency", provenance.get("frequency")),
        ("Stale cache", _yes_no(provenance.get("stale"))),
    ]
    kv = kv_table([(k, v) for k, v in rows if v not in (None, "")])
    notes = listing(provenance.get("notes"))
    note_list = el("ul", join(el("li", n) for n in notes), class_="plain") if notes else None
    return section("Data provenance", kv, note_list, id_="provenance")


def _yes_no(value: Any) -> str | None:
    return None if value is None else ("yes" if value else "no")


def kv_table(rows: Sequence[tuple[Any, Any]]) -> Raw:
    """A two-column key/value table."""
    return el("table", join(el("tr", el("th", k), el("td", v)) for k, v in rows), class_="kv")


def warnings_section(warnings: Any) -> Raw | None:
    """The pipeline's warnings as a list (omitted when there are none)."""
    items = listing(warnings)
    if not items:
        return None
    return section(
        "Warnings", el("ul", join(el("li", w) for w in items), class_="plain"), id_="warnings"
    )

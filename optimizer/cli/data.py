"""``capalloc data show``: what a market-data source holds, per ticker."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from optimizer.cli.output import emit, format_option, note, pct, table

if TYPE_CHECKING:
    import datetime as dt

    from optimizer.data.summary import SourceSummary

_DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.group("data")
def data() -> None:
    """Inspect market data from a source."""


@data.command("show")
@click.option(
    "--source",
    default="sample",
    show_default=True,
    help="sample | yahoo | csv:PATH[,PATH...] (files or folders).",
)
@click.option("--tickers", default=None, help="Comma-separated; default: all the source offers.")
@click.option("--start", type=_DATE, default=None, help="First date, YYYY-MM-DD.")
@click.option("--end", type=_DATE, default=None, help="Last date, YYYY-MM-DD.")
@click.option("--cache-dir", default=None, help="yahoo: cache folder (default: user cache).")
@click.option("--offline", is_flag=True, help="yahoo: serve from the cache, no network.")
@click.option(
    "--max-ffill",
    type=click.IntRange(0, 60),
    default=5,
    show_default=True,
    help="Consecutive missing observations a forward-fill may bridge.",
)
@click.option(
    "--stale-after-days",
    type=click.IntRange(1),
    default=30,
    show_default=True,
    help="A series ending this many days before the others is an error.",
)
@format_option
def show(
    source: str,
    tickers: str | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    cache_dir: str | None,
    offline: bool,
    max_ffill: int,
    stale_after_days: int,
    fmt: str,
) -> None:
    """Per ticker: first and last date, observations, missing data, annualised return
    and volatility (rates: level and volatility of changes), with provenance."""
    from optimizer.data.registry import get_provider
    from optimizer.data.summary import summarize
    from optimizer.data.validate import ValidationPolicy

    policy = ValidationPolicy(max_ffill=max_ffill, stale_after_days=stale_after_days)
    provider = get_provider(source, cache_dir=cache_dir, offline=offline, policy=policy)
    names = [t.strip() for t in tickers.split(",") if t.strip()] if tickers else None
    summary = summarize(
        provider,
        names,
        start.date() if start else None,
        end.date() if end else None,
    )
    emit(fmt, summary.to_dict(), lambda: _render(summary))


_Cell = Callable[[dict[str, Any]], Any]
_COMMON: list[tuple[str, _Cell]] = [
    ("first", lambda r: r["first"]),
    ("last", lambda r: r["last"]),
    ("obs", lambda r: r["observations"]),
    ("missing", lambda r: f"{r['missing']} ({r['longest_gap']})"),
]
# kind -> (title, first column, columns after the common ones, caption)
_VIEWS: dict[str, tuple[str, str, list[tuple[str, _Cell]], str]] = {
    "price": (
        "Prices",
        "ticker",
        [
            ("return", lambda r: pct(r["annual_return"])),
            ("vol", lambda r: pct(r["annual_volatility"])),
        ],
        "annualised return and volatility over the common window {window}",
    ),
    "rate": (
        "Rates (percent)",
        "series",
        [
            ("last", lambda r: f"{r['last_value']:.2f}%"),
            ("mean", lambda r: f"{r['mean']:.2f}%"),
            ("Δ vol", lambda r: f"{r['change_volatility_bp']:.0f} bp"),
        ],
        "levels and annualised volatility of changes over {window}",
    ),
}


def _render(summary: SourceSummary) -> None:
    doc = summary.to_dict()
    provenances = {"price": doc["provenance"], "rate": doc.get("rates_provenance")}
    for kind, (title, first, extra, caption) in _VIEWS.items():
        rows = {t: r for t, r in doc["tickers"].items() if r["kind"] == kind}
        if not rows:
            continue
        prov = provenances[kind] or doc["provenance"]
        columns = [*_COMMON, *extra]
        window = f"{prov['first']}..{prov['last']} ({prov['frequency']})"
        table(
            f"{title} — {prov['source']}",
            [first, *(name for name, _ in columns)],
            [[t, *(cell(r) for _, cell in columns)] for t, r in rows.items()],
            caption=caption.format(window=window),
        )
    _render_notes(doc)


def _render_notes(doc: dict[str, Any]) -> None:
    prov = doc["provenance"]
    if prov["frequency"] == "daily":
        note("missing: weekdays without a value, exchange holidays included (longest run)")
    else:
        note(f"missing: {prov['frequency']} observations absent (longest run)")
    for line in prov["notes"]:
        note(f"note: {line}")
    if prov["stale"]:
        note("stale: some data came from a cache older than a day")
    for line in doc["warnings"]:
        note(f"warning: {line}")

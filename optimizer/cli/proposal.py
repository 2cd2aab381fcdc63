"""``capalloc propose`` and ``capalloc whatif``: one account file, answers for a person."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from optimizer.cli.output import (
    MONEY,
    GivenPath,
    data_line,
    emit,
    format_option,
    max_price_age_option,
    note,
    pct,
    table,
)
from optimizer.csvout import quantity

paper_option = click.option(
    "--paper",
    type=click.Choice(["letter", "a4"]),
    default="letter",
    show_default=True,
    help="Paper size of the PDF.",
)

config_option = click.option(
    "--config",
    "config",
    required=True,
    type=GivenPath(dir_okay=False, path_type=Path),
    help="Account file (TOML): universe, data, scenarios, objective, constraints, rules.",
)


@click.command()
@config_option
@click.option(
    "--out",
    "out_dir",
    type=GivenPath(file_okay=False, path_type=Path),
    help="Folder for report.html, proposal.json and orders.csv, written as one set "
    "(all new, or all as before on an error).",
)
@click.option("--deposit", type=MONEY, default=0.0, help="Money coming in (0 to 1e12).")
@click.option("--withdraw", type=MONEY, default=0.0, help="Money going out (0 to 1e12).")
@click.option(
    "--pdf",
    is_flag=True,
    help="Also write report.pdf (the report laid out on pages) into --out, in the same set.",
)
@paper_option
@max_price_age_option
@format_option
def propose(
    config: Path,
    out_dir: Path | None,
    deposit: float,
    withdraw: float,
    pdf: bool,
    paper: str,
    max_price_age: int,
    fmt: str,
) -> None:
    """Advisor proposal: allocation, trades and a self-contained HTML report (and PDF)."""
    from optimizer.report.pdf import Paper
    from optimizer.workflows import propose as run_proposal

    if deposit and withdraw:
        raise click.UsageError("give --deposit or --withdraw, not both")
    if pdf and out_dir is None:
        raise click.UsageError("--pdf writes report.pdf into the --out folder: give --out")
    result = run_proposal(
        config,
        out_dir,
        deposit=deposit,
        withdraw=withdraw,
        max_price_age=max_price_age,
        pdf=Paper(paper) if pdf else None,
    )
    doc = {**result.document, "files": {k: str(v) for k, v in result.files.items()}}
    emit(fmt, doc, lambda: _print_proposal(doc))


def _print_proposal(doc: dict[str, Any]) -> None:
    account = doc["account"]
    cur, new = doc.get("current_weights") or {}, doc["weights"]
    after = doc.get("post_trade_weights")
    rows = [
        (
            t,
            ", ".join(doc["tags"].get(t, [])),
            pct(cur.get(t)) if cur else "–",
            pct(w),
            *([pct(after.get(t))] if after else []),
        )
        for t, w in new.items()
    ]
    cols = ["ticker", "tags", "current", "proposed (target)", *(["after trades"] if after else [])]
    held = doc.get("post_trade_substitutes") or {}
    caption = "; ".join(
        f"{x['for']} after trades includes {sub} ({pct(x['weight'])}), its tax-loss harvest "
        "substitute"
        for sub, x in held.items()
    )
    table(f"Proposal for {account['name']}", cols, rows, caption=caption or None)
    _print_metrics(doc)
    scen = doc["scenarios"]
    if scen:
        table(
            f"Return in each scenario (over {doc['assumptions']['horizon']})",
            ["scenario", "probability", "plausibility", "current", "proposed"],
            [
                (
                    sid,
                    pct(s["probability"], 0),
                    s["plausibility"],
                    pct(s["current_return"]),
                    pct(s["proposed_return"]),
                )
                for sid, s in scen.items()
            ],
        )
    _print_views(doc.get("views"))
    _print_trades(doc)
    _print_taxes(doc)
    _print_blocked(doc)
    _print_footer(doc)


def _print_views(views: dict[str, Any] | None) -> None:
    """Each view (target, confidence, prior and posterior value), then the weights with
    the views against without them."""
    if not views:
        return
    table(
        f"Views ({views['method'].replace('_', ' ')})",
        ["view", "confidence", "target", "prior", "posterior"],
        [
            (v["name"], pct(v["confidence"], 0), *(_view_value(v, v[k]) for k in _VIEW_COLS))
            for v in views["views"]
        ],
    )
    w = views["weights"]
    table(
        "Effect of the views on the allocation",
        ["ticker", "without views", "with views", "change"],
        [
            (t, pct(w["without_views"].get(t)), pct(w["with_views"].get(t)), pct(change))
            for t, change in views["weight_change"].items()
        ],
    )
    if views.get("n_scenarios"):
        note(
            f"Views: relative entropy {views['relative_entropy']:.4f}; effective scenarios "
            f"{views['effective_scenarios']:,.0f} of {views['n_scenarios']:,}"
        )


_VIEW_COLS = ("target", "prior", "posterior")


def _view_value(view: dict[str, Any], x: float) -> str:
    return f"{x:.2f}" if view["kind"] == "correlation" else pct(x)


def _print_metrics(doc: dict[str, Any]) -> None:
    """Current, then proposed: annual figures from the estimate, CVaR over its period."""
    m = doc["metrics"]
    origin = ", scenario mix" if doc["scenarios"] else ""
    cvar_over = doc["assumptions"].get("cvar_period") or "horizon"
    keys = [
        (f"expected return (annual{origin})", "expected_return"),
        ("volatility (annual)", "volatility"),
        (f"CVaR ({cvar_over})", "cvar"),
        ("small-cap share of equity", "small_cap_share"),
    ]
    cols = [*(["current"] if "current" in m else []), "proposed"]
    table(None, ["metric", *cols], [(label, *(pct(m[c][k]) for c in cols)) for label, k in keys])


def _print_taxes(doc: dict[str, Any]) -> None:
    """Tax-aware beside tax-blind: gains and tax of the trades, the budget used."""
    t = doc.get("tax") or {}
    aware, blind = t.get("tax_aware"), t.get("tax_blind")
    if not aware:
        return
    cols = ["", "tax-aware (proposed)", *(["tax-blind"] if blind else [])]
    keys = [
        ("short-term gains", "short_term_gain"),
        ("long-term gains", "long_term_gain"),
        ("tax due on the trades", "tax"),
    ]
    rows = [(label, *(f"{b[k]:,.0f}" for b in (aware, blind) if b)) for label, k in keys]
    rows.append(
        ("after-tax utility", *(f"{b['after_tax_utility']:.5f}" for b in (aware, blind) if b))
    )
    if blind:
        for tk, w in doc["weights"].items():
            rows.append((f"{tk} weight", pct(w), pct(blind["weights"].get(tk))))
    table("Taxes (the optimizer's estimate: trades to the target weights)", cols, rows)
    plan = t.get("plan")
    if aware.get("gain_budget") is not None:
        used = f"gain budget used: {aware['gain_budget_used']:,.0f} of {aware['gain_budget']:,.0f}"
        if plan and plan.get("gain_budget_used") is not None:
            used += f" by the target weights, {plan['gain_budget_used']:,.0f} by the trades"
        note(used)
    if plan:
        note(f"the trades (whole shares, lot by lot) realise {plan['gain']:,.0f} of net gains "
             f"(harvested losses included); tax about {plan['tax']:,.0f}")  # fmt: skip
    _print_harvest(t.get("harvest"))


def _print_harvest(h: dict[str, Any] | None) -> None:
    """Each harvest (loss, tax benefit, costs, substitute), then what was not harvested."""
    if not h:
        return
    if h["harvested"]:
        table(
            "Tax-loss harvest",
            ["ticker", "substitute", "sold", "bought", "loss", "tax benefit", "cost", "net"],
            [
                (x["ticker"], x["substitute"], f"{x['sold']:,.0f}", f"{x['bought']:,.0f}",
                 f"{x['loss']:,.0f}", f"{x['tax_benefit']:,.2f}", f"{x['cost']:,.2f}",
                 f"{x['net_benefit']:,.2f}")
                for x in h["harvested"]
            ],
        )  # fmt: skip
    for skip in h["skipped"]:
        note(f"harvest {skip['ticker']}: {skip['reason']}")


def _print_blocked(doc: dict[str, Any]) -> None:
    """Every trade a rule withheld, lot by lot: what stays in the account and why."""
    blocked = (doc.get("trade_summary") or {}).get("blocked") or []
    rows = [
        (
            b["ticker"],
            b["side"],
            lot["lot_id"] or lot["acquired"],
            quantity(lot["shares"]),
            b["rule"].replace("_", " "),
            b["reason"],
        )
        for b in blocked
        for lot in b.get("lots") or [{"lot_id": "–", "acquired": "", "shares": b["shares"] or 0}]
    ]
    if rows:
        table(
            "Blocked (stays as it is)", ["ticker", "side", "lot", "shares", "rule", "reason"], rows
        )


def _print_trades(doc: dict[str, Any]) -> None:
    trades, summary = doc.get("trades") or [], doc.get("trade_summary")
    if summary is None:
        return
    if not trades:
        note(f"No trade needed: {summary.get('no_trade_reason') or 'within bands'}")
        return
    table(
        "Trades",
        ["ticker", "side", "shares", "price", "notional", "cost", "ST gain", "LT gain"],
        [
            (
                t["ticker"],
                t["side"],
                quantity(t["shares"]),
                f"{t['est_price']:,.2f}",
                f"{t['notional']:,.0f}",
                f"{t['est_cost']:,.2f}",
                f"{t['st_gain']:,.0f}",
                f"{t['lt_gain']:,.0f}",
            )
            for t in trades
        ],
    )
    from optimizer.report.proposal_tables import flow_text

    if flow := flow_text(summary, (doc.get("account") or {}).get("currency")):
        note(flow)


def _print_footer(doc: dict[str, Any]) -> None:
    prov = doc.get("provenance") or {}
    a = doc["assumptions"]
    note(f"{data_line(prov)}; {a['method']}")
    if a.get("window") and a["window"] not in a["method"]:
        note(f"Estimated on {a['window']}")
    note(f"Expected returns: {a['expected_returns']}")
    if prov.get("source") == "sample":
        note("Computed on the bundled sample data (historical, not current prices).")
    for w in doc.get("warnings") or []:
        note(f"warning: {w}")
    for name, path in (doc.get("files") or {}).items():
        note(f"wrote {name}: {path}")
    note("Hypothetical results: projections are not guarantees of future results.")


@click.command()
@config_option
@click.option(
    "--csv",
    "csv_path",
    type=GivenPath(dir_okay=False, path_type=Path),
    help="Also write the table as CSV: columns metric,item, then one per scenario and "
    "robust; a row per weight, figure and regret (plain decimals, formula-safe).",
)
@click.option(
    "--html",
    "html_path",
    type=GivenPath(dir_okay=False, path_type=Path),
    help="Also write a self-contained HTML page: weights, returns and the regret matrix.",
)
@click.option(
    "--pdf",
    "pdf_path",
    type=GivenPath(dir_okay=False, path_type=Path),
    help="Also write the same page as a PDF (laid out on pages).",
)
@paper_option
@max_price_age_option
@format_option
def whatif(
    config: Path,
    csv_path: Path | None,
    html_path: Path | None,
    pdf_path: Path | None,
    paper: str,
    max_price_age: int,
    fmt: str,
) -> None:
    """Every scenario side by side: optimal weights, returns and regret."""
    from optimizer.atomic import write_files_atomic
    from optimizer.cli.output import check_output, to_jsonable
    from optimizer.report import render_whatif, whatif_csv
    from optimizer.report.pdf import Paper, render_pdf
    from optimizer.workflows import whatif as run_whatif

    for key, path in (("--csv", csv_path), ("--html", html_path), ("--pdf", pdf_path)):
        check_output(key, path)  # a mistyped folder is refused, not created
    doc = to_jsonable(run_whatif(config, max_price_age=max_price_age))
    texts: dict[Path, str | bytes] = {}
    if csv_path:
        texts[csv_path] = whatif_csv(doc)
    html = render_whatif(doc) if html_path or pdf_path else ""
    if html_path:
        texts[html_path] = html
    if pdf_path:
        texts[pdf_path] = render_pdf(html, paper=Paper(paper))
    write_files_atomic(texts)  # all of them or none
    emit(fmt, doc, lambda: _print_whatif(doc, list(texts)))


def _print_whatif(doc: dict[str, Any], written: list[Path]) -> None:
    cols = doc["columns"]
    over = f"{12 * doc['horizon_years']:g}-month horizon"
    rows: list[tuple[Any, ...]] = [
        (t, *(pct(doc["weights"][c].get(t)) for c in cols)) for t in doc["tickers"]
    ]
    rows += [
        ("small-cap share", *(pct(doc["small_cap_share"][c]) for c in cols)),
        # the horizon's return scaled to a year (a one-off shock does not repeat)
        (
            f"expected return (annualised from the {over})",
            *(pct(doc["expected_return"][c]) for c in cols),
        ),
        ("volatility (annual)", *(pct(doc["volatility"][c]) for c in cols)),
        ("current portfolio return (horizon)", *(pct(doc["current_return"][c]) for c in cols)),
        ("proposed portfolio return (horizon)", *(pct(doc["proposed_return"][c]) for c in cols)),
    ]
    table(f"What if ({over})", ["", *cols], rows)
    _print_views(doc.get("views"))
    happens = [c for c in cols if c != "robust"]
    table(
        f"Regret (certainty-equivalent return lost over the {over}) of holding row's "
        "optimum if column happens",
        ["hold \\ happens", *happens],
        [(h, *(pct(doc["regret"][h][j]) for j in happens)) for h in cols],
    )
    note(data_line(doc.get("provenance")))
    est = doc.get("estimate") or {}
    if est.get("method"):
        note(f"estimate: {est['method']}; {est['window']}")
    for w in doc.get("warnings") or []:
        note(f"warning: {w}")
    for path in written:
        note(f"wrote {path}")

"""The proposal page's "Taxes" section: the tax-aware allocation beside the tax-blind one
(weights, risk, scenario returns, tax of the trades, gain budget used)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from optimizer.report.common import mapping
from optimizer.report.fmt import decimal, money, pct
from optimizer.report.html import Raw, el, section, table

if TYPE_CHECKING:
    from optimizer.report.proposal import ProposalView


def taxes(view: ProposalView) -> Raw | None:
    """None unless the document has a ``tax`` section (a taxable account with lots)."""
    t = view.section("tax")
    aware, blind = mapping(t.get("tax_aware")), mapping(t.get("tax_blind"))
    if not aware:
        return None
    ccy = view.section("account").get("currency") or "USD"
    plan = mapping(t.get("plan"))
    cols = ["", "Tax-aware (proposed)", *(["Tax-blind"] if blind else [])]
    rows: list[tuple[Any, ...]] = [
        (
            f"{tk} weight",
            pct(view.proposed.get(tk)),
            *([pct(blind["weights"].get(tk))] if blind else []),
        )
        for tk in view.tickers
    ]
    prop = mapping(view.section("metrics").get("proposed"))
    bm = mapping(blind.get("metrics"))
    rows.append(
        (
            "Volatility (annual)",
            pct(prop.get("volatility")),
            *([pct(bm.get("volatility"))] if blind else []),
        )
    )
    for sid, s in view.section("scenarios").items():
        s = mapping(s)
        extra = [pct(mapping(blind.get("scenarios")).get(sid))] if blind else []
        rows.append((f"Return: {s.get('title') or sid}", pct(s.get("proposed_return")), *extra))
    for label, key in (
        ("Short-term gains", "short_term_gain"),
        ("Long-term gains", "long_term_gain"),
        ("Short-term tax", "short_term_tax"),
        ("Long-term tax", "long_term_tax"),
        ("Tax due on the trades", "tax"),
    ):
        rows.append(
            (label, money(aware.get(key), ccy), *([money(blind.get(key), ccy)] if blind else []))
        )
    rows.append(("After-tax utility", decimal(aware.get("after_tax_utility"), 5),
                 *([decimal(blind.get("after_tax_utility"), 5)] if blind else [])))  # fmt: skip
    notes = [_budget_note(aware, ccy)]
    if plan:
        notes.append(
            f"The whole-share trades realise {money(plan.get('gain'), ccy)} of net gains "
            f"({money(plan.get('short_term_gain'), ccy)} short-term), tax about "
            f"{money(plan.get('tax'), ccy)}"
            + (f"; net gains this year after them: {money(plan['gains_ytd_after'], ccy)}."
               if plan.get("gains_ytd_after") is not None else ".")
        )  # fmt: skip
    harvest = mapping(t.get("harvest"))
    notes += [f"Not harvested, {mapping(x).get('ticker')}: {mapping(x).get('reason')}"
              for x in harvest.get("skipped") or []]  # fmt: skip
    notes.append(
        "The tax-blind column is the same policy solved without the tax term; taxes of both "
        "are computed with lots sold in tax-optimal order, at the rates in the account file. "
        "Estimates, not tax advice."
    )
    return section(
        "Taxes",
        table(cols, rows),
        *_harvest_table(harvest, ccy),
        *(el("p", n, class_="small") for n in notes if n),
        id_="taxes",
    )


def _harvest_table(harvest: dict[str, Any], ccy: str) -> list[Raw]:
    """The tax-loss harvests: ticker sold at a loss, substitute bought, loss, tax benefit,
    costs and the net benefit; nothing when none was made."""
    done = [mapping(x) for x in harvest.get("harvested") or []]
    if not done:
        return []
    cols = ["Sold at a loss", "Substitute bought", "Value sold", "Value bought", "Loss",
            "Tax benefit", "Costs", "Net benefit"]  # fmt: skip
    rows = [
        (x.get("ticker"), x.get("substitute"), money(x.get("sold"), ccy),
         money(x.get("bought"), ccy), money(x.get("loss"), ccy),
         money(x.get("tax_benefit"), ccy), money(x.get("cost"), ccy),
         money(x.get("net_benefit"), ccy))
        for x in done
    ]  # fmt: skip
    return [
        el("h3", "Tax-loss harvest"),
        table(cols, rows, text_cols=(0, 1)),
        el("p", f"Harvested losses: {money(harvest.get('loss'), ccy)}; tax benefit less "
                f"costs: {money(harvest.get('net_benefit'), ccy)} (threshold "
                f"{money(harvest.get('threshold'), ccy)}). The substitute keeps the exposure; "
                "the sold ticker is not bought back within the wash-sale window.",
           class_="small"),
    ]  # fmt: skip


def _budget_note(aware: dict[str, Any], ccy: str) -> str:
    rates = (
        f"Rates: {pct(aware.get('short_term_rate'))} short-term, "
        f"{pct(aware.get('long_term_rate'))} long-term."
    )
    budget = aware.get("gain_budget")
    used = (
        f" Gain budget used: {money(aware.get('gain_budget_used'), ccy)} of {money(budget, ccy)}."
        if budget is not None
        else ""
    )
    cap = aware.get("short_term_cap")
    st = f" Short-term cap: {money(cap, ccy)}." if cap is not None else ""
    ytd = (
        f" Net gains this year: {money(aware.get('realized_gains_ytd'), ccy)} before, "
        f"{money(aware.get('gains_ytd_after'), ccy)} at the target weights (the optimizer's "
        "estimate)."
    )
    return rates + used + st + ytd

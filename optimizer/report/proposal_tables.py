"""Table sections of the proposal page: scenarios, risk, trades, objective, assumptions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from optimizer.report import charts
from optimizer.report.common import kv_table, listing, mapping
from optimizer.report.fmt import (
    DASH,
    MINUS,
    decimal,
    minus_signs,
    money,
    num,
    pct,
    pp,
    signed_pct,
)
from optimizer.report.html import Raw, el, join, section, table

if TYPE_CHECKING:
    from optimizer.report.proposal import ProposalView


def data_table(headers: Sequence[Any], rows: Sequence[Sequence[Any]], **kwargs: Any) -> Raw:
    """A numeric table (first column text, the rest right-aligned)."""
    return table(headers, rows, **kwargs)


def scenario_returns(view: ProposalView) -> Raw | None:
    """Bars of both portfolios' horizon return in each scenario, and the same as a table."""
    scenarios = {k: mapping(v) for k, v in view.section("scenarios").items()}
    if not scenarios:
        return None
    titles = [str(s.get("title") or k) for k, s in scenarios.items()]
    cur = tuple(num(s.get("current_return")) for s in scenarios.values())
    prop = tuple(num(s.get("proposed_return")) for s in scenarios.values())
    series = [
        charts.Series("current", "Current", cur, charts.CURRENT_COLOR),
        charts.Series("proposed", "Proposed", prop, charts.PROPOSED_COLOR),
    ]
    chart = charts.grouped_bars(titles, series, title="Return in each scenario", fmt=signed_pct)
    rows = [
        (
            title,
            pct(s.get("probability"), 0),
            s.get("horizon") or DASH,
            signed_pct(c),
            signed_pct(p),
            pp(None if c is None or p is None else p - c),
        )
        for title, s, c, p in zip(titles, scenarios.values(), cur, prop, strict=True)
    ]
    headers = ["Scenario", "Probability", "Horizon", "Current", "Proposed", "Difference"]
    caption = "Return of each portfolio over the scenario's horizon if the scenario happens."
    return section(
        "Scenarios: return of both portfolios",
        el("figure", chart, el("figcaption", caption)),
        data_table(headers, rows),
        id_="scenarios",
    )


_RISK_ROWS: tuple[tuple[str, str, Callable[[Any], str], Callable[[Any], str]], ...] = (
    ("Expected return (annual)", "expected_return", pct, pp),
    ("Volatility (annual)", "volatility", pct, pp),
    (
        "Sharpe ratio",
        "sharpe",
        decimal,
        lambda d: DASH if d is None else f"{d:+.2f}".replace("-", MINUS),
    ),
    ("Small-cap share", "small_cap_share", pct, pp),
)


def risk(view: ProposalView) -> Raw | None:
    """Volatility, CVaR and worst scenario of both portfolios, with the change."""
    metrics = view.section("metrics")
    cur, prop = mapping(metrics.get("current")), mapping(metrics.get("proposed"))
    if not prop and not cur:
        return None
    rows = [
        (label, fmt(cur.get(key)), fmt(prop.get(key)), diff(_delta(cur, prop, key)))
        for label, key, fmt, diff in _RISK_ROWS
        if key in cur or key in prop
    ]
    level = num(prop.get("cvar_level")) or num(cur.get("cvar_level"))
    if "cvar" in cur or "cvar" in prop:
        tail = f"{pct(1 - level, 0)} of outcomes" if level is not None else "tail"
        label = f"CVaR {pct(level, 0)} (average loss in the worst {tail})"
        rows.append(
            (label, pct(cur.get("cvar")), pct(prop.get("cvar")), pp(_delta(cur, prop, "cvar")))
        )
    if "worst_scenario" in cur or "worst_scenario" in prop:
        rows.append(_worst_row(view, cur, prop))
    a = view.section("assumptions")
    notes = []
    if a.get("expected_returns"):
        notes.append(f"Expected returns: {a['expected_returns']}.")
    if any(k in m for k in ("cvar", "worst_scenario") for m in (cur, prop)):
        period = a.get("cvar_period") or "horizon"
        over = "the scenario horizon" if period == "horizon" else f"one {period} period"
        notes.append(f"CVaR is over {over}; the worst scenario over the scenario horizon.")
    return section(
        "Risk",
        data_table(["Measure", "Current", "Proposed", "Change"], rows),
        el("p", " ".join(notes), class_="small") if notes else None,
        id_="risk",
    )


def _delta(cur: Mapping[str, Any], prop: Mapping[str, Any], key: str) -> float | None:
    a, b = num(cur.get(key)), num(prop.get(key))
    return None if a is None or b is None else b - a


def _worst_row(
    view: ProposalView, cur: Mapping[str, Any], prop: Mapping[str, Any]
) -> tuple[str, str, str, str]:
    """The worst scenario's return in the number columns; its title in the label column
    (once when both portfolios share it), so long titles never crowd the numbers."""
    titles = [_scenario_title(view, mapping(m.get("worst_scenario"))) for m in (cur, prop)]
    named = [t for t in titles if t]
    if len(set(named)) == 1:
        label = f"Worst scenario: {named[0]}"
    else:
        label = (
            "Worst scenario ("
            + "; ".join(
                f"{who}: {t}" for who, t in zip(("current", "proposed"), titles, strict=True) if t
            )
            + ")"
        )
    returns = [num(mapping(m.get("worst_scenario")).get("return")) for m in (cur, prop)]
    change = pp(returns[1] - returns[0]) if None not in returns else DASH
    return label, signed_pct(returns[0]), signed_pct(returns[1]), change


def _scenario_title(view: ProposalView, worst: Mapping[str, Any]) -> str:
    if not worst:
        return ""
    scen = mapping(view.section("scenarios").get(worst.get("id")))
    return str(scen.get("title") or worst.get("id") or "")


def trade_amounts(view: ProposalView) -> dict[str, float]:
    """Totals from ``trade_summary`` (summed from the trades where absent): estimated
    cost ``cost``, realised short-term ``st`` and long-term ``lt`` gains (negative: losses)."""
    summary = view.section("trade_summary")
    trades = [mapping(t) for t in listing(view.doc.get("trades"))]

    def total(summary_key: str, trade_key: str) -> float:
        if (x := num(summary.get(summary_key))) is not None:
            return x
        return sum(v for v in (num(t.get(trade_key)) for t in trades) if v is not None)

    return {"cost": total("total_cost", "est_cost"), "st": total("st_gain", "st_gain"),
            "lt": total("lt_gain", "lt_gain")}  # fmt: skip


def trade_totals(view: ProposalView) -> dict[str, str]:
    """:func:`trade_amounts` formatted as money."""
    ccy = view.section("account").get("currency")
    return {k: money(v, ccy, 2) for k, v in trade_amounts(view).items()}


def realised_text(view: ProposalView) -> str:
    """``realised gains of $X short-term and losses of $Y long-term``: a loss is worded
    as a loss, with its amount positive; zero terms are left out."""
    ccy = view.section("account").get("currency")
    amounts = trade_amounts(view)
    parts, last = [], None
    for key, term in (("st", "short-term"), ("lt", "long-term")):
        x = amounts[key]
        if abs(x) < 0.005:
            continue
        kind = "gains" if x > 0 else "losses"
        parts.append(f"{kind + ' of ' if kind != last else ''}{money(abs(x), ccy, 2)} {term}")
        last = kind
    return "no realised gains or losses" if not parts else "realised " + " and ".join(parts)


def trades(view: ProposalView) -> Raw | None:
    """The trade list with estimated costs and realised gains."""
    if "trades" not in view.doc:
        return None
    rows_in = [mapping(t) for t in listing(view.doc.get("trades"))]
    if not rows_in:
        return section("Trades", el("p", "No trades are needed."), id_="trades")
    ccy = view.section("account").get("currency")
    rows = [
        (
            t.get("ticker"),
            str(t.get("side") or "").capitalize(),
            decimal(t.get("shares"), 0),
            money(t.get("est_price"), ccy, 2),
            money(t.get("notional"), ccy, 2),
            money(t.get("est_cost"), ccy, 2),
            money(t.get("st_gain"), ccy, 2),
            money(t.get("lt_gain"), ccy, 2),
            minus_signs(t.get("reason")),
        )
        for t in rows_in
    ]
    totals = trade_totals(view)
    foot = ("Total", "", "", "", "", totals["cost"], totals["st"], totals["lt"], "")
    headers = [
        "Ticker",
        "Side",
        "Shares",
        "Est. price",
        "Notional",
        "Est. cost",
        "Short-term gain/loss",
        "Long-term gain/loss",
        "Reason",
    ]
    summary = view.section("trade_summary")
    notes = [flow] if (flow := flow_text(summary, ccy)) else []
    if num(summary.get("residual_cash")) is not None:
        notes.append(f"Cash left after the trades: {money(summary['residual_cash'], ccy, 2)}.")
    if summary.get("method"):
        notes.append(f"Whole-share plan computed by: {summary['method']}.")
    notes.append(
        "Prices, costs and gains are estimates; realised gains and losses (negative) are "
        "before tax."
    )
    return section(
        "Trades",
        table(headers, rows, text_cols=(0, 1, 8), foot=foot),
        el("p", " ".join(notes), class_="small"),
        id_="trades",
    )


def flow_text(summary: dict[str, Any], ccy: str | None) -> str:
    """The deposit or withdrawal the trades include, and the value the targets are shares
    of ("" when there is none)."""
    for key, what in (("deposit", "deposit"), ("withdraw", "withdrawal")):
        amount = num(summary.get(key))
        if amount:
            value = money(summary.get("value_before"), ccy, 2)
            return (f"The trades include a {what} of {money(amount, ccy, 2)}: the targets are "
                    f"shares of the value after it, {value}.")  # fmt: skip
    return ""


def blocked(view: ProposalView) -> Raw | None:
    """Every trade a rule withheld, lot by lot, with its reason: what stays in the account."""
    items = [mapping(b) for b in listing(view.section("trade_summary").get("blocked"))]
    if not items:
        return None
    rows = []
    for b in items:
        lots = [mapping(x) for x in listing(b.get("lots"))] or [{"shares": b.get("shares")}]
        rows += [
            (
                b.get("ticker"),
                str(b.get("side") or "").capitalize(),
                lot.get("lot_id") or DASH,
                lot.get("acquired") or DASH,
                DASH if num(lot.get("shares")) is None else decimal(lot.get("shares"), 0),
                str(b.get("rule") or "").replace("_", " "),
                minus_signs(b.get("reason")),
            )
            for lot in lots
        ]
    headers = ["Ticker", "Side", "Lot", "Acquired", "Shares", "Rule", "Reason"]
    text = "These trades were withheld by the account's rules; the shares stay in the account."
    return section(
        "Blocked trades",
        el("p", text),
        table(headers, rows, text_cols=(0, 1, 2, 3, 5, 6)),
        id_="blocked",
    )


def objective(view: ProposalView) -> Raw | None:
    """The objective and the constraints, with which ones bind and their shadow prices."""
    obj = view.section("objective")
    cons = [mapping(c) for c in listing(view.doc.get("constraints"))]
    if not obj and not cons:
        return None
    text = obj.get("description") or obj.get("kind")
    para = el("p", el("strong", "Objective: "), text) if text else None
    rows = [
        (c.get("name"), "yes" if c.get("binding") else "no", _sig(c.get("shadow_price")))
        for c in cons
    ]
    tbl = data_table(["Constraint", "Binding", "Shadow price"], rows) if rows else None
    return section("Objective and constraints", para, tbl, id_="objective")


def _shock(shock: Mapping[str, Any]) -> str:
    unit = str(shock.get("unit") or "").lower()
    render = _SHOCK_UNITS.get(unit)
    move = num(shock.get("move"))
    if move is None:
        return DASH
    return render(move) if render else f"{move:g} {unit}".strip()


_SHOCK_UNITS: dict[str, Callable[[float], str]] = {
    "return": signed_pct,
    "bp": lambda m: f"{m:+.0f} bp".replace("-", "−"),
    "level": lambda m: f"to {m:,.2f}",
    "multiplier": lambda m: f"×{m:.2f}",
    "percent": lambda m: f"{m:+.2f}%".replace("-", "−"),
    "log_change": lambda m: f"{m:+.3f} (log change)".replace("-", "−"),
}


def assumptions(view: ProposalView) -> Raw | None:
    """Estimation window and method, then each scenario's shocks, plausibility, narrative."""
    a = view.section("assumptions")
    mc = mapping(a.get("monte_carlo"))
    rows = [
        ("Estimation window", a.get("window") or a.get("estimation_window")),
        ("Frequency", a.get("frequency")),
        ("Horizon", a.get("horizon")),
        ("Method", a.get("method")),
        ("Expected returns", a.get("expected_returns")),
        ("CVaR samples", a.get("samples")),
        ("Risk-free rate", pct(a.get("risk_free"), 2) if "risk_free" in a else None),
        ("Monte Carlo samples", mc.get("n_samples")),
        ("Random seed", mc.get("seed")),
    ]
    kv = [(k, v) for k, v in rows if v not in (None, "")]
    scen = [_scenario_detail(k, mapping(s)) for k, s in view.section("scenarios").items()]
    if not kv and not scen:
        return None
    return section(
        "Assumptions",
        kv_table(kv) if kv else None,
        el("h3", "Scenarios") if scen else None,
        join(scen),
        id_="assumptions",
    )


def _scenario_detail(key: str, s: Mapping[str, Any]) -> Raw:
    head = str(s.get("title") or key)
    facts = [f"probability {pct(s.get('probability'), 0)}"]
    if s.get("horizon"):
        facts.append(f"horizon {s['horizon']}")
    shocks = [mapping(x) for x in listing(s.get("shocks"))]
    shock_tbl = (
        data_table(["Factor", "Move"], [(x.get("factor"), _shock(x)) for x in shocks])
        if shocks
        else None
    )
    plaus = []
    if s.get("plausibility"):
        plaus.append(f"Plausibility: {s['plausibility']}")
    if num(s.get("mahalanobis")) is not None:
        plaus.append(f"Mahalanobis distance {decimal(s['mahalanobis'])}")
    if s.get("history"):
        plaus.append(f"judged against history {s['history']}")
    return join(
        [
            el("h3", f"{head} ({', '.join(facts)})"),
            el("p", s.get("narrative"), class_="narrative") if s.get("narrative") else None,
            shock_tbl,
            el("p", "; ".join(plaus) + ".", class_="small") if plaus else None,
        ]
    )


def _sig(value: Any, digits: int = 4) -> str:
    """A shadow price to ``digits`` significant figures, or a dash."""
    x = num(value)
    return DASH if x is None else f"{x:.{digits}g}"

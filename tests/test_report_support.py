"""Documents and HTML helpers shared by the report tests (no tests here)."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser

import pytest

from optimizer.report.buckets import size_split

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "source", "wbr"}
SVG_VOID_OK = {"rect", "line", "circle", "polyline", "path"}  # may be self-closed

_PROPOSAL = {
    "title": "Allocation proposal",
    "generated": "2026-11-21T10:00:00",
    "account": {
        "id": "smith-family",
        "name": "Smith family trust",
        "value": 1_250_000.0,
        "currency": "USD",
    },
    "tags": {
        "SPY": ["equity", "large_cap"],
        "IWM": ["equity", "small_cap"],
        "BND": ["bonds"],
        "CASH": ["cash"],
    },
    "current_weights": {"SPY": 0.55, "IWM": 0.15, "BND": 0.25, "CASH": 0.05},
    "weights": {"SPY": 0.48, "IWM": 0.12, "BND": 0.36, "CASH": 0.04},
    "metrics": {
        "proposed": {
            "expected_return": 0.061,
            "volatility": 0.098,
            "sharpe": 0.21,
            "cvar": 0.081,
            "cvar_level": 0.95,
            "small_cap_share": 0.12,
            "worst_scenario": {"id": "tariff-shock", "return": -0.08},
        },
        "current": {
            "expected_return": 0.067,
            "volatility": 0.121,
            "sharpe": 0.22,
            "cvar": 0.104,
            "cvar_level": 0.95,
            "small_cap_share": 0.15,
            "worst_scenario": {"id": "tariff-shock", "return": -0.10},
        },
    },
    "objective": {"kind": "max_sharpe", "description": "maximise the Sharpe ratio of the mixture"},
    "constraints": [
        {"name": "small_cap <= 0.4 * equity", "binding": True, "shadow_price": 0.012},
        {"name": "cash >= 0.02", "binding": False, "shadow_price": 0.0},
    ],
    "scenarios": {
        "tariff-shock": {
            "title": "Tariff shock",
            "probability": 0.2,
            "horizon": "3 months",
            "narrative": "New tariffs hit domestic small companies hardest.",
            "shocks": [
                {"factor": "equity", "move": -0.12, "unit": "return"},
                {"factor": "size", "move": -0.03, "unit": "return"},
            ],
            "proposed_return": -0.08,
            "current_return": -0.10,
            "mahalanobis": 2.1,
            "plausibility": "unusual (about 1 in 20)",
            "history": "2022-01-03..2025-12-31",
        },
        "fed-easing": {
            "title": "Fed easing",
            "probability": 0.5,
            "horizon": "3 months",
            "narrative": "Two more cuts; floating-rate borrowers gain.",
            "shocks": [{"factor": "short_rate", "move": -50, "unit": "bp"}],
            "proposed_return": 0.031,
            "current_return": 0.042,
            "mahalanobis": 0.8,
            "plausibility": "ordinary",
            "history": "2022-01-03..2025-12-31",
        },
        "yield-spike": {
            "title": "Treasury yield spike",
            "probability": 0.3,
            "horizon": "3 months",
            "narrative": "The 10-year yield jumps.",
            "shocks": [{"factor": "yield_10y", "move": 75, "unit": "bp"}],
            "proposed_return": -0.035,
            "current_return": -0.041,
            "mahalanobis": 1.7,
            "plausibility": "uncommon (about 1 in 8)",
            "history": "2022-01-03..2025-12-31",
        },
    },
    "frontier": {
        "points": [
            {"volatility": v, "expected_return": r}
            for v, r in [(0.03, 0.035), (0.06, 0.05), (0.09, 0.06), (0.12, 0.066), (0.16, 0.07)]
        ],
        "current": {"volatility": 0.121, "expected_return": 0.057},
        "proposed": {"volatility": 0.098, "expected_return": 0.061},
    },
    "trades": [
        {
            "ticker": "SPY",
            "side": "sell",
            "shares": 150,
            "est_price": 580.1,
            "notional": 87015.0,
            "est_cost": 12.3,
            "st_gain": 0.0,
            "lt_gain": 8123.0,
            "reason": "overweight by 7.0 pp",
        },
        {
            "ticker": "IWM",
            "side": "sell",
            "shares": 170,
            "est_price": 220.5,
            "notional": 37485.0,
            "est_cost": 5.1,
            "st_gain": 210.0,
            "lt_gain": 0.0,
            "reason": "overweight by 3.0 pp",
        },
        {
            "ticker": "BND",
            "side": "buy",
            "shares": 1900,
            "est_price": 72.3,
            "notional": 137370.0,
            "est_cost": 9.8,
            "st_gain": 0.0,
            "lt_gain": 0.0,
            "reason": "underweight by 11.0 pp",
        },
    ],
    "trade_summary": {
        "n_trades": 3,
        "total_cost": 27.2,
        "st_gain": 210.0,
        "lt_gain": 8123.0,
        "residual_cash": 50012.8,
        "method": "milp",
    },
    "assumptions": {
        "estimation_window": "2005-01-03..2025-12-31",
        "frequency": "monthly",
        "horizon": "3 months",
        "method": "factor model (equity, size, rates)",
        "risk_free": 0.04,
        "monte_carlo": {"n_samples": 10000, "seed": 7},
    },
    "provenance": {
        "source": "sample",
        "tickers": ["SPY", "IWM", "BND"],
        "first": "1949-01-31",
        "last": "2017-03-31",
        "frequency": "monthly",
        "stale": False,
        "notes": ["bundled sample built from packaged data"],
    },
    "warnings": ["BND history starts in 2007; earlier months are backfilled by the factor model"],
}

_WHATIF = {
    "title": "What-if comparison",
    "generated": "2026-11-21T10:00:00",
    "account": {"id": "smith-family", "name": "Smith family trust"},
    "tickers": ["SPY", "IWM", "BND", "CASH"],
    "tags": _PROPOSAL["tags"],
    "columns": ["baseline", "fed-easing", "tariff-shock", "robust"],
    "column_titles": {
        "baseline": "Baseline",
        "fed-easing": "Fed easing",
        "tariff-shock": "Tariff shock",
        "robust": "Probability-weighted robust",
    },
    "weights": {
        "baseline": {"SPY": 0.5, "IWM": 0.2, "BND": 0.25, "CASH": 0.05},
        "fed-easing": {"SPY": 0.45, "IWM": 0.3, "BND": 0.2, "CASH": 0.05},
        "tariff-shock": {"SPY": 0.3, "IWM": 0.05, "BND": 0.5, "CASH": 0.15},
        "robust": {"SPY": 0.42, "IWM": 0.14, "BND": 0.38, "CASH": 0.06},
    },
    "small_cap_share": {"baseline": 0.2, "fed-easing": 0.3, "tariff-shock": 0.05, "robust": 0.14},
    "expected_return": {"baseline": 0.07, "fed-easing": 0.09, "tariff-shock": 0.03, "robust": 0.06},
    "volatility": {"baseline": 0.12, "fed-easing": 0.13, "tariff-shock": 0.07, "robust": 0.1},
    "current_return": {
        "baseline": 0.015,
        "fed-easing": 0.042,
        "tariff-shock": -0.1,
        "robust": -0.004,
    },
    "proposed_return": {
        "baseline": 0.013,
        "fed-easing": 0.031,
        "tariff-shock": -0.08,
        "robust": 0.0021,
    },
    "regret": {
        "fed-easing": {"fed-easing": 0.0, "tariff-shock": 0.052},
        "tariff-shock": {"fed-easing": 0.031, "tariff-shock": 0.0},
        "robust": {"fed-easing": 0.012, "tariff-shock": 0.018},
    },
    "provenance": _PROPOSAL["provenance"],
    "warnings": [],
}


def proposal_doc() -> dict:
    """A complete proposal document (a fresh deep copy each call)."""
    return copy.deepcopy(_PROPOSAL)


def whatif_doc() -> dict:
    """A complete what-if document (a fresh deep copy each call)."""
    return copy.deepcopy(_WHATIF)


class Element:
    """A parsed start tag: name, attributes, text inside (direct and nested)."""

    def __init__(self, tag: str, attrs: dict[str, str], within: tuple[str, ...]) -> None:
        self.tag, self.attrs, self.text, self.within = tag, attrs, "", within

    def num(self, name: str) -> float:
        return float(self.attrs[name])


class TreeCheck(HTMLParser):
    """Parses a page, checks tags balance, and records every element with its attrs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[Element] = []
        self.elements: list[Element] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def _within(self) -> tuple[str, ...]:
        return tuple(e.attrs["id"] for e in self.stack if "id" in e.attrs)

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs}, self._within())
        self.elements.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}, self._within()))
        if tag not in VOID and tag not in SVG_VOID_OK:
            self.errors.append(f"self-closed <{tag}/>")

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1].tag != tag:
            top = self.stack[-1].tag if self.stack else None
            self.errors.append(f"</{tag}> closes <{top}>")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        for element in self.stack:
            element.text += data


def parse(page: str) -> TreeCheck:
    """Parse ``page``; the result's ``errors`` lists unbalanced tags (empty when fine)."""
    tree = TreeCheck()
    tree.feed(page)
    tree.close()
    if tree.stack:
        tree.errors.append(f"unclosed: {[e.tag for e in tree.stack]}")
    return tree


def find(page: str, section: str, tag: str, css_class: str | None = None) -> list[Element]:
    """Elements ``tag`` (with ``class`` containing ``css_class``) inside section ``id``."""
    return [
        e
        for e in parse(page).elements
        if e.tag == tag
        and section in e.within
        and (css_class is None or css_class in e.attrs.get("class", "").split())
    ]


def visible_text(page: str) -> str:
    """All text outside tags, whitespace collapsed, entities decoded."""
    return " ".join("".join(parse(page).text).split())


URL_IN_ATTR = re.compile(
    r"""\b(?:src|href|xlink:href|srcset|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", re.I
)
URL_IN_CSS = re.compile(r"url\(", re.I)


def test_no_small_cap_share_of_solver_residues():
    # SPY 3e-8 and IWM 1e-9 of a bond portfolio: "small caps 3.2 % of the equity" was shown
    tags = {"SPY": ["equity", "large_cap"], "IWM": ["equity", "small_cap"], "TLT": ["bonds"]}
    residue = {"SPY": 3e-8, "IWM": 1e-9, "TLT": 1.0}
    assert size_split(residue, tags).small_cap_share_of_equity is None
    held = {"SPY": 0.3, "IWM": 0.1, "TLT": 0.6}
    assert size_split(held, tags).small_cap_share_of_equity == pytest.approx(0.25)

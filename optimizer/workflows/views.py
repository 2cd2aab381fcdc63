"""The views block of the proposal and what-if documents: each view, its confidence, what
the tilt did to the scenarios, and the allocation with the views against without them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from optimizer.optimize.result import clean_weights as clean

if TYPE_CHECKING:
    from optimizer.workflows.pipeline import AccountRun


def views_section(run: AccountRun) -> dict[str, Any] | None:
    """None when the account states no views (docs/views.md, "In the outputs")."""
    est = run.estimate
    report = est.views
    if report is None:
        return None
    h = est.horizon_years
    with_views = clean(run.allocation.weights)
    without = clean(run.without_views.weights) if run.without_views is not None else {}
    tickers = list(est.tickers)
    return {
        **report.to_dict(),
        "horizon_years": h,
        # annualised expected returns of each asset, before and after the views
        "expected_return": {
            "without_views": dict(zip(tickers, (report.prior_mu / h).tolist(), strict=True)),
            "with_views": dict(zip(tickers, (est.mu / h).tolist(), strict=True)),
        },
        "weights": {"without_views": without, "with_views": with_views},
        "weight_change": clean({t: with_views.get(t, 0.0) - without.get(t, 0.0) for t in tickers}),
    }

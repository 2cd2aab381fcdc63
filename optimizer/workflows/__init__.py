"""The three products built from the pipeline: proposal, what-if, monthly job.

``propose`` and ``whatif`` serve one account file; ``prepare_worker`` and
``process_account`` are the monthly job's default pipeline (optimizer.jobs runs them in
worker processes: one :class:`Pipeline` per worker, so estimates and compiled problems are
shared by every account of the worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.data.freshness import DEFAULT_MAX_PRICE_AGE
from optimizer.errors import ConfigError
from optimizer.workflows.pipeline import AccountRun, Pipeline

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterator, Sequence

    from optimizer.data.freshness import LastPrice
    from optimizer.jobs.model import AccountOutcome, AccountSpec, Period
    from optimizer.report.pdf import Paper
    from optimizer.workflows.whatif import WhatIfDocument

__all__ = [
    "AccountRun",
    "Pipeline",
    "Proposal",
    "last_price_dates",
    "prepare_worker",
    "process_account",
    "proposal_of",
    "propose",
    "whatif",
]


PROPOSAL_FILES = ("proposal.json", "report.html", "report.pdf", "orders.csv")


@dataclass(frozen=True)
class Proposal:
    """A proposal document and the files written for it (empty without ``out_dir``)."""

    document: dict[str, Any]
    files: dict[str, Path]
    run: AccountRun


def propose(
    config: str | Path,
    out_dir: str | Path | None = None,
    *,
    deposit: float = 0.0,
    withdraw: float = 0.0,
    pipeline: Pipeline | None = None,
    max_price_age: int | None = DEFAULT_MAX_PRICE_AGE,
    pdf: Paper | None = None,
) -> Proposal:
    """Allocation, trades and report for one account file.

    With ``out_dir``: ``proposal.json``, ``report.html``, ``orders.csv`` and (with ``pdf``,
    the paper size) ``report.pdf`` are written there as one set (all new or all as
    before; an old ``orders.csv`` or ``report.pdf`` that is not part of the new set is
    removed), and only once everything has been computed. Prices more
    than ``max_price_age`` business days before the trade date are a warning.
    """
    from optimizer.account import load_account

    cfg = load_account(config)
    run = (pipeline or Pipeline()).run(
        cfg, deposit=deposit, withdraw=withdraw, compare_tax_blind=True, max_price_age=max_price_age
    )
    return proposal_of(run, out_dir, pdf)


def proposal_of(run: AccountRun, out_dir: str | Path | None, pdf: Paper | None = None) -> Proposal:
    """The proposal of one account's run (``propose``'s documents and files)."""
    from optimizer.workflows.proposal import build_proposal

    document = build_proposal(run)
    files: dict[str, Path] = {}
    if out_dir is not None:
        files = _write_proposal(Path(out_dir), document, run, pdf)
    return Proposal(document, files, run)


def _write_proposal(
    out: Path, document: dict[str, Any], run: AccountRun, pdf: Paper | None
) -> dict[str, Path]:
    import json

    from optimizer.atomic import write_set_atomic
    from optimizer.jsonable import to_jsonable
    from optimizer.rebalance.result import orders_csv
    from optimizer.report import render_proposal

    html = render_proposal(to_jsonable(document))
    texts: dict[str, str | bytes] = {
        "proposal.json": json.dumps(to_jsonable(document), indent=2, allow_nan=False) + "\n",
        "report.html": html,
    }
    if pdf is not None:
        from optimizer.report.pdf import render_pdf

        texts["report.pdf"] = render_pdf(html, paper=pdf)
    if run.plan is not None:
        texts["orders.csv"] = orders_csv([run.plan])
    return write_set_atomic(out, texts, retire=PROPOSAL_FILES)


def whatif(
    config: str | Path,
    *,
    pipeline: Pipeline | None = None,
    max_price_age: int | None = DEFAULT_MAX_PRICE_AGE,
) -> WhatIfDocument:
    """The what-if document for one account file (``.to_dict()`` is its JSON form; stale
    prices are a warning)."""
    from optimizer.account import load_account
    from optimizer.workflows.whatif import build_whatif

    pipeline = pipeline or Pipeline()
    cfg = load_account(config)
    run = pipeline.run(cfg, plan=False, max_price_age=max_price_age)
    if not run.estimate.scenarios:
        from optimizer.errors import ConfigError

        raise ConfigError(
            "what-if needs scenarios",
            file=str(cfg.path),
            key="scenarios.use",
            hint='list them, e.g. use = [{id = "fed-easing"}, {id = "tariff-shock"}]',
        )
    return build_whatif(run, pipeline)


def prepare_worker() -> Pipeline:
    """Once per worker process of the monthly job: the shared caches."""
    return Pipeline()


def process_account(ctx: Pipeline | None, spec: AccountSpec, period: Period) -> AccountOutcome:
    """The monthly job's pipeline for one account and period (trades as of the rebalance
    date; estimates and compiled problems shared through ``ctx``)."""
    from optimizer.jobs.model import AccountOutcome, OutcomeStatus

    pipeline = ctx if ctx is not None else Pipeline()
    cfg = pipeline.account(spec.config_path, as_of=dated_until(period, pipeline.today))
    named = cfg.holdings_path
    if named is not None and named.resolve() != spec.holdings_path.resolve():
        raise ConfigError(
            f"names another file than the monthly job reads ({spec.holdings_path})",
            file=str(spec.config_path),
            key="account.holdings",
            value=cfg.account.holdings,
            hint="the job reads the account folder's holdings.csv or accounts.csv's holdings "
            "column; drop the key or name that file",
        )
    run = pipeline.run(
        cfg,
        holdings_path=spec.holdings_path,
        as_of=period.rebalance_date,
        account_id=spec.account_id,
        own_file=spec.named_by_folder,  # an account folder's holdings.csv is its own
    )
    plan = run.plan
    orders = [] if plan is None else plan.order_rows()
    warnings = run.warnings
    tax = None
    if cfg.tax.taxable:  # the ledger's tax figures, from the plan already made
        from optimizer.workflows.taxes import ledger_figures

        tax = ledger_figures(run)
    return AccountOutcome(
        status=OutcomeStatus.TRADED if orders else OutcomeStatus.NO_TRADE,
        orders=tuple(orders),
        allocation=dict(run.allocation.weights),
        provenance=run.estimate.provenance.to_dict() if run.estimate.provenance else {},
        warnings=tuple(warnings),
        tax=tax,
    )


def dated_until(period: Period, today: dt.date) -> dt.date | None:
    """The last date a period's run may use data from: none for the current month (a run
    late in the month trades at the prices of the day it runs, as it sends its orders
    now); a past period's rebalance date (a backfill, or a retry after the price files
    were refreshed, is priced and estimated as it would have been then, not with the
    months that came after)."""
    if (today.year, today.month) <= (period.year, period.month):
        return None
    return period.rebalance_date


def warm_worker(ctx: Pipeline, specs: Sequence[AccountSpec], period: Period) -> None:
    """Before the monthly job's workers fork: the accounts' estimates and compiled problems
    in ``ctx`` (their trades are not kept). An account that fails here is left to its own
    run, which records why."""
    for spec in specs:
        try:
            process_account(ctx, spec, period)
        except Exception:
            continue


def last_price_dates(
    specs: Sequence[AccountSpec], period: Period
) -> Iterator[tuple[str, LastPrice]]:
    """The monthly job's check before it records anything: per account, the oldest last
    price its pipeline will use on the rebalance date. Accounts that say the same
    ([data], [account] as_of, universe) are looked up once; an account whose file or data
    cannot be read is left to its own run (where it fails with its reason)."""
    from optimizer.errors import CapallocError

    pipeline, seen, keys = Pipeline(), {}, {}
    for spec in specs:
        if spec.config_path not in keys:  # a policy file shared by many accounts: read once
            keys[spec.config_path] = _data_key(spec.config_path)
        key = keys[spec.config_path]
        if key is None or key not in seen:
            try:
                cfg = pipeline.account(spec.config_path)
                seen[key] = pipeline.last_price(cfg, period.rebalance_date)
            except CapallocError:
                seen[key] = None
        if seen[key] is not None:
            yield spec.account_id, seen[key]


def _data_key(path: Path) -> str | None:
    """What decides an account file's prices, read cheaply (None: unreadable)."""
    import json

    import tomli

    try:
        doc = tomli.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, tomli.TOMLDecodeError, RecursionError):
        return None
    data = doc.get("data") or {}
    relative = str(data.get("source", "")).startswith("csv:") or "cache_dir" in data
    parts = [
        str(path.resolve().parent) if relative else "",
        data,
        (doc.get("account") or {}).get("as_of"),
        sorted(((doc.get("universe") or {}).get("assets") or {}).items()),
    ]
    return json.dumps(parts, sort_keys=True, default=str)

"""The what-if page's workflow: one account, fitted once, re-solved on every change.

:class:`LiveSession` loads the account, fits the factor model once
(:func:`~optimizer.scenario.build.fit_scenario_model`) and lists the :class:`Control` s an
investor may change: each scenario's shocks in their own units, each scenario's
probability, risk aversion, the small-cap share of equity band, the equity range and a
loss cap per scenario. :meth:`LiveSession.update` applies the changed values (a mapping
control name -> text, as a form sends them) to the account's configuration and scenarios
in memory and runs the same :class:`Pipeline` and :func:`build_whatif` as ``capalloc
whatif`` (the compiled problem is re-used while the policy and the scenario ids stay the
same). A value left as shown changes nothing, so an untouched page is the account file.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.config import validate
from optimizer.errors import ConfigError, InfeasibleError, naming_file
from optimizer.scenario.library import ScenarioLibrary
from optimizer.scenario.model import Scenario, Shock, check
from optimizer.workflows.bands import BAND_LABELS, banded_groups, current_bands

if TYPE_CHECKING:
    from optimizer.account import AccountConfig
    from optimizer.estimate import Estimate
    from optimizer.workflows import Proposal
    from optimizer.workflows.pipeline import AccountRun, Pipeline
    from optimizer.workflows.whatif import WhatIfDocument

# (factor or index, unit key) -> what the control is called on the page
SHOCK_LABELS = {
    ("SP500", "level"): ("S&P 500 level", "index level"),
    ("SP500", "return_pct"): ("S&P 500 return", "%"),
    ("equity", "return_pct"): ("US equity (S&P 500) return", "%"),
    ("size", "return_pct"): ("Small minus large caps", "%"),
    ("long_rate", "change_bp"): ("10-year yield change", "bp"),
    ("short_rate", "change_bp"): ("Fed / short rate move", "bp"),
    ("credit", "change_bp"): ("Credit spread change", "bp"),
    ("vol", "change_pct"): ("Volatility (VIX) change", "%"),
}
POLICY = "policy"


@dataclass(frozen=True, kw_only=True)
class Control:
    """One input of the page: ``name`` is its form field, ``text`` the value shown."""

    name: str
    label: str
    unit: str
    text: str  # as shown at start; submitting it unchanged leaves the account as it is
    scenario: str  # scenario id, or POLICY
    kind: str  # "shock", "probability", "risk_aversion", "band", "loss"
    optional: bool = False  # may be left empty (no such limit)
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class LiveResult:
    """One update: the what-if document (None when infeasible), the run, and timings."""

    document: WhatIfDocument | None
    run: AccountRun | None
    infeasible: str | None  # the diagnosis in words
    seconds: float
    shocks: dict[str, str] = field(default_factory=dict)  # shock control -> its move, odds

    def to_dict(self) -> dict[str, Any]:
        """The JSON answer of the page's API (docs/whatif-page.md)."""
        out: dict[str, Any] = {
            "infeasible": self.infeasible,
            "seconds": self.seconds,
            "shocks": self.shocks,
        }
        if self.document is None or self.run is None:
            return out
        doc, run = self.document, self.run
        est = run.estimate
        out |= {
            "weights": dict(run.allocation.weights),
            "current": dict(run.position.weights) or None,
            "small_cap_share": doc.small_cap_share.get("robust"),
            "scenarios": {
                s.id: {
                    "title": s.title,
                    "probability": s.probability,
                    "current_return": doc.current_return.get(s.id),
                    "proposed_return": doc.proposed_return.get(s.id),
                    "mahalanobis": s.mahalanobis,
                    "plausibility": s.plausibility,
                }
                for s in est.scenarios
            },
            "regret": doc.regret,
            "trades": [] if run.plan is None else run.plan.order_rows(),
            "warnings": doc.warnings,
        }
        return out


@dataclass(frozen=True)
class EditedLibrary(ScenarioLibrary):
    """The account's scenario library with some scenarios replaced by edited ones."""

    edited: Mapping[str, Scenario] = field(default_factory=dict)

    def get(self, scenario_id: str) -> Scenario:
        if scenario_id in self.edited:
            return self.edited[scenario_id]
        return super().get(scenario_id)


class LiveSession:
    """An account held open for the what-if page. Call :meth:`start` once."""

    def __init__(self, config: str | Path, pipeline: Pipeline | None = None) -> None:
        self.config = Path(config)
        self.pipeline = pipeline

    def start(self) -> LiveSession:
        """Load the account, fit the model once, and list the controls."""
        from optimizer.account import load_account
        from optimizer.scenario.build import _extra_dirs
        from optimizer.workflows.pipeline import Pipeline

        self.pipeline = self.pipeline or Pipeline()
        cfg = self.cfg_ = load_account(self.config)
        if not cfg.scenarios.use:
            raise ConfigError(
                "the what-if page needs scenarios",
                file=str(cfg.path),
                key="scenarios.use",
                hint='list them, e.g. use = [{id = "fed-easing"}, {id = "tariff-shock"}]',
            )
        self.model_ = self.pipeline.scenario_model(cfg)
        with naming_file(cfg.path):
            base = ScenarioLibrary.with_extra(_extra_dirs(cfg.scenarios, cfg.base_dir))
            self.scenarios_ = {u.id: base.get(u.id) for u in cfg.scenarios.use}
        self.library_ = EditedLibrary(base.dirs, self.scenarios_)
        self.first_ = self.update({})
        self.controls_ = self._controls()
        return self

    # -- controls --------------------------------------------------------------------------
    def _controls(self) -> list[Control]:
        cfg = self.cfg_
        out: list[Control] = []
        probs = self._probabilities()
        for use in cfg.scenarios.use:
            s = self.scenarios_[use.id]
            out.append(
                Control(
                    name=f"prob:{s.id}",
                    label="Probability",
                    unit="0–1",
                    text=_text(probs.get(s.id)),
                    scenario=s.id,
                    kind="probability",
                )
            )
            for i, shock in enumerate(s.shocks):
                out.append(_shock_control(s, i, shock))
            out.append(
                Control(
                    name=f"loss:{s.id}",
                    label="Loss cap",
                    unit="% of value",
                    text=_text(self._loss_caps().get(s.id)),
                    scenario=s.id,
                    kind="loss",
                    optional=True,
                )
            )
        bands = current_bands(cfg)
        out.append(
            Control(
                name="risk_aversion",
                label="Risk aversion",
                unit="λ",
                text=_text(cfg.policy.objective.risk_aversion),
                scenario=POLICY,
                kind="risk_aversion",
            )
        )
        for name, label in BAND_LABELS.items():
            value = bands.get(name)
            out.append(
                Control(
                    name=name,
                    label=label,
                    unit="%",
                    scenario=POLICY,
                    kind="band",
                    text=_text(None if value is None else 100 * value),
                    optional=True,
                )
            )
        return out

    def _probabilities(self) -> dict[str, float]:
        doc = self.first_.run
        if doc is None:
            return {}
        return {s.id: s.probability for s in doc.estimate.scenarios}

    def _loss_caps(self) -> dict[str, float]:
        from optimizer.optimize.universe import parse_scenario_loss

        caps = [parse_scenario_loss(t) for t in self.cfg_.policy.constraints.scenario_loss]
        return {c.scenario: 100 * c.max_loss for c in caps}

    # -- applying the page's values --------------------------------------------------------
    def edited(self, values: Mapping[str, str]) -> tuple[AccountConfig, EditedLibrary]:
        """The account configuration and scenarios with the page's values applied; a bad
        value is a ConfigError whose key is the control's name."""
        controls = {c.name: c for c in getattr(self, "controls_", [])}
        unknown = sorted(set(values) - set(controls) - {"save_id", "save_scenario"})
        if unknown and controls:
            raise ConfigError("unknown field", key=unknown[0], value=values[unknown[0]])
        changed = {
            n: _number(controls[n], v)
            for n, v in values.items()
            if n in controls and v.strip() != controls[n].text
        }
        scenarios = dict(self.scenarios_)
        for name, value in changed.items():
            c = controls[name]
            if c.kind == "shock":
                scenarios[c.scenario] = _with_shock(scenarios[c.scenario], c, value)
        cfg = _with_policy(self.cfg_, changed, controls)
        cfg = _with_probabilities(cfg, changed)
        return cfg, EditedLibrary(self.library_.dirs, scenarios)

    def estimates(self, cfg: AccountConfig, library: EditedLibrary) -> tuple[Estimate, Estimate]:
        """The estimate of the edited scenarios (and the one before [views])."""
        with naming_file(cfg.path):
            prior = self.model_.estimate(cfg.scenarios, library)
            if not cfg.views.view:
                return prior, prior
            from optimizer.views import apply_views

            return apply_views(prior, cfg.views), prior

    def update(self, values: Mapping[str, str]) -> LiveResult:
        """The optimum, scenario returns, regret and trades for the page's values."""
        from optimizer.data.freshness import DEFAULT_MAX_PRICE_AGE
        from optimizer.workflows.whatif import build_whatif

        t0 = time.perf_counter()
        cfg, library = self.edited(values)
        estimates = self.estimates(cfg, library)
        shocks = self.shock_notes(library)
        try:
            run = self.pipeline.run(cfg, estimates=estimates, max_price_age=DEFAULT_MAX_PRICE_AGE)
            doc = build_whatif(run, self.pipeline)
        except InfeasibleError as exc:
            why = exc.render()
            return LiveResult(
                document=None, run=None, infeasible=why, seconds=_since(t0), shocks=shocks
            )
        return LiveResult(document=doc, run=run, infeasible=None, seconds=_since(t0), shocks=shocks)

    def shock_notes(self, library: EditedLibrary) -> dict[str, str]:
        """Per shock control: the factor move it makes (a level as a return from its spot)
        and its own plausibility, the shock alone against the fitted model."""
        from optimizer.scenario.stress import factor_move

        engine, out = self.model_.engine, {}
        for sid in self.scenarios_:
            s = library.get(sid)
            for i, shock in enumerate(s.shocks):
                alone = engine.moments(s.model_copy(update={"shocks": [shock]}))
                stated = alone.details["shocks"][0]
                move = factor_move(stated["factor"], stated["move"])
                text = (
                    f"{move['move']:+,.0f} bp" if move["unit"] == "bp" else f"{move['move']:+.1%}"
                )
                if "spot" in stated:
                    text += f" from {stated['spot']['level']:,.0f}"
                out[f"shock:{sid}:{i}"] = f"{text}; {alone.plausibility}"
        return out

    def propose(self, values: Mapping[str, str], out_dir: str | Path) -> Proposal:
        """``capalloc propose``'s report.html, proposal.json and orders.csv for the page's
        values, written to ``out_dir``."""
        from optimizer.data.freshness import DEFAULT_MAX_PRICE_AGE
        from optimizer.workflows import proposal_of

        cfg, library = self.edited(values)
        run = self.pipeline.run(
            cfg,
            compare_tax_blind=True,
            max_price_age=DEFAULT_MAX_PRICE_AGE,
            estimates=self.estimates(cfg, library),
        )
        return proposal_of(run, out_dir)

    def save_scenario(
        self, values: Mapping[str, str], scenario_id: str, new_id: str, folder: str | Path
    ) -> Path:
        """Write scenario ``scenario_id`` with the page's values as ``<new_id>.toml`` in
        ``folder`` (a new file, checked by the scenario loader); returns its path."""
        import tomli
        import tomli_w

        from optimizer.atomic import write_atomic
        from optimizer.scenario.model import load_scenario

        cfg, library = self.edited(values)
        if scenario_id not in self.scenarios_:
            raise ConfigError(
                "not a scenario of this account", key="save_scenario", value=scenario_id
            )
        new_id = new_id.strip()
        probs = self._edited_probabilities(cfg)
        edited = library.get(scenario_id)
        data = edited.model_dump(exclude_none=True)
        data |= {"id": new_id, "probability": probs.get(scenario_id, data.get("probability"))}
        if edited.shocks != self.scenarios_[scenario_id].shocks:  # its title told the old moves
            data["title"] = f"{edited.title} (edited)"
        data = {k: v for k, v in data.items() if v is not None}
        try:
            scenario = validate(Scenario, data, prefix="", error=ConfigError)
        except ConfigError as exc:  # the new id is the page's "save as" field
            if exc.key != "id":
                raise
            raise ConfigError(exc.message, key="save_id", value=new_id,
                              hint="lower-case letters, digits, - and _") from None  # fmt: skip
        check(scenario)
        if new_id in library.paths():  # a built-in's id (or another folder's) would shadow it
            raise ConfigError(
                "a scenario with this id exists; choose another id", key="save_id", value=new_id
            )
        path = Path(folder) / f"{new_id}.toml"
        if path.exists():
            raise ConfigError(
                "a scenario file with this id exists; choose another id",
                key="save_id",
                value=new_id,
            )
        text = tomli_w.dumps(_toml_ready(scenario.model_dump(exclude_none=True)))
        tomli.loads(text)  # what the loader will read
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
        load_scenario(path)  # the project's loader accepts it
        return path

    def _edited_probabilities(self, cfg: AccountConfig) -> dict[str, float]:
        return {u.id: u.probability for u in cfg.scenarios.use if u.probability is not None}


# -- helpers ------------------------------------------------------------------------------


def _since(t0: float) -> float:
    return time.perf_counter() - t0


def _text(value: float | None) -> str:
    return "" if value is None else f"{value:.10g}"


def _shock_control(s: Scenario, i: int, shock: Shock) -> Control:
    unit_key = shock.unit_keys()[0]
    target = shock.index or shock.factor or ""
    label, unit = SHOCK_LABELS.get((target, unit_key), (f"{target} ({unit_key})", unit_key))
    note = ""
    if shock.reference is not None:
        ref = shock.reference
        note = f"reference {ref.level:,.0f} on {ref.date.isoformat()}"
    return Control(
        name=f"shock:{s.id}:{i}",
        label=label,
        unit=unit,
        scenario=s.id,
        kind="shock",
        text=_text(getattr(shock, unit_key)),
        note=note,
    )


_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")  # 6,200 or 1,234.5
_PLAIN = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)


def _number(control: Control, raw: str) -> float | None:
    """A field's number: plain ASCII digits, commas only between groups of three (6,200);
    a decimal comma (0,5) is refused rather than read as 5."""
    text = raw.strip()
    if _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    if not text:
        if control.optional:
            return None
        raise ConfigError("a number is required", key=control.name, value=raw)
    if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise ConfigError("not a finite number", key=control.name, value=raw)
    if not _PLAIN.fullmatch(text):
        hint = "write decimals with a point (0.5, not 0,5)" if "," in text else None
        raise ConfigError("not a number", key=control.name, value=raw, hint=hint)
    value = float(text) + 0.0  # (-0 is 0)
    if not math.isfinite(value):
        raise ConfigError("not a finite number", key=control.name, value=raw)
    return value


def _with_shock(s: Scenario, c: Control, value: float | None) -> Scenario:
    i = int(c.name.rsplit(":", 1)[1])
    shock = s.shocks[i]
    unit_key = shock.unit_keys()[0]
    given = shock.model_dump(exclude_none=True)
    if value != getattr(shock, unit_key):  # the story of the stated move no longer holds
        given.pop("note", None)
        given.pop("intermediate", None)
    try:
        new = validate(Shock, {**given, unit_key: value})
    except ConfigError as exc:
        raise ConfigError(exc.message, key=c.name, value=value) from None
    shocks = [*s.shocks[:i], new, *s.shocks[i + 1 :]]
    return s.model_copy(update={"shocks": shocks})


def _with_probabilities(cfg: AccountConfig, changed: Mapping[str, float | None]) -> AccountConfig:
    from optimizer.scenario.config import ScenarioUse

    uses, total, last = [], 0.0, None
    for use in cfg.scenarios.use:
        name = f"prob:{use.id}"
        p = changed.get(name, use.probability)
        if name in changed:
            last = name
            if not 0.0 <= float(p) <= 1.0:
                raise ConfigError("must be between 0 and 1", key=name, value=p)
        total += p or 0.0
        uses.append(ScenarioUse(id=use.id, probability=p))
    if total > 1 + 1e-9 and last is not None:  # name the probability the investor changed
        raise ConfigError(
            f"the scenario probabilities sum to {total:.4g}, above 1",
            key=last,
            value=changed[last],
            hint="lower this or another scenario's probability",
        )
    base = "prob:baseline"
    if base in changed and total < 1 - 1e-9:  # the remainder would go to the baseline
        rest = 1.0 - (total - (changed[base] or 0.0))
        raise ConfigError(
            f"the baseline takes what the other scenarios leave ({rest:.4g})",
            key=base,
            value=changed[base],
            hint="to lower it, raise another scenario's probability",
        )
    return dataclasses.replace(cfg, scenarios=cfg.scenarios.model_copy(update={"use": uses}))


def _with_policy(
    cfg: AccountConfig, changed: Mapping[str, float | None], controls: Mapping[str, Control]
) -> AccountConfig:
    policy = cfg.policy
    objective, constraints = policy.objective, policy.constraints
    if "risk_aversion" in changed:
        value = changed["risk_aversion"]
        if value is None or not 0 < value <= 1e4:
            raise ConfigError(
                "must be above 0 (and at most 10,000)", key="risk_aversion", value=value
            )
        objective = objective.model_copy(update={"risk_aversion": value})
    if any(n in changed for n in BAND_LABELS):
        shown = {n: changed.get(n, _shown(controls, n)) for n in BAND_LABELS}
        groups = banded_groups(cfg, shown, changed)
        constraints = constraints.model_copy(update={"groups": groups})
    losses = {n.split(":", 1)[1]: v for n, v in changed.items() if n.startswith("loss:")}
    if losses:
        constraints = constraints.model_copy(update={"scenario_loss": _losses(cfg, losses)})
    return dataclasses.replace(
        cfg, policy=dataclasses.replace(policy, objective=objective, constraints=constraints)
    )


def _shown(controls: Mapping[str, Control], name: str) -> float | None:
    text = controls[name].text
    return float(text) if text else None


def _losses(cfg: AccountConfig, edits: Mapping[str, float | None]) -> list[str]:
    from optimizer.optimize.universe import parse_scenario_loss

    out, seen = [], set()
    for text in cfg.policy.constraints.scenario_loss:
        sid = parse_scenario_loss(text).scenario
        seen.add(sid)
        if sid not in edits:
            out.append(text)
        elif edits[sid] is not None:
            out.append(_loss_text(sid, edits[sid]))
    out += [_loss_text(s, v) for s, v in edits.items() if s not in seen and v is not None]
    return out


def _loss_text(sid: str, pct: float) -> str:
    if not 0 < pct <= 100:
        raise ConfigError("must be above 0 % and at most 100 %", key=f"loss:{sid}", value=pct)
    return f"{sid} loss <= {pct:.10g}%"


def _toml_ready(data: Any) -> Any:
    """Pydantic's dump as TOML values: enums as their text, tuples as lists."""
    from enum import Enum

    if isinstance(data, dict):
        return {k: _toml_ready(v) for k, v in data.items() if v is not None}
    if isinstance(data, list | tuple):
        return [_toml_ready(v) for v in data]
    if isinstance(data, Enum):
        return data.value
    return data

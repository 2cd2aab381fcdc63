"""One account's configuration file: every section, validated by the stage that owns it.

```toml
[account]          # who: id, name, holdings file (tax lots), optional prices file;
                   # optional (the id defaults to the file name)
[advisor]          # optional: firm, advisor, contact, logo (shown in the reports)
[data]             # optimizer.data.DataConfig
[estimation]       # optimizer.scenario.config.EstimationConfig
[scenarios]        # optimizer.scenario.config.ScenarioSetConfig
[universe]         # optimizer.optimize.policy.UniverseConfig
[objective]        # optimizer.optimize.policy.ObjectiveConfig
[constraints]      # optimizer.optimize.policy.ConstraintsConfig
[rebalance]        # optimizer.rebalance.rules.RebalanceRules
[views]            # optimizer.views.ViewsConfig (views with confidence, docs/views.md)
[tax]              # optimizer.rebalance.taxlots.TaxConfig (tax-aware allocation)
```
Relative paths are taken from the folder of the file. Every error names the file, the key
and the bad value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, Field

from optimizer.config import SharedSections, StrictModel, read_toml, resolve_path, validate
from optimizer.errors import ConfigError

if TYPE_CHECKING:
    from optimizer.data import DataConfig
    from optimizer.optimize.policy import Policy
    from optimizer.rebalance.rules import RebalanceRules
    from optimizer.rebalance.taxlots import TaxConfig
    from optimizer.scenario.config import EstimationConfig, ScenarioSetConfig
    from optimizer.views import ViewsConfig

KNOWN_SECTIONS = (
    "account",
    "advisor",
    "data",
    "estimation",
    "scenarios",
    "universe",
    "objective",
    "constraints",
    "rebalance",
    "views",
    "tax",
)


_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _one_line(text: str) -> str:
    """Printable text on one line: no control character (C0, C1: NEL), no line or paragraph
    separator, no bidirectional override (which reorders what a terminal shows)."""
    import unicodedata

    bad = next(
        (c for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in _BIDI_CONTROLS),
        None,
    )
    if bad is not None:
        raise ValueError(f"a control character ({bad!r}) in a line of text")
    return text


OneLine = Annotated[str, AfterValidator(_one_line)]  # shown in reports and the terminal


class AccountInfo(StrictModel):
    """``[account]``: who the account is and where its holdings are."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: OneLine = Field(default="", max_length=200)
    currency: str = "USD"
    holdings: str | None = None  # tax-lot CSV (docs/rebalancing.md), relative to this file
    prices: str | None = None  # optional ticker,price CSV; default: last prices of [data]
    recent_trades: str | None = None  # recent buys and sales CSV (docs/rebalancing.md)
    as_of: dt.date | None = None  # trade date for tax rules; default: the data's last date


class AdvisorInfo(StrictModel):
    """``[advisor]``: who prepares the documents (report header, running header of the PDF
    and the acknowledgement block)."""

    firm: OneLine = Field(default="", max_length=200)
    advisor: OneLine = Field(default="", max_length=200)  # the advisor's name
    contact: OneLine = Field(default="", max_length=300)  # e-mail, phone, address: one line
    logo: str | None = None  # PNG, JPEG, GIF or SVG file, relative to this file


_IMAGE_TYPES = (  # magic bytes -> media type
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def logo_data_uri(path: Path, config: Path) -> str:
    """The logo file as a ``data:`` URI (the report stays one self-contained file).

    Raises
    ------
    ConfigError
        Missing, not a regular file, above ``MAX_LOGO_BYTES``, or not a PNG, JPEG, GIF or
        SVG image (names the config file, ``advisor.logo`` and the path).
    """
    import base64

    from optimizer.files import read_bytes
    from optimizer.limits import MAX_LOGO_BYTES

    if not path.exists():
        raise ConfigError("file not found", file=str(config), key="advisor.logo", value=str(path))
    try:
        data = read_bytes(path, limit=MAX_LOGO_BYTES)
    except ConfigError as exc:  # not a regular file, too large: said of advisor.logo
        raise ConfigError(
            exc.message, file=str(config), key="advisor.logo", value=str(path), hint=exc.hint
        ) from None
    media = next((m for magic, m in _IMAGE_TYPES if data.startswith(magic)), None)
    if media is None and _is_svg(data):
        media = "image/svg+xml"
    if media is None:
        raise ConfigError(
            "not an image (PNG, JPEG, GIF or SVG)",
            file=str(config),
            key="advisor.logo",
            value=str(path),
        )
    return f"data:{media};base64,{base64.b64encode(data).decode('ascii')}"


def _is_svg(data: bytes) -> bool:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head)


@dataclass(frozen=True)
class AccountConfig:
    """A validated account file. ``path`` is where it was read from."""

    path: Path
    account: AccountInfo
    data: DataConfig
    estimation: EstimationConfig
    scenarios: ScenarioSetConfig
    policy: Policy
    rebalance: RebalanceRules
    views: ViewsConfig
    tax: TaxConfig
    advisor: AdvisorInfo | None = None  # None without an [advisor] section
    logo: str | None = None  # the [advisor] logo as a data: URI

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def tickers(self) -> tuple[str, ...]:
        return tuple(self.policy.universe.assets)

    @property
    def holdings_path(self) -> Path | None:
        h = self.account.holdings
        return resolve_path(h, self.path) if h else None

    @property
    def prices_path(self) -> Path | None:
        p = self.account.prices
        return resolve_path(p, self.path) if p else None

    @property
    def recent_trades_path(self) -> Path | None:
        p = self.account.recent_trades
        return resolve_path(p, self.path) if p else None


def load_account(path: str | Path, *, shared: SharedSections | None = None) -> AccountConfig:
    """Read and validate an account file; ConfigError names file, key and value.

    ``shared``: sections validated before, for a caller reading many account files that
    say the same (see :func:`optimizer.config.validate`); the sections it returns are then
    shared with the other files' configs."""
    from optimizer.data import DataConfig
    from optimizer.optimize.policy import Policy
    from optimizer.rebalance.rules import RebalanceRules
    from optimizer.rebalance.taxlots import TaxConfig
    from optimizer.scenario.config import EstimationConfig, ScenarioSetConfig
    from optimizer.views import ViewsConfig

    p = Path(path)
    raw = read_toml(p)
    for section in raw:
        if section not in KNOWN_SECTIONS:
            raise ConfigError(
                f"unknown section; known: {', '.join(KNOWN_SECTIONS)}", file=str(p), key=section
            )
    account = raw.setdefault("account", {})
    if isinstance(account, dict) and "id" not in account and "holdings" not in account:
        # a policy shared by the rows of an accounts.csv names no account; an account file
        # with its own holdings still needs its id (it picks its rows of the file)
        raw["account"] = {"id": _default_id(p), **account}

    def section(model: Any, name: str) -> Any:
        return validate(model, raw.get(name, {}), file=p, prefix=name, shared=shared)

    cfg = AccountConfig(
        path=p,
        account=section(AccountInfo, "account"),
        data=section(DataConfig, "data"),
        estimation=section(EstimationConfig, "estimation"),
        scenarios=section(ScenarioSetConfig, "scenarios"),
        policy=Policy.from_config(raw, file=p, shared=shared),
        rebalance=section(RebalanceRules, "rebalance"),
        views=section(ViewsConfig, "views"),
        tax=section(TaxConfig, "tax"),
        advisor=section(AdvisorInfo, "advisor") if "advisor" in raw else None,
    )
    _check_view_series(cfg)
    for label, file in (
        ("account.holdings", cfg.holdings_path),
        ("account.prices", cfg.prices_path),
        ("account.recent_trades", cfg.recent_trades_path),
    ):
        if file is not None and not file.is_file():
            what = "not a regular file" if file.exists() else "file not found"
            raise ConfigError(what, file=str(p), key=label, value=str(file))
    _check_harvest(cfg)
    if cfg.advisor is not None and cfg.advisor.logo:
        logo = logo_data_uri(resolve_path(cfg.advisor.logo, p), p)
        cfg = dataclasses.replace(cfg, logo=logo)
    return cfg


def _check_view_series(cfg: AccountConfig) -> None:
    """Every series a view names is an asset of the universe."""
    for k, view in enumerate(cfg.views.view):
        for field, name in (("series", view.series), ("versus", view.versus)):
            if name is not None and name not in cfg.tickers:
                raise ConfigError(
                    f"views are on assets of the universe; known: {', '.join(cfg.tickers)}",
                    file=str(cfg.path),
                    key=f"views.view[{k}].{field}",
                    value=name,
                )


def _check_harvest(cfg: AccountConfig) -> None:
    """[tax.harvest] substitutes stand in for assets of the universe and are not assets
    themselves; a recent-trades file supplies the year's realised gains, so
    [tax] realized_gains_ytd is then left out."""
    h, file = cfg.tax.harvest, str(cfg.path)
    if cfg.recent_trades_path is not None and "realized_gains_ytd" in cfg.tax.model_fields_set:
        raise ConfigError(
            "given twice: the recent-trades file supplies the year's realised gains",
            file=file, key="tax.realized_gains_ytd", value=cfg.tax.realized_gains_ytd,
            hint="remove it, or list the year's sales in the recent-trades file",
        )  # fmt: skip
    if h is None:
        return
    assets = cfg.policy.universe.assets
    for ticker, subs in h.substitutes.items():
        if ticker not in assets or "cash" in assets[ticker].tags:
            raise ConfigError(
                f"not a priced asset of the universe; known: {', '.join(cfg.tickers)}",
                file=file, key="tax.harvest.substitutes", value=ticker,
            )  # fmt: skip
        for sub in subs:
            if sub in assets:
                raise ConfigError(
                    "a substitute is held in place of its ticker and cannot be an asset of "
                    "the universe", file=file, key=f"tax.harvest.substitutes.{ticker}",
                    value=sub,
                )  # fmt: skip


def _default_id(path: Path) -> str:
    """An account id from the file name, for files whose ``[account]`` gives none (a policy
    shared by the accounts an ``accounts.csv`` names: each is named by its row)."""
    text = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).lstrip("-._")
    return text or "account"

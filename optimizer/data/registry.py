"""``get_provider(spec)``: a source name (``sample``, ``yahoo``, ``csv:PATH``) -> Provider."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from optimizer.data.base import Provider
from optimizer.data.validate import ValidationPolicy
from optimizer.errors import DataError


@dataclass(frozen=True)
class ProviderArgs:
    """What every provider factory receives."""

    argument: str  # text after "scheme:" ("" when none)
    cache_dir: Path | None
    offline: bool
    policy: ValidationPolicy


def _sample(args: ProviderArgs) -> Provider:
    from optimizer.data.sample import SampleProvider

    return SampleProvider(policy=args.policy)


def _csv(args: ProviderArgs) -> Provider:
    from optimizer.data.csv_source import CsvProvider

    paths = [p.strip() for p in args.argument.split(",") if p.strip()]
    if not paths:
        raise DataError(
            "csv source needs a path", key="source", value="csv:", hint="csv:PATH[,PATH...]"
        )
    return CsvProvider(paths, policy=args.policy)


def _yahoo(args: ProviderArgs) -> Provider:
    from optimizer.data.yahoo import YahooProvider

    return YahooProvider(cache_dir=args.cache_dir, offline=args.offline, policy=args.policy)


# scheme -> (factory, takes an argument after the colon)
SCHEMES: dict[str, tuple[Callable[[ProviderArgs], Provider], bool]] = {
    "sample": (_sample, False),
    "yahoo": (_yahoo, False),
    "csv": (_csv, True),
}


def get_provider(
    spec: str,
    *,
    cache_dir: str | Path | None = None,
    offline: bool = False,
    policy: ValidationPolicy | None = None,
    cash_rate: float | None = None,
) -> Provider:
    """The provider for ``spec``: ``"sample"``, ``"yahoo"`` or ``"csv:PATH[,PATH...]"``.

    It also serves a built-in ``CASH`` price when the source has none (from a short-rate
    series of the source, else at ``cash_rate`` a year; :mod:`optimizer.data.cash`). An
    unknown scheme is a DataError that lists the known ones.
    """
    from optimizer.data.cash import CashProvider

    scheme, sep, argument = str(spec).strip().partition(":")
    entry = SCHEMES.get(scheme.lower())
    if entry is None or (sep and not entry[1]) or (entry[1] and not sep):
        known = "sample, yahoo, csv:PATH"
        raise DataError(f"unknown data source; known: {known}", key="source", value=spec)
    factory, _ = entry
    args = ProviderArgs(
        argument=argument,
        cache_dir=Path(cache_dir).expanduser() if cache_dir else None,
        offline=offline,
        policy=policy or ValidationPolicy(),
    )
    return CashProvider(factory(args), cash_rate)

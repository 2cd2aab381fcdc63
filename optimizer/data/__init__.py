"""Market data: providers (``sample``, ``yahoo``, ``csv:PATH``), validation and returns.

>>> from optimizer.data import get_provider, returns
>>> data = get_provider("sample").prices(["LARGE", "SMALL", "BOND"])
>>> r = returns(data.frame, "monthly")  # the sample is monthly: 12 periods per year

See docs/data-sources.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from optimizer.lazy import lazy_names

if TYPE_CHECKING:
    from optimizer.data.base import PriceData, Provenance, Provider, SeriesCoverage
    from optimizer.data.frequency import Frequency, infer_frequency, periods_per_year
    from optimizer.data.period_returns import ReturnKind, returns
    from optimizer.data.registry import get_provider
    from optimizer.data.settings import DataConfig
    from optimizer.data.validate import ValidationPolicy, require_history

# imported on first use: a submodule (e.g. the freshness check of a monthly rerun) does not
# pay for pandas, the providers and their settings
_WHERE = {
    "PriceData": "base", "Provenance": "base", "Provider": "base", "SeriesCoverage": "base",
    "Frequency": "frequency", "infer_frequency": "frequency", "periods_per_year": "frequency",
    "get_provider": "registry", "ReturnKind": "period_returns", "returns": "period_returns",
    "DataConfig": "settings", "ValidationPolicy": "validate", "require_history": "validate",
}  # fmt: skip

__all__ = [
    "DataConfig",
    "Frequency",
    "PriceData",
    "Provenance",
    "Provider",
    "ReturnKind",
    "SeriesCoverage",
    "ValidationPolicy",
    "get_provider",
    "infer_frequency",
    "periods_per_year",
    "require_history",
    "returns",
]


__getattr__, __dir__ = lazy_names(__name__, _WHERE)

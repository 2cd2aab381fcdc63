"""Market data: providers (``sample``, ``yahoo``, ``csv:PATH``), validation and returns.

>>> from optimizer.data import get_provider, returns
>>> data = get_provider("sample").prices(["LARGE", "SMALL", "BOND"])
>>> r = returns(data.frame, "monthly")  # the sample is monthly: 12 periods per year

See docs/data-sources.md.
"""

from optimizer.data.base import PriceData, Provenance, Provider, SeriesCoverage
from optimizer.data.frequency import Frequency, infer_frequency, periods_per_year
from optimizer.data.registry import get_provider
from optimizer.data.returns import ReturnKind, returns
from optimizer.data.settings import DataConfig
from optimizer.data.validate import ValidationPolicy, require_history

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

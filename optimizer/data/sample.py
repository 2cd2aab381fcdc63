"""``sample`` — the small real dataset bundled in the package (monthly, no network).

Prices ``LARGE``, ``MID``, ``SMALL``, ``MKT``, ``BOND``, ``CASH`` (total-return index
levels) and rates ``AAA``, ``BAA``, ``TBILL`` (percent); see ``sample/PROVENANCE.md`` and
:mod:`optimizer.data.build_sample`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path

from optimizer.data.base import PriceData
from optimizer.data.csv_source import CsvProvider
from optimizer.data.validate import SeriesKind, ValidationPolicy

SAMPLE_NAME = "bundled sample (Ken French size portfolios, Moody's yields)"


def sample_dir() -> Path:
    """Folder holding the bundled ``prices.csv``, ``rates.csv`` and ``PROVENANCE.md``."""
    return Path(str(resources.files("optimizer.data") / "sample"))


class SampleProvider(CsvProvider):
    """The bundled monthly sample; every result states it and its date range."""

    name = "sample"

    def __init__(self, *, policy: ValidationPolicy | None = None):
        folder = sample_dir()
        super().__init__([folder / "prices.csv", folder / "rates.csv"], policy=policy)
        self.source = "sample"

    def _serve(
        self,
        tickers: Sequence[str],
        start: dt.date | None,
        end: dt.date | None,
        kind: SeriesKind,
    ) -> PriceData:
        data = super()._serve(tickers, start, end, kind)
        p = data.provenance
        note = (
            f"{SAMPLE_NAME}, {p.frequency}, {p.first:%Y-%m}..{p.last:%Y-%m}; "
            "BOND is a duration-8 proxy built from Moody's AAA yield; "
            "see optimizer/data/sample/PROVENANCE.md"
        )
        return replace(data, provenance=replace(p, notes=(note, *p.notes)))

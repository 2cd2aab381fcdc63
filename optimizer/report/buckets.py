"""Aggregate ticker weights into size buckets (small, mid, large cap, bonds, cash) by tag."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from optimizer.limits import share_of
from optimizer.report.fmt import num


class Bucket(Enum):
    """Sleeves shown in the size split, in display order; ``value`` is the label."""

    SMALL_CAP = "Small cap"
    MID_CAP = "Mid cap"
    LARGE_CAP = "Large cap"
    OTHER_EQUITY = "Other equity"
    BONDS = "Bonds"
    CASH = "Cash"
    OTHER = "Other"

    @property
    def is_equity(self) -> bool:
        return self in _EQUITY

    @property
    def color(self) -> str:
        """The sleeve's colour: the same in every report, whatever else is shown."""
        return _COLORS[self]


_EQUITY = frozenset({Bucket.SMALL_CAP, Bucket.MID_CAP, Bucket.LARGE_CAP, Bucket.OTHER_EQUITY})
_COLORS = {
    Bucket.SMALL_CAP: "#1f4e79",
    Bucket.MID_CAP: "#4f8fc0",
    Bucket.LARGE_CAP: "#9cc3e4",
    Bucket.OTHER_EQUITY: "#8c6bb1",
    Bucket.BONDS: "#c8a04a",
    Bucket.CASH: "#6c9a5b",
    Bucket.OTHER: "#b3b3b3",
}

# normalised tag -> bucket; the first matching tag in this order wins
_TAG_BUCKETS: tuple[tuple[str, Bucket], ...] = (
    ("small_cap", Bucket.SMALL_CAP),
    ("smallcap", Bucket.SMALL_CAP),
    ("mid_cap", Bucket.MID_CAP),
    ("midcap", Bucket.MID_CAP),
    ("large_cap", Bucket.LARGE_CAP),
    ("largecap", Bucket.LARGE_CAP),
    ("cash", Bucket.CASH),
    ("bonds", Bucket.BONDS),
    ("bond", Bucket.BONDS),
    ("fixed_income", Bucket.BONDS),
    ("equity", Bucket.OTHER_EQUITY),
    ("equities", Bucket.OTHER_EQUITY),
    ("stock", Bucket.OTHER_EQUITY),
)


def _norm(tag: object) -> str:
    return str(tag).strip().lower().replace("-", "_").replace(" ", "_")


def bucket_of(ticker: str, tags: Iterable[object] | None) -> Bucket:
    """The bucket a ticker falls in, from its tags (``CASH`` also by its name)."""
    names = {_norm(t) for t in (tags or ())}
    for tag, bucket in _TAG_BUCKETS:
        if tag in names:
            return bucket
    return Bucket.CASH if _norm(ticker) == "cash" else Bucket.OTHER


@dataclass(frozen=True)
class SizeSplit:
    """Weights summed by bucket; ``weights[b]`` is the fraction of the portfolio in ``b``."""

    weights: Mapping[Bucket, float]

    @property
    def equity(self) -> float:
        """Total equity weight (small + mid + large + other equity)."""
        return sum(w for b, w in self.weights.items() if b.is_equity)

    @property
    def small_cap_share_of_equity(self) -> float | None:
        """Small-cap weight over equity weight (``None`` when there is no equity)."""
        eq = self.equity
        return share_of(self.weights.get(Bucket.SMALL_CAP, 0.0), eq)


def size_split(weights: Mapping[str, object], tags: Mapping[str, Iterable[object]]) -> SizeSplit:
    """Sum ``weights`` (ticker -> fraction) by the bucket of each ticker's tags."""
    out = dict.fromkeys(Bucket, 0.0)
    for ticker, w in weights.items():
        x = num(w)
        if x is not None:
            out[bucket_of(ticker, tags.get(ticker))] += x
    return SizeSplit(weights=out)

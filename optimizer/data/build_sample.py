"""Build the bundled sample dataset: ``python -m optimizer.data.build_sample``.

Sources (both shipped inside PyPI packages under the NCSA licence; install them with
``pip install 'capalloc[sample]'``):

* ``linearmodels.datasets.french.load()`` — Ken French's monthly factors and 3x3 size/value
  portfolios, 1949-01..2017-03, returns as fractions;
* ``arch.data.default.load()`` — Moody's AAA and BAA corporate bond yields, percent, monthly.

Writes ``optimizer/data/sample/prices.csv`` (monthly total-return index levels, every series
scaled to 100 on the last month end), ``rates.csv`` (percent) and ``PROVENANCE.md``.
Re-running it reproduces the files byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

BOND_DURATION = 8.0  # modified duration (years) of the long investment-grade bond proxy
OUT_DIR = Path(__file__).resolve().parent / "sample"

# name -> French 3x3 size/value portfolios averaged (S1 small, S3 mid, S5 large)
EQUITY_SLEEVES = {
    "LARGE": ("S5V1", "S5V3", "S5V5"),
    "MID": ("S3V1", "S3V3", "S3V5"),
    "SMALL": ("S1V1", "S1V3", "S1V5"),
}
PRICE_COLUMNS = ("LARGE", "MID", "SMALL", "MKT", "BOND", "CASH")
RATE_COLUMNS = ("AAA", "BAA", "TBILL")


def _month_end(index: pd.Index) -> pd.DatetimeIndex:
    return (
        pd.DatetimeIndex(pd.to_datetime(index)).to_period("M").to_timestamp(how="end").normalize()
    )


def monthly_returns(french: pd.DataFrame, yields: pd.DataFrame) -> pd.DataFrame:
    """Simple monthly returns of the six sleeves, shape (n_months, 6), month-end index.

    BOND: ``y_{t-1}/1200 - D * (y_t - y_{t-1}) / 100`` from the AAA yield ``y`` (percent),
    i.e. a month of carry plus the price effect of the yield change at duration ``D``.
    """
    f = french.set_index(_month_end(french["dates"])).drop(columns="dates")
    aaa = yields["AAA"].set_axis(_month_end(yields.index))
    bond = aaa.shift(1) / 1200.0 - BOND_DURATION * aaa.diff() / 100.0
    out = pd.DataFrame(index=f.index)
    for name, cols in EQUITY_SLEEVES.items():
        out[name] = f[list(cols)].mean(axis=1)
    out["MKT"] = f["MktRF"] + f["RF"]
    out["BOND"] = bond.reindex(f.index)
    out["CASH"] = f["RF"]
    if out.isna().to_numpy().any():
        raise RuntimeError("source data has gaps over the French sample window")
    return out[list(PRICE_COLUMNS)]


def index_levels(returns: pd.DataFrame, last: float = 100.0) -> pd.DataFrame:
    """Total-return index levels that end at ``last`` on the final month end.

    Ending every series at 100 gives each "share" an ETF-like price on the sample's last
    date, so whole-share plans on the sample look like real ones.
    """
    start = returns.index[0] - pd.offsets.MonthEnd(1)
    growth = (1.0 + returns).cumprod()
    first = pd.DataFrame([[1.0] * returns.shape[1]], index=[start], columns=returns.columns)
    out = pd.concat([first, growth])
    out = out * (last / out.iloc[-1])
    out.index = pd.DatetimeIndex(out.index, name="date")
    return out


def rate_levels(french: pd.DataFrame, yields: pd.DataFrame) -> pd.DataFrame:
    """AAA, BAA (Moody's, percent) and TBILL (French RF annualised, percent) by month end."""
    f = french.set_index(_month_end(french["dates"]))
    y = yields.set_axis(_month_end(yields.index))
    out = pd.DataFrame(index=pd.DatetimeIndex(f.index, name="date"))
    out["AAA"] = y["AAA"].reindex(f.index)
    out["BAA"] = y["BAA"].reindex(f.index)
    out["TBILL"] = 12.0 * f["RF"] * 100.0
    return out[list(RATE_COLUMNS)]


PROVENANCE = """\
# Bundled sample data: provenance and licence

Built by `python -m optimizer.data.build_sample` (optimizer/data/build_sample.py); do not
edit by hand.

## Sources
- Kenneth R. French Data Library (Tuck School of Business, Dartmouth), monthly Fama-French
  factors and 3x3 portfolios formed on size and book-to-market, as redistributed in the
  `linearmodels` package (`linearmodels.datasets.french`, NCSA licence), {f_first}..{f_last}.
- Moody's Seasoned AAA and BAA corporate bond yields (monthly, percent), as redistributed
  in the `arch` package (`arch.data.default`, NCSA licence; originally from FRED).

## Series
prices.csv — monthly total-return index levels from {base}, scaled so every series is 100
on the last date (an ETF-like share price for whole-share plans):
- LARGE: mean of the large-cap portfolios S5V1, S5V3, S5V5
- MID: mean of S3V1, S3V3, S3V5; SMALL: mean of S1V1, S1V3, S1V5
- MKT: the market (Mkt-RF + RF)
- BOND: a long investment-grade bond proxy from the AAA yield y (percent):
  monthly return = y(t-1)/1200 - D * (y(t) - y(t-1))/100 with modified duration D = {duration:g}.
  Moody's yields are monthly averages, so this is an approximation of a bond index.
- CASH: the one-month T-bill return (French RF)

rates.csv — percent, month ends {f_first}..{f_last}: AAA, BAA (Moody's), TBILL (12 x RF x 100).

Monthly data: annualise with 12 periods per year. Dates are month ends.
"""


def build(out_dir: Path = OUT_DIR) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write prices.csv, rates.csv and PROVENANCE.md into ``out_dir``; return the frames."""
    from arch.data import default
    from linearmodels.datasets import french

    ff, yields = french.load(), default.load()
    prices = index_levels(monthly_returns(ff, yields))
    rates = rate_levels(ff, yields)
    out_dir.mkdir(parents=True, exist_ok=True)
    prices.to_csv(out_dir / "prices.csv", float_format="%.10g", date_format="%Y-%m-%d")
    rates.to_csv(out_dir / "rates.csv", float_format="%.6g", date_format="%Y-%m-%d")
    text = PROVENANCE.format(
        f_first=f"{rates.index[0]:%Y-%m}",
        f_last=f"{rates.index[-1]:%Y-%m}",
        base=f"{prices.index[0]:%Y-%m-%d}",
        duration=BOND_DURATION,
    )
    (out_dir / "PROVENANCE.md").write_text(text, encoding="utf-8")
    return prices, rates


if __name__ == "__main__":
    p, r = build()
    print(
        f"wrote {OUT_DIR}: prices {p.shape} {p.index[0]:%Y-%m}..{p.index[-1]:%Y-%m}, "
        f"rates {r.shape}"
    )

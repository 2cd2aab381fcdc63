"""Files built from the real Yahoo exports in ../shared/data, in the layouts users bring.

Used by the tests and by ``benchmarks/bench_cli_realdata.py``; nothing here is copied into
the repository: every file is written to a temporary folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

# real price series (ETFs and indexes) that the 20-stock table is made from
BASES = ("SPY", "IWM", "QQQ", "TLT", "BND", "LQD", "HYG", "^RUT", "^VIX")
STOCKS = (
    "AAPL", "MSFT", "AMZN", "GOOG", "META", "NVDA", "JPM", "XOM", "JNJ", "PG",
    "KO", "PEP", "WMT", "HD", "DIS", "INTC", "CSCO", "ORCL", "BA", "CAT",
)  # fmt: skip


def yahoo_frame(shared_data: Path, ticker: str) -> pd.DataFrame:
    """One real Yahoo export (Date,Close,High,Low,Open,Volume) indexed by date."""
    frame = pd.read_csv(shared_data / "yahoo" / f"{ticker}.csv", index_col="Date")
    frame.index = pd.DatetimeIndex(frame.index, name="Date")
    return frame


def closes(shared_data: Path, tickers: tuple[str, ...]) -> pd.DataFrame:
    """Close columns of several real exports on the dates all of them have."""
    cols = {t: yahoo_frame(shared_data, t)["Close"] for t in tickers}
    return pd.DataFrame(cols).dropna()


def stock_table(shared_data: Path) -> pd.DataFrame:
    """20 price columns named like stocks, no SPY: the nine real series renamed, then eleven
    geometric blends sqrt(a * b) of pairs of them (positive, realistic co-movement)."""
    base = closes(shared_data, BASES)
    cols: dict[str, pd.Series] = {}
    pairs = [(i, j) for i in range(len(BASES)) for j in range(i + 1, len(BASES))]
    for k, name in enumerate(STOCKS):
        if k < len(BASES):
            cols[name] = base[BASES[k]]
        else:
            i, j = pairs[(k - len(BASES)) * 3 % len(pairs)]
            cols[name] = np.sqrt(base[BASES[i]] * base[BASES[j]])
    return pd.DataFrame(cols, index=base.index.rename("date"))


def write_stock_table(shared_data: Path, path: Path) -> list[str]:
    """Write the 20-stock wide CSV at ``path``; returns its tickers."""
    table = stock_table(shared_data)
    table.to_csv(path, float_format="%.6f")
    return list(table.columns)


def cut_copy(shared: Path, folder: Path, tickers: tuple[str, ...], ends: dict[str, str]) -> Path:
    """The real Yahoo files of ``tickers`` in ``folder``, those in ``ends`` cut after
    their date (a file that stopped updating)."""
    folder.mkdir(parents=True, exist_ok=True)
    for t in tickers:
        frame = pd.read_csv(shared / "yahoo" / f"{t}.csv")
        frame = frame[frame["Date"] <= ends[t]] if t in ends else frame
        frame.to_csv(folder / f"{t}.csv", index=False)
    return folder

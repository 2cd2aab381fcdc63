"""``capalloc backtest`` through a real subprocess (bundled sample data, offline)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.conftest import ROOT, run_cli

EXAMPLE = ROOT / "examples" / "backtest" / "account.toml"


def test_json_is_one_document_and_the_files_are_written(tmp_path: Path) -> None:
    out_csv, out_html = tmp_path / "path.csv", tmp_path / "report.html"
    r = run_cli("backtest", "--config", str(EXAMPLE), "--start", "2008-06", "--end", "2009-05",
                "--benchmark", "LARGE=0.6,BOND=0.4", "--format", "json", "--csv", str(out_csv),
                "--html", str(out_html))  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc["metrics"]) == {"policy", "LARGE=0.6,BOND=0.4", "buy-and-hold"}
    assert "2008-09 financial crisis" in doc["scenarios"]["policy"]
    assert len(doc["path"]["policy"]) == 12
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 3 * 12
    last = [r for r in rows if r["strategy"] == "policy"][-1]
    assert float(last["value"]) == doc["metrics"]["policy"]["final_value"]
    html = out_html.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "<script" not in html
    for name in doc["metrics"]:  # one line per strategy in each of the three line charts
        assert html.count('<polyline fill="none" stroke') >= 9
        assert f'data-series="{name}"' in html
    assert "2008-09 financial crisis" in html
    # nothing but the document's warnings on stderr, each once
    shown = [f"capalloc: warning: {' '.join(w.split())}" for w in doc["warnings"][:20]]
    more = len(doc["warnings"]) > 20
    assert r.stderr.splitlines()[: len(shown)] == shown
    assert len(r.stderr.splitlines()) == len(shown) + more


def test_start_after_end_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "path.csv"
    r = run_cli("backtest", "--config", str(EXAMPLE), "--start", "2010-05", "--end", "2010-01",
                "--csv", str(out))  # fmt: skip
    assert r.returncode == 3
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1
    assert "--end" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_unknown_benchmark_ticker_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    r = run_cli("backtest", "--config", str(EXAMPLE), "--start", "2010-01", "--end", "2010-03",
                "--benchmark", "SPY=0.6,BOND=0.4", "--html", str(out))  # fmt: skip
    assert r.returncode == 3
    assert len(r.stderr.strip().splitlines()) == 1
    assert "--benchmark" in r.stderr and "SPY" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_malformed_month_and_end_after_the_data(tmp_path: Path) -> None:
    r = run_cli("backtest", "--config", str(EXAMPLE), "--start", "2010/01", "--end", "2010-03")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = run_cli("backtest", "--config", str(EXAMPLE), "--start", "2016-01", "--end", "2018-01")
    assert r.returncode == 3
    assert "the data ends 2017-03-31" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def _on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal: (exit code, stdout, what the terminal got)."""
    import os
    import pty
    import subprocess
    import sys

    main, tty = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "optimizer", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=tty, text=True)  # fmt: skip
    os.close(tty)
    out, _ = proc.communicate(timeout=300)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    return proc.returncode, out, b"".join(chunks).decode(errors="replace")


def test_progress_bar_on_a_terminal_only_for_tables() -> None:
    args = ("backtest", "--config", str(EXAMPLE), "--start", "2010-01", "--end", "2010-04")
    code, out, err = _on_a_terminal(*args, "--format", "json")
    assert code == 0 and err == ""
    json.loads(out)
    code, out, err = _on_a_terminal(*args)
    assert code == 0 and "months" in err and "backtest 2010-01..2010-04" in out


def test_bad_tax_rates_and_starting_cash_are_one_line() -> None:
    base = ("backtest", "--config", str(EXAMPLE), "--start", "2010-01", "--end", "2010-03")
    for extra, key in ((("--tax-rates", "0.4"), "--tax-rates"),
                       (("--tax-rates", "0.4,nan"), "--tax-rates"),
                       (("--initial-cash", "0"), "--initial-cash"),
                       (("--csv", "/nonexistent-folder/path.csv"), "--csv")):  # fmt: skip
        r = run_cli(*base, *extra)
        assert r.returncode == 3, (extra, r.stderr)
        assert key in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert r.stdout == ""


def test_a_substitute_the_data_lacks_is_one_line_naming_its_key(tmp_path: Path) -> None:
    """A [tax.harvest] substitute is fetched with the universe (a harvest buys it): one the
    data source lacks is a config error naming file, key and ticker, and nothing written."""
    folder = tmp_path / "acct"
    folder.mkdir()
    src = ROOT / "examples" / "taxaware"
    (folder / "holdings.csv").write_text((src / "holdings.csv").read_text())
    text = (src / "account.toml").read_text()
    (folder / "account.toml").write_text(text.replace('SMALL = ["MKT"]', 'SMALL = ["VTWO"]'))
    out = tmp_path / "path.csv"
    r = run_cli("backtest", "--config", str(folder / "account.toml"), "--start", "2017-01",
                "--end", "2017-01", "--csv", str(out))  # fmt: skip
    assert r.returncode == 3 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert "account.toml" in r.stderr and "tax.harvest.substitutes.SMALL='VTWO'" in r.stderr
    assert not out.exists()


def test_a_start_before_the_data_start_names_both(tmp_path: Path) -> None:
    config = tmp_path / "account.toml"
    text = EXAMPLE.read_text().replace(
        'source = "sample"\n', 'source = "sample"\nstart = 2010-01-01\n'
    )
    config.write_text(text)
    out = tmp_path / "path.csv"
    res = run_cli("backtest", "--config", str(config), "--start", "2009-06", "--end", "2010-06",
                  "--csv", str(out))  # fmt: skip
    assert res.returncode == 3, res.stderr
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and "--start='2009-06'" in line
    assert "(2009-06-01) is not after the account's [data] start 2010-01-01" in line
    assert not out.exists()


def test_the_table_title_gives_the_dates_the_run_covers() -> None:
    # the sample is monthly: November 2015's first session is Monday 2015-11-02, and
    # December's orders fill at the next close of the data, the month's end 2015-12-31
    res = run_cli("backtest", "--config", str(EXAMPLE), "--start", "2015-11", "--end", "2015-12")
    assert res.returncode == 0, res.stderr
    assert "backtest 2015-11..2015-12 (2 months, 2015-11-02 to 2015-12-31)" in res.stdout

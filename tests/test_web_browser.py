"""The what-if page in a real browser: ``capalloc serve`` as a subprocess on a free local
port, driven by Playwright with Debian's Chromium (``/usr/bin/chromium``; no browser
download). Skipped without that browser or the playwright package."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
sync_api = pytest.importorskip("playwright.sync_api")

WHATIF = ROOT / "examples" / "whatif" / "account.toml"
SP = "#f-shock--sp500-correction-6200--0"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    port = _free_port()
    cmd = [sys.executable, "-m", "optimizer", "serve", "--config", str(WHATIF), "--port",
           str(port), "--out", str(tmp / "out"), "--scenario-dir", str(tmp / "scen")]  # fmt: skip
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url + "/static/page.css", timeout=2).read()
            break
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("capalloc serve did not start: " + (tmp / "server.log").read_text())
            time.sleep(0.3)
    yield {"url": url, "tmp": tmp, "log": tmp / "server.log"}
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    pg = browser.new_page(viewport={"width": 1200, "height": 900})
    pg.goto(server["url"] + "/")
    yield pg
    pg.close()


def weights_on(page) -> dict[str, float]:
    cells = page.eval_on_selector_all(
        "#weights td[data-ticker]", "els => els.map(e => [e.dataset.ticker, e.dataset.value])"
    )
    return {t: float(v) for t, v in cells}


def api(server, values: dict[str, str]) -> dict:
    body = urllib.parse.urlencode(values).encode()
    with urllib.request.urlopen(server["url"] + "/api/update", data=body, timeout=30) as r:
        return json.loads(r.read())


def change(page, selector: str, value: str) -> None:
    """Type a value and leave the field, as a person does (fires ``change``)."""
    page.fill(selector, value)
    page.press(selector, "Tab")


def test_moving_the_sp500_changes_the_weights_as_the_api_says(page, server):
    before = weights_on(page)
    row = "#scenarios tr[data-scenario='sp500-correction-6200'] td:nth-child(4)"
    current_before = page.inner_text(row)
    change(page, SP, "9000")
    page.wait_for_function(
        "b => JSON.stringify([...document.querySelectorAll('#weights td[data-ticker]')]"
        ".map(e => e.dataset.value)) !== b",
        arg=json.dumps([f"{before[t]!r}" for t in before]),
    )
    page.wait_for_function(f"() => document.querySelector(\"{row}\").innerText !== "
                           f"{json.dumps(current_before)}")  # fmt: skip
    note = page.inner_text("#sn-f-shock--sp500-correction-6200--0")
    assert note.startswith("+32.4% from 6,800; extreme")  # the level as a move, its odds
    after = weights_on(page)
    assert max(abs(after[t] - before[t]) for t in before) > 0.01
    expected = api(server, {"shock:sp500-correction-6200:0": "9000"})["weights"]
    assert after.keys() == expected.keys()
    for t, w in expected.items():
        assert after[t] == pytest.approx(w, abs=1e-12)
    assert "ms" in page.inner_text("#answer")


def test_an_infeasible_limit_shows_the_diagnosis(page):
    change(page, "#f-loss--tariff-shock", "0.5")
    page.wait_for_selector("#infeasible")
    text = page.inner_text("#infeasible")
    assert "No allocation meets these limits" in text and "tariff-shock loss <= 0.5%" in text


def test_bad_input_gets_an_inline_message_beside_its_field(page):
    change(page, "#f-prob--fed-easing", "1.5")
    msg = page.wait_for_selector("#msg-f-prob--fed-easing:not(:empty)")
    assert "between 0 and 1" in msg.inner_text() and "1.5" in msg.inner_text()
    assert "between 0 and 1" in page.inner_text("#error")
    change(page, "#f-prob--fed-easing", "0.3")  # fixed: the message goes away
    page.wait_for_selector("#msg-f-prob--fed-easing:empty", state="attached")
    page.wait_for_selector("#weights")


def test_save_as_scenario_writes_a_file_capalloc_validates(page, server):
    change(page, SP, "5900")
    page.fill("#save-id", "sp-5900-browser")
    page.select_option("#save-scenario", "sp500-correction-6200")
    page.click("#save")
    path = page.wait_for_selector("#saved-path").inner_text()
    assert Path(path) == server["tmp"] / "scen" / "sp-5900-browser.toml"
    res = run_cli("scenarios", "validate", path)
    assert res.returncode == 0, res.stderr
    assert "5900" in Path(path).read_text()


def test_keyboard_only_and_a_phone_width_window(browser, server):
    pg = browser.new_page(viewport={"width": 390, "height": 800})
    pg.goto(server["url"] + "/")
    unlabelled = pg.eval_on_selector_all(
        "input, select",
        "els => els.filter(e => !document.querySelector(`label[for='${e.id}']`)).map(e => e.name)",
    )
    assert unlabelled == []
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    pg.focus("#f-prob--fed-easing")
    for _ in range(30):  # Tab reaches the buttons
        pg.keyboard.press("Tab")
        if pg.evaluate("document.activeElement.id") == "propose":
            break
    assert pg.evaluate("document.activeElement.id") == "propose"
    pg.close()


def test_the_server_logs_one_line_per_request(server):
    lines = server["log"].read_text().splitlines()
    requests = [ln for ln in lines if " ms" in ln and ("GET " in ln or "POST " in ln)]
    assert requests and all("Traceback" not in ln for ln in lines)
    assert all(ln.split()[-1] == "ms" for ln in requests)

"""The what-if page's API (``capalloc serve``) through Starlette's TestClient: an update
equals the same policy and shocks run through the workflow functions from account and
scenario files; "Save as scenario" writes a file the scenario loader reads back; "Make
proposal" writes what ``capalloc propose`` writes; bad input is a 422 that names the field
and the value, never a 500."""

from __future__ import annotations

import json
import logging
import re
import tomllib
from pathlib import Path

import pytest
import tomli_w
from starlette.testclient import TestClient

from optimizer.scenario.library import builtin_dir
from optimizer.scenario.model import load_scenario
from optimizer.web import create_app
from optimizer.workflows import propose, whatif
from optimizer.workflows.live import LiveSession
from tests.conftest import ROOT, run_cli

WHATIF = ROOT / "examples" / "whatif" / "account.toml"
PROPOSAL = ROOT / "examples" / "proposal" / "account.toml"
SP = "shock:sp500-correction-6200:0"


@pytest.fixture(scope="module")
def session() -> LiveSession:
    return LiveSession(WHATIF).start()


@pytest.fixture
def client(session, tmp_path) -> TestClient:
    app = create_app(session, out_dir=tmp_path / "out", scenario_dir=tmp_path / "scen")
    return TestClient(app, raise_server_exceptions=False)


def edited_account(tmp: Path, source: Path, edit_toml, scenario_edits: dict[str, tuple]) -> Path:
    """The account file with ``edit_toml`` applied to its TOML, and the scenarios of
    ``scenario_edits`` (id -> (text, replacement)) rewritten in a [scenarios] dir."""
    doc = tomllib.loads(source.read_text())
    doc["account"]["holdings"] = str(source.parent / doc["account"]["holdings"])
    scen = tmp / "scenario-files"
    scen.mkdir()
    doc["scenarios"]["dir"] = str(scen)
    edit_toml(doc)
    for sid, (old, new) in scenario_edits.items():
        text = (builtin_dir() / f"{sid}.toml").read_text()
        assert old in text
        (scen / f"{sid}.toml").write_text(text.replace(old, new))
    path = tmp / "account.toml"
    path.write_text(tomli_w.dumps(doc))
    return path


def test_an_untouched_page_is_the_account_file(client):
    got = client.post("/api/update", data={}).json()
    ref = propose(WHATIF).run.allocation.weights
    assert got["infeasible"] is None
    assert got["weights"].keys() == ref.keys()
    for t, w in ref.items():
        assert got["weights"][t] == pytest.approx(w, abs=1e-12)


def test_an_update_equals_the_workflow_on_edited_files(client, tmp_path):
    """Shocks, a probability, risk aversion, the small-cap band and a loss cap changed on
    the page give the weights and scenario returns that ``propose`` and ``whatif`` give on
    account and scenario files saying the same (to 1e-9)."""
    values = {
        SP: "9000",
        "shock:fed-easing:0": "-75",
        "prob:fed-easing": "0.25",
        "risk_aversion": "3",
        "small_cap_max": "40",
        "loss:tariff-shock": "8",
    }
    got = client.post("/api/update", data=values).json()
    assert got["infeasible"] is None

    def edit(doc):
        doc["scenarios"]["use"][0]["probability"] = 0.25
        doc["objective"]["risk_aversion"] = 3
        groups = doc["constraints"]["groups"]
        groups[groups.index("small_cap <= 0.5 * equity")] = "small_cap <= 0.4 * equity"
        doc["constraints"]["scenario_loss"] = ["tariff-shock loss <= 8%"]

    path = edited_account(
        tmp_path,
        WHATIF,
        edit,
        {
            # as the page saves it: the levels on the way down are not on the way to 9,000
            "sp500-correction-6200": ("level = 6200\nintermediate = [6550]", "level = 9000"),
            "fed-easing": ("change_bp = -50", "change_bp = -75"),
        },
    )
    ref = propose(path).run.allocation.weights
    for t, w in ref.items():
        assert got["weights"][t] == pytest.approx(w, abs=1e-9)
    doc = whatif(path)
    for sid, s in got["scenarios"].items():
        assert s["proposed_return"] == pytest.approx(doc.proposed_return[sid], abs=1e-9)
        assert s["current_return"] == pytest.approx(doc.current_return[sid], abs=1e-9)
    assert got["regret"]["robust"] == pytest.approx(doc.regret["robust"], abs=1e-9)
    base = client.post("/api/update", data={}).json()["weights"]
    assert max(abs(base[t] - got["weights"][t]) for t in base) > 1e-3  # the edits mattered


def test_the_sp500_level_moves_the_scenario_return(client):
    """A deeper correction makes that scenario's return worse for the same portfolio."""
    lo = client.post("/api/update", data={SP: "5500"}).json()["scenarios"]
    hi = client.post("/api/update", data={SP: "6600"}).json()["scenarios"]
    sid = "sp500-correction-6200"
    assert lo[sid]["current_return"] < hi[sid]["current_return"] - 0.01


def test_save_as_scenario_round_trips_through_the_loader(client, tmp_path):
    res = client.post(
        "/api/save-scenario",
        data={
            SP: "5900",
            "prob:sp500-correction-6200": "0.15",
            "save_scenario": "sp500-correction-6200",
            "save_id": "sp-5900",
        },
    )
    assert res.status_code == 200, res.text
    path = Path(res.json()["path"])
    assert path == tmp_path / "scen" / "sp-5900.toml"
    saved = load_scenario(path)
    original = load_scenario(builtin_dir() / "sp500-correction-6200.toml")
    assert saved.id == "sp-5900" and saved.shocks[0].level == 5900
    assert saved.probability == 0.15
    assert saved.shocks[0].reference == original.shocks[0].reference
    assert saved.narrative == original.narrative and saved.regime == original.regime
    cli = run_cli("scenarios", "validate", str(path))
    assert cli.returncode == 0, cli.stderr
    res = client.post(
        "/api/save-scenario",
        data={"shock:tariff-shock:0": "-20", "save_scenario": "tariff-shock", "save_id": "t20"},
    )
    tariff = load_scenario(res.json()["path"])
    original = load_scenario(builtin_dir() / "tariff-shock.toml")
    assert tariff.shocks[0].return_pct == -20 and tariff.stress == original.stress
    assert tariff.horizon == original.horizon and tariff.sources == original.sources
    again = client.post(
        "/api/save-scenario", data={"save_scenario": "fed-easing", "save_id": "sp-5900"}
    )
    assert again.status_code == 422 and "exists" in again.json()["error"]["message"]
    bad = client.post(
        "/api/save-scenario", data={"save_scenario": "fed-easing", "save_id": "Bad Id"}
    )
    assert bad.status_code == 422 and "Bad Id" in json.dumps(bad.json())


def assert_same(a, b, where: str) -> None:
    """Equal documents: the same keys, lists and text; numbers to 1e-9 (the last bits
    of a solve differ between processes); timings are not compared."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            if "seconds" not in k:  # timings
                assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(b, str):
        assert a == pytest.approx(b, abs=1e-9), where
    else:
        assert a == b, where


def _without_timestamps(text: str) -> str:
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", "<generated>", text)
    return re.sub(r"\d{1,2} [A-Z][a-z]+ \d{4},? \d\d:\d\d", "<generated>", text)


def test_make_proposal_writes_what_capalloc_propose_writes(tmp_path):
    session = LiveSession(PROPOSAL).start()
    app = create_app(session, out_dir=tmp_path / "page", scenario_dir=tmp_path / "scen")
    res = TestClient(app).post("/api/propose", data={})
    assert res.status_code == 200, res.text
    cli = run_cli("propose", "--config", str(PROPOSAL), "--out", str(tmp_path / "cli"))
    assert cli.returncode == 0, cli.stderr
    names = sorted(p.name for p in (tmp_path / "cli").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "page").iterdir())
    assert names == ["orders.csv", "proposal.json", "report.html"]
    for name in ("report.html", "orders.csv"):
        page = _without_timestamps((tmp_path / "page" / name).read_text())
        ref = _without_timestamps((tmp_path / "cli" / name).read_text())
        assert page == ref, name
    page_doc = json.loads((tmp_path / "page" / "proposal.json").read_text())
    cli_doc = json.loads((tmp_path / "cli" / "proposal.json").read_text())
    page_doc.pop("generated"), cli_doc.pop("generated")
    assert_same(page_doc, cli_doc, "proposal.json")
    served = TestClient(app).get("/files/report.html")
    assert served.status_code == 200 and "<html" in served.text


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"shock:fed-easing:1": "abc"}, "shock:fed-easing:1", "not a number"),
        ({SP: "0"}, SP, "greater than 0"),
        ({"shock:fed-easing:1": "10001"}, "shock:fed-easing:1", "10000"),
        ({"prob:fed-easing": "1.5"}, "prob:fed-easing", "between 0 and 1"),
        ({"prob:fed-easing": "0.9"}, "prob:fed-easing", "above 1"),
        ({"risk_aversion": "-1"}, "risk_aversion", "above 0"),
        ({"small_cap_max": "150"}, "small_cap_max", "100 %"),
        ({"equity_min": "90", "equity_max": "40"}, "equity_min", "above the maximum"),
        ({"loss:tariff-shock": "nan"}, "loss:tariff-shock", "finite"),
        ({"no-such-field": "1"}, "no-such-field", "unknown field"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_value(client, values, field, words):
    res = client.post("/api/update", data=values)
    assert res.status_code == 422, res.text
    error = res.json()["error"]
    assert error["field"] == field
    assert words in error["message"]
    assert values[field] in error["message"] or values[field] in str(error["value"])
    page = client.post("/update", data=values)  # the htmx fragment: inline, same words
    assert page.status_code == 422 and words in page.text and "Traceback" not in page.text


def test_a_body_that_is_not_a_form_or_json_is_a_422(client):
    res = client.post(
        "/api/update", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert res.status_code == 422 and "JSON" in res.json()["error"]["message"]
    res = client.post("/api/update", content=b"\xff\xfe=1")
    assert res.status_code == 422


def test_an_extreme_but_stateable_shock_answers_with_its_plausibility(client):
    """A far shock the model can still carry: the page answers and says how implausible
    it is (or why no allocation fits), without an error."""
    res = client.post("/api/update", data={"shock:fed-easing:1": "300"})
    assert res.status_code == 200
    got = res.json()
    assert got["shocks"]["shock:fed-easing:1"].startswith("+300 bp; ")
    assert got["shocks"]["shock:fed-easing:0"] == "-50 bp; ordinary (within 1 sd)"
    if got["infeasible"] is None:
        assert "1 in" in got["scenarios"]["fed-easing"]["plausibility"]
        assert got["scenarios"]["fed-easing"]["mahalanobis"] > 3


def test_a_shock_beyond_a_total_loss_is_a_clear_error_not_a_number(client):
    """10,000 bp is the largest change a scenario file may state; on the sample it takes
    an asset's expected return below -100 %: a 422 saying so, not a -159 % in a table."""
    res = client.post("/api/update", data={"shock:fed-easing:1": "10000"})
    assert res.status_code == 422
    error = res.json()["error"]
    assert "beyond a total loss" in error["message"] and error["value"] == "fed-easing"


def test_an_infeasible_limit_says_which_constraints_conflict(client):
    res = client.post("/api/update", data={"loss:tariff-shock": "0.5"})
    assert res.status_code == 200
    why = res.json()["infeasible"]
    assert "tariff-shock loss <= 0.5%" in why and "must be loosened by" in why
    page = client.post("/update", data={"loss:tariff-shock": "0.5"})
    assert 'id="infeasible"' in page.text and "tariff-shock loss" in page.text


def test_the_page_and_its_assets_are_served_by_the_app(client):
    page = client.get("/", params={SP: "6000"})
    assert page.status_code == 200
    assert 'src="/static/htmx.min.js"' in page.text and "http" not in re.sub(
        r'(xmlns|href="/files)[^ >]*', "", page.text.split("<body>")[1]
    )
    assert 'value="6000"' in page.text and "<svg" in page.text
    for c in ('for="f-prob--fed-easing"', 'id="f-prob--fed-easing"'):
        assert c in page.text  # every control has its label
    js = client.get("/static/htmx.min.js")
    assert js.status_code == 200 and "htmx" in js.text[:200]
    assert client.get("/static/page.css").status_code == 200
    assert client.get("/files/../account.toml").status_code == 404


def test_one_log_line_per_request(client, caplog):
    with caplog.at_level(logging.INFO, logger="capalloc.serve"):
        client.post("/api/update", data={SP: "6100"})
        client.post("/api/update", data={SP: "x"})
    lines = [r.getMessage() for r in caplog.records if r.name == "capalloc.serve"]
    assert len(lines) == 2
    assert re.fullmatch(r"POST /api/update 200 [\d.]+ ms", lines[0])
    assert re.fullmatch(r"POST /api/update 422 [\d.]+ ms", lines[1])


def test_a_linked_state_with_a_bad_value_shows_the_page_with_the_message(client):
    page = client.get("/", params={"prob:fed-easing": "abc"})
    assert page.status_code == 422
    assert "not a number" in page.text and 'value="abc"' in page.text
    assert 'id="f-prob--fed-easing"' in page.text  # the controls are still there


def test_serve_with_a_bad_account_file_is_one_line_and_exit_3(tmp_path):
    bad = tmp_path / "account.toml"
    bad.write_text('[account]\nid = "x"\n[universe.assets.A]\ntags = ["equity"]\n')
    res = run_cli("serve", "--config", str(bad), "--port", str(_free_port()))
    assert res.returncode == 3, res.stderr
    assert res.stderr.count("\n") == 1 and "scenarios.use" in res.stderr
    res = run_cli("serve", "--config", str(bad), "--port", "70000")
    assert res.returncode == 2 and "70000" in res.stderr


def _free_port() -> int:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


def test_serve_on_a_port_in_use_is_one_line_before_the_model_is_fitted():
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        res = run_cli("serve", "--config", str(WHATIF), "--port", str(port), timeout=60)
    assert res.returncode == 3, res.stderr
    assert res.stderr.count("\n") == 1 and f"127.0.0.1:{port}" in res.stderr
    assert "cannot listen" in res.stderr and res.stdout == ""


def test_updates_reuse_the_fitted_model_and_the_compiled_problem(session):
    """Shock and probability changes fit nothing and compile nothing: the factor models and
    the compiled problems are those of the start (a new policy compiles once, then is
    re-used)."""
    engine = session.model_.engine
    models = dict(engine.models_)
    session.update({SP: "6100"})
    compiled = session.pipeline.compilations
    for level in ("5800", "6400", "7000", "9000"):
        session.update({SP: level, "prob:fed-easing": "0.2"})
    assert session.pipeline.compilations == compiled
    assert session.model_.engine is engine and engine.models_ == models
    session.update({"risk_aversion": "2.5"})
    assert session.pipeline.compilations == compiled + 1
    session.update({"risk_aversion": "2.5", SP: "6000"})
    assert session.pipeline.compilations == compiled + 1


def test_another_site_can_neither_write_files_nor_read_the_account(session, tmp_path):
    """A page open elsewhere in the user's browser posts a form (text/plain, no preflight)
    or, after DNS rebinding, asks by a name of its own: refused (403), nothing written.
    The page itself (same Origin) and scripts (no Origin) are answered."""
    from optimizer.web.app import local_hosts

    out, scen = tmp_path / "out", tmp_path / "scen"
    app = create_app(session, out_dir=out, scenario_dir=scen,
                     hosts=local_hosts("127.0.0.1", 8765))  # fmt: skip
    client = TestClient(app, base_url="http://127.0.0.1:8765", raise_server_exceptions=False)
    evil = {"Origin": "https://evil.example", "content-type": "text/plain"}
    save = "save_scenario=fed-easing&save_id=evil"
    for path, body in (("/propose", "equity_min=80"), ("/api/propose", "equity_min=80"),
                       ("/save-scenario", save), ("/api/save-scenario", save)):  # fmt: skip
        res = client.post(path, content=body, headers=evil)
        assert res.status_code == 403, (path, res.text)
        assert "another site" in res.json()["error"]["message"]
    res = client.post("/api/update", json={}, headers={"Sec-Fetch-Site": "cross-site"})
    assert res.status_code == 403
    assert not out.exists() and not scen.exists()
    res = client.get("/api/update", headers={"Host": "evil.example.com"})
    assert res.status_code == 403 and "host" in res.json()["error"]["message"]
    own = {"Origin": "http://127.0.0.1:8765"}
    assert client.post("/api/update", json={}, headers=own).status_code == 200
    assert client.get("/", headers={"Host": "localhost:8765"}).status_code == 200
    res = client.post("/api/save-scenario", json={"save_scenario": "fed-easing",
                                                  "save_id": "mine"})  # fmt: skip
    assert res.status_code == 200 and (scen / "mine.toml").exists()
    assert local_hosts("0.0.0.0", 8765) is None  # bound to the network on purpose


def test_a_deeply_nested_body_and_an_overlong_scenario_id_are_422s_not_500s(client):
    deep = '{"a":' + "[" * 30000 + "]" * 30000 + "}"
    res = client.post("/api/update", content=deep, headers={"content-type": "application/json"})
    assert res.status_code == 422 and "not JSON" in res.json()["error"]["message"]
    res = client.post("/api/save-scenario", json={"save_scenario": "fed-easing",
                                                  "save_id": "a" * 300})  # fmt: skip
    assert res.status_code == 422, res.text
    assert res.json()["error"]["field"] == "save_id"


@pytest.mark.parametrize("text", ["-0,5", "0,25", "6_5_0_0", "\u0660.\u0662"])
def test_a_number_the_page_cannot_read_plainly_is_refused_not_misread(client, text):
    """A decimal comma (-0,5 was read as -5 %), digit separators and other scripts' digits
    are refused; a thousands comma (6,200) is read."""
    res = client.post("/api/update", json={"shock:tariff-shock:0": text})
    assert res.status_code == 422, res.text
    assert res.json()["error"]["field"] == "shock:tariff-shock:0"
    res = client.post("/api/update", json={SP: "6,200"})
    assert res.status_code == 200, res.text


def test_a_body_over_the_limit_is_refused_before_it_is_read(client):
    big = b"a=" + b"1" * (200 * 1024)
    res = client.post("/api/update", content=big)
    assert res.status_code == 422 and "too large" in res.json()["error"]["message"]

    def chunks():  # no Content-Length: refused while it streams in
        for _ in range(100):
            yield b"1" * 4096

    res = client.post("/api/update", content=chunks())
    assert res.status_code == 422 and "too large" in res.json()["error"]["message"]


def test_json_null_is_an_empty_field_and_a_list_or_true_is_refused(client):
    assert client.post("/api/update", json={"loss:tariff-shock": None}).status_code == 200
    for value, shown in ((True, "true"), ({"a": 1}, '{"a": 1}'), ([1], "[1]")):
        res = client.post("/api/update", json={"prob:fed-easing": value})
        assert res.status_code == 422, res.text
        error = res.json()["error"]
        assert error["field"] == "prob:fed-easing" and error["value"] == shown, error


def test_a_saved_scenario_may_not_take_an_id_the_library_has(client, tmp_path):
    """Saved as "fed-easing", it would replace the built-in one wherever the folder is a
    [scenarios] dir."""
    res = client.post("/api/save-scenario", json={"save_scenario": "fed-easing",
                                                  "save_id": "fed-easing"})  # fmt: skip
    assert res.status_code == 422 and res.json()["error"]["field"] == "save_id", res.text
    assert not (tmp_path / "scen" / "fed-easing.toml").exists()


def test_a_tiny_loss_cap_the_page_writes_is_one_its_parser_reads(client):
    """1e-05 % was written as "tariff-shock loss <= 1e-05%" and refused by the constraint
    parser as malformed: now it is read, and the answer is the infeasibility it causes."""
    res = client.post("/api/update", json={"loss:tariff-shock": "1e-05"})
    assert res.status_code == 200, res.text
    doc = res.json()
    assert doc.get("infeasible") or doc["scenarios"]["tariff-shock"]["proposed_return"] >= -1e-7


def test_a_band_conflict_is_named_on_the_field_the_user_changed(client):
    res = client.post("/api/update", json={"equity_max": 20})  # the minimum is 30
    assert res.status_code == 422
    error = res.json()["error"]
    assert error["field"] == "equity_max" and "below the minimum (30 %)" in error["message"]
    res = client.post("/api/update", json={"equity_min": 90})  # the maximum is 80
    assert res.json()["error"]["field"] == "equity_min"


def test_a_baseline_probability_the_remainder_would_replace_is_refused(client):
    """The baseline takes what the other scenarios leave: a lower value typed there was
    replaced without a word (0.1 shown in the field, 0.4 in the table)."""
    shown = client.get("/api/update").json()["scenarios"]
    rest = 1 - sum(s["probability"] for sid, s in shown.items() if sid != "baseline")
    res = client.post("/api/update", json={"prob:baseline": "0.1"})
    assert res.status_code == 422
    error = res.json()["error"]
    assert error["field"] == "prob:baseline" and f"({rest:.4g})" in error["message"], error
    res = client.post("/api/update", json={"prob:baseline": f"{rest:.10g}"})
    assert res.status_code == 200, res.text


def test_json_is_read_by_its_media_type_in_any_case_and_not_as_a_form(client):
    body = b'{"prob:fed-easing": 0.2}'
    for media in ("Application/JSON", "application/json; charset=utf-8",
                  "application/vnd.api+json"):  # fmt: skip
        res = client.post("/api/update", content=body, headers={"content-type": media})
        assert res.status_code == 200, (media, res.text)
        assert res.json()["scenarios"]["fed-easing"]["probability"] == 0.2
    for media in ("text/plain", None):  # read as a form it was one field named by the JSON
        headers = {"content-type": media} if media else {}
        res = client.post("/api/update", content=body, headers=headers)
        assert res.status_code == 422 and "application/json" in res.json()["error"]["message"]


def test_a_saved_edited_scenario_no_longer_tells_the_old_move(client, tmp_path):
    """Saved with the S&P 500 at 9,000, the file said "correction to 6,200", "from about
    6,800 to 6,200 (-8.8 %), passing 6,550" and intermediate = [6550]."""
    res = client.post("/api/save-scenario", json={"save_scenario": "sp500-correction-6200",
                                                  "save_id": "sp-9000", SP: "9000"})  # fmt: skip
    assert res.status_code == 200, res.text
    saved = load_scenario(Path(res.json()["path"]))
    (shock,) = saved.shocks
    assert shock.level == 9000 and shock.intermediate == [] and shock.note == ""
    assert saved.title.endswith("(edited)")
    res = client.post("/api/save-scenario", json={"save_scenario": "sp500-correction-6200",
                                                  "save_id": "sp-same"})  # fmt: skip
    same = load_scenario(Path(res.json()["path"]))
    original = load_scenario(builtin_dir() / "sp500-correction-6200.toml")
    assert same.title == original.title and same.shocks == original.shocks

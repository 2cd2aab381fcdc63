"""The Starlette app: the page, its htmx fragments and a JSON API over one live session.

Routes (docs/whatif-page.md): ``GET /`` the page (query parameters set fields, so a state can be
linked); ``POST /update``, ``/save-scenario``, ``/propose`` answer htmx with HTML
fragments; ``POST /api/update``, ``/api/save-scenario``, ``/api/propose`` answer JSON. Bad
input is a 422 naming the field and the value (inline on the page); an infeasible policy is
a 200 that says why. The log is one line per request.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from optimizer.errors import CapallocError
from optimizer.web.view import controls_context, field_id, results_context

if TYPE_CHECKING:
    from optimizer.workflows.live import LiveSession

LOG = logging.getLogger("capalloc.serve")
STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024  # a form of a few dozen numbers
PROPOSAL_FILES = ("report.html", "proposal.json", "orders.csv")


def create_app(
    session: LiveSession,
    *,
    out_dir: Path,
    scenario_dir: Path,
    hosts: Collection[str] | None = None,
) -> Starlette:
    """The app for a started session; proposals go to ``out_dir``, saved scenarios to
    ``scenario_dir``. ``hosts`` (``host:port`` names) are the Host headers it answers (see
    :class:`_SameOrigin`); None answers any."""
    env = Environment(loader=PackageLoader("optimizer.web"), autoescape=select_autoescape())
    env.filters["safe_svg"] = Markup
    web = _Web(session, env, Path(out_dir), Path(scenario_dir))
    routes = [
        Route("/", web.page),
        Route("/update", web.update, methods=["POST"]),
        Route("/save-scenario", web.save, methods=["POST"]),
        Route("/propose", web.propose, methods=["POST"]),
        Route("/api/update", web.api_update, methods=["GET", "POST"]),
        Route("/api/save-scenario", web.api_save, methods=["POST"]),
        Route("/api/propose", web.api_propose, methods=["POST"]),
        Route("/files/{name}", web.file),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(_SameOrigin, hosts=hosts)
    app.add_middleware(_OneLineLog)
    return app


def local_hosts(host: str, port: int) -> frozenset[str] | None:
    """The Host headers a server bound to ``host`` answers: its loopback names when it
    listens on this machine only; None (any) when it was bound to a network address on
    purpose (``--host 0.0.0.0``), where names cannot be known."""
    loopback = {"127.0.0.1", "localhost", "::1", "[::1]"}
    if host not in loopback:
        return None
    return frozenset(f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]"))


class _SameOrigin:
    """Requests from another web site are refused (403), so a page the user has open
    elsewhere can neither save files nor read the account through the user's browser: a
    Host header the server does not answer to (a DNS-rebinding page) on any request, and
    on anything but GET or HEAD an ``Origin`` other than the server's own, or a browser's
    ``Sec-Fetch-Site: cross-site``. Scripts (curl, Python) send no Origin: they pass."""

    def __init__(self, app: Any, hosts: Collection[str] | None = None) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        why = None
        if self.hosts is not None and host.lower() not in self.hosts:
            why = f"this server does not answer to host {host!r}"
        elif scope["method"] not in ("GET", "HEAD"):
            origin = headers.get("origin")
            if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
                why = f"a request from another site ({origin}) is refused"
            elif headers.get("sec-fetch-site") == "cross-site":
                why = "a request from another site is refused"
        if why is None:
            await self.app(scope, receive, send)
            return
        await JSONResponse({"error": {"message": why, "field": None}}, 403)(scope, receive, send)


class _OneLineLog:
    """One log line per request: method, path, status, milliseconds; a bug is one more
    line (no traceback) and a 500 that says so."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0, status = time.perf_counter(), {"code": 500}

        async def wrapped(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        except ClientDisconnect:  # the browser went away mid-request: nothing to answer
            status["code"] = 499
        except Exception as exc:  # a bug: one line, not a traceback
            LOG.error("internal error: %s", " ".join(f"{type(exc).__name__}: {exc}".split()))
            await Response("internal error (see the server log)", 500)(scope, receive, send)
        ms = 1e3 * (time.perf_counter() - t0)
        LOG.info("%s %s %d %.1f ms", scope["method"], scope["path"], status["code"], ms)


class _Web:
    def __init__(self, session: LiveSession, env: Environment, out: Path, scen: Path) -> None:
        self.session, self.env, self.out, self.scen = session, env, out, scen
        self.names = {c.name: c for c in session.controls_}

    def _render(self, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(**ctx)
        return HTMLResponse(html, status_code=status)

    async def _values(self, request: Request) -> dict[str, str]:
        body = await _capped_body(request)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media == "application/json" or (media.startswith("application/") and
                                           media.endswith("+json")):  # fmt: skip
            try:
                data = json.loads(body or b"{}")
            except (ValueError, RecursionError):  # (nested too deeply to read)
                raise _BadRequest("the body is not JSON", None, None) from None
            if not isinstance(data, dict):
                raise _BadRequest("the body must be a JSON object", None, None)
            return {str(k): _as_text(str(k), v) for k, v in data.items()}
        if body.lstrip()[:1] in (b"{", b"["):  # JSON sent as a form would be one odd field
            raise _BadRequest(
                f"a JSON body needs the content type application/json (sent: {media or 'none'})",
                None, None,
            )  # fmt: skip
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise _BadRequest("the form is not UTF-8", None, None) from None
        return dict(pairs)

    # -- the page -----------------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        shown = {k: v for k, v in request.query_params.items() if k in self.names}
        try:
            result, error = self.session.update(shown), None
        except CapallocError as exc:
            result, error = None, self._error(exc)
        ctx = {
            "account": self.session.cfg_.account,
            "controls": controls_context(self.session, shown),
            "error": error,
            "r": None if result is None else results_context(self.session, result),
        }
        return self._render("page.html", 200 if error is None else 422, **ctx)

    async def update(self, request: Request) -> Response:
        try:
            values = await self._values(request)
            result = self.session.update(values)
        except (CapallocError, _BadRequest) as exc:
            return self._render("error.html", 422, error=self._error(exc), fields=self._ids())
        ctx = results_context(self.session, result)
        return self._render("results.html", r=ctx, fields=self._ids())

    async def save(self, request: Request) -> Response:
        try:
            values = await self._values(request)
            path = self._save(values)
        except (CapallocError, _BadRequest) as exc:
            return self._render("saved.html", 422, error=self._error(exc))
        return self._render("saved.html", path=str(path))

    async def propose(self, request: Request) -> Response:
        try:
            values = await self._values(request)
            proposal = self.session.propose(values, self.out)
        except (CapallocError, _BadRequest) as exc:
            return self._render("proposed.html", 422, error=self._error(exc))
        return self._render("proposed.html", files=sorted(proposal.files), out=str(self.out))

    # -- JSON ---------------------------------------------------------------------------------
    async def api_update(self, request: Request) -> Response:
        try:
            values = (
                await self._values(request)
                if request.method == "POST"
                else dict(request.query_params)
            )
            return JSONResponse(self.session.update(values).to_dict())
        except (CapallocError, _BadRequest) as exc:
            return JSONResponse({"error": self._error(exc)}, 422)

    async def api_save(self, request: Request) -> Response:
        try:
            path = self._save(await self._values(request))
        except (CapallocError, _BadRequest) as exc:
            return JSONResponse({"error": self._error(exc)}, 422)
        return JSONResponse({"path": str(path)})

    async def api_propose(self, request: Request) -> Response:
        try:
            proposal = self.session.propose(await self._values(request), self.out)
        except (CapallocError, _BadRequest) as exc:
            return JSONResponse({"error": self._error(exc)}, 422)
        files = {name: str(p) for name, p in proposal.files.items()}
        return JSONResponse({"files": files, "weights": proposal.run.allocation.weights})

    async def file(self, request: Request) -> Response:
        name = request.path_params["name"]
        path = self.out / name
        if name not in PROPOSAL_FILES or not path.is_file():
            return Response("no such file; make a proposal first", 404)
        return FileResponse(path)

    # -- helpers ------------------------------------------------------------------------------
    def _save(self, values: dict[str, str]) -> Path:
        sid, new_id = values.pop("save_scenario", ""), values.pop("save_id", "")
        return self.session.save_scenario(values, sid, new_id, self.scen)

    def _ids(self) -> list[str]:
        return [field_id(c) for c in self.session.controls_]

    def _error(self, exc: Exception) -> dict[str, Any]:
        """What the page and the API say about bad input: the field, its label, the value."""
        key = getattr(exc, "key", None)
        control = self.names.get(key) if key else None
        title = ""
        if control is not None and control.scenario in self.session.scenarios_:
            title = self.session.scenarios_[control.scenario].title
        value = getattr(exc, "value", None)
        message = exc.message if isinstance(exc, CapallocError) else str(exc)
        label = control.label if control else (key or "")
        where = f"{title}: {label}" if title else label
        text = f"{where} = {value!s}: {message}" if control is not None else _plain(exc)
        return {
            "field": key,
            "id": field_id(control) if control else None,
            "label": where,
            "value": None if value is None else str(value),
            "message": " ".join(text.split()),
        }


def _plain(exc: Exception) -> str:
    return exc.render() if isinstance(exc, CapallocError) else str(exc)


def _as_text(key: str, value: Any) -> str:
    """A JSON value as the text a form field would hold: null is an empty field (no
    value), a number or string as written; a list, an object or true/false is refused."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _BadRequest("expected a number or text", key, json.dumps(value)[:80])
    return str(value)


async def _capped_body(request: Request) -> bytes:
    """The request's body, refused as soon as it is known to exceed ``MAX_BODY`` (by its
    Content-Length, else while it streams in): a large upload is never held in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _BadRequest("the form is too large", None, None)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _BadRequest("the form is too large", None, None)
        chunks.append(chunk)
    return b"".join(chunks)


class _BadRequest(Exception):
    def __init__(self, message: str, key: str | None, value: Any) -> None:
        super().__init__(message)
        self.message, self.key, self.value = message, key, value

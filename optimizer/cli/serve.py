"""``capalloc serve``: the interactive what-if page for one account (docs/whatif-page.md)."""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path

import click

from optimizer.cli.output import GivenPath
from optimizer.cli.proposal import config_option


@click.command()
@config_option
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port."
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind (the default is this machine only).",
)
@click.option(
    "--out",
    "out_dir",
    type=GivenPath(file_okay=False, path_type=Path),
    help="Folder for 'Make proposal' (default: out/<account id>).",
)
@click.option(
    "--scenario-dir",
    type=GivenPath(file_okay=False, path_type=Path),
    help="Folder for 'Save as scenario' (default: the account's [scenarios] dir, "
    "else scenarios/ beside the account file).",
)
def serve(
    config: Path, port: int, host: str, out_dir: Path | None, scenario_dir: Path | None
) -> None:
    """Open the what-if page: change shocks, probabilities and limits; see the optimum,
    the scenario returns, regret and trades at once. The model is fitted once at start."""
    import uvicorn

    from optimizer.web import create_app
    from optimizer.web.app import local_hosts
    from optimizer.workflows.live import LiveSession

    sock = _bound(host, port)  # before the model is fitted: a taken port fails at once
    session = LiveSession(config).start()
    cfg = session.cfg_
    if scenario_dir is None:
        folder = cfg.scenarios.dir or "scenarios"
        scenario_dir = cfg.base_dir / folder
    out_dir = out_dir or Path("out") / cfg.account.id
    app = create_app(
        session, out_dir=out_dir, scenario_dir=scenario_dir, hosts=local_hosts(host, port)
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    print(
        f"capalloc serve: http://{host}:{port}/  ({cfg.account.id}; Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )
    server = uvicorn.Server(uvicorn.Config(app, access_log=False, log_level="warning"))
    server.run(sockets=[sock])


def _bound(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, not yet listening (the server listens on it once
    the model is fitted: a browser opened early is refused, not left waiting); a port in use
    or an address this machine does not have is one ConfigError line."""
    from optimizer.errors import ConfigError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        return sock
    except OSError as exc:
        sock.close()
        raise ConfigError(
            "cannot listen on this address", key="--host/--port", value=f"{host}:{port}",
            hint=exc.strerror or str(exc),
        ) from None  # fmt: skip

"""The ``capalloc`` command-line app.

Subcommands live in sibling modules and are imported only when invoked, so
``capalloc --help`` never pays for cvxpy, riskfolio or yfinance.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from typing import Any

import click

from optimizer import __version__
from optimizer.errors import CapallocError

# name -> ("module:attribute", one-line help shown by ``capalloc --help``)
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("optimizer.cli.data:data", "Inspect market data from a source."),
    "scenarios": ("optimizer.cli.scenarios:scenarios", "List, show and validate scenarios."),
    "stress": ("optimizer.cli.scenarios:stress", "A portfolio's return in each scenario."),
    "optimize": ("optimizer.cli.optimize:optimize", "Optimal allocation for a policy."),
    "rebalance": ("optimizer.cli.rebalance:rebalance", "Whole-share, tax-aware trades."),
    "propose": ("optimizer.cli.proposal:propose", "Advisor proposal: allocation, trades, report."),
    "whatif": ("optimizer.cli.proposal:whatif", "Every scenario side by side."),
    "run-monthly": ("optimizer.cli.workflows:run_monthly", "Monthly rebalance over accounts."),
    "backtest": ("optimizer.cli.backtest:backtest", "Walk-forward backtest of a policy."),
    "serve": ("optimizer.cli.serve:serve", "Interactive what-if page in the browser."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._available(name)]

    @staticmethod
    def _available(name: str) -> bool:
        module = COMMANDS[name][0].split(":")[0]
        return importlib.util.find_spec(module) is not None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not self._available(cmd_name):
            return None
        target, _ = COMMANDS[cmd_name]
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="capalloc")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
@click.pass_context
def app(ctx: click.Context, debug: bool) -> None:
    """capalloc: scenario-driven allocation, from market data to trades.

    Every command prints a table by default, or one JSON document on stdout with
    --format json. Errors are one line on stderr with a documented exit code
    (docs/cli.md).
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("CAPALLOC_DEBUG") == "1"


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``capalloc`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_requested(argv)
    try:
        app.main(args=argv, prog_name="capalloc", standalone_mode=False)
        sys.stdout.flush()
    except click.exceptions.NoArgsIsHelpError as exc:  # `capalloc` or `capalloc data` alone
        print(exc.ctx.get_help() if exc.ctx else app.get_help(click.Context(app)))
        sys.exit(0)
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except SystemExit as exc:
        # click turns a closed pipe (EPIPE) into exit 1 after wrapping stdout; a reader
        # that stopped early (`| head`) is not a failure
        if exc.code == 1 and isinstance(sys.stdout, click.utils.PacifyFlushWrapper):
            sys.exit(0)
        raise
    except CapallocError as exc:
        if debug:
            traceback.print_exc()
        print(f"capalloc: {exc.kind}: {exc.render()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        print("capalloc: aborted", file=sys.stderr)
        sys.exit(130)
    except click.ClickException as exc:
        message = " ".join(exc.format_message().split())
        print(f"capalloc: usage error: {message} (see capalloc --help)", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("capalloc: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # a bug: still one line unless --debug
        if debug:
            traceback.print_exc()
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(
            f"capalloc: internal error: {text} (rerun with --debug and report it)",
            file=sys.stderr,
        )
        sys.exit(1)
    sys.exit(0)

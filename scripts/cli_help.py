"""Rewrite the ``--help`` blocks of docs/cli.md from the CLI itself (80 columns).

    python scripts/cli_help.py           # rewrite docs/cli.md
    python scripts/cli_help.py --check   # exit 1 when a block differs (the tests run this)

Each ``### capalloc COMMAND`` heading is followed by a fenced block holding the output of
``capalloc COMMAND --help``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
# the heading, any prose lines under it, then the fenced help
BLOCK = re.compile(
    r"^### capalloc (?P<cmd>[a-z -]+)\n(?P<prose>(?:(?!```)[^\n]*\n)*?)```\n(?P<help>.*?)^```",
    re.M | re.S,
)


def help_text(command: str) -> str:
    from click.testing import CliRunner

    from optimizer.cli import app

    res = CliRunner().invoke(app, [*command.split(), "--help"], prog_name="capalloc",
                             terminal_width=80)  # fmt: skip
    if res.exit_code != 0:
        raise SystemExit(f"capalloc {command} --help failed: {res.output}")
    return res.output


def rewritten(text: str) -> str:
    return BLOCK.sub(
        lambda m: f"### capalloc {m['cmd']}\n{m['prose']}```\n{help_text(m['cmd'].strip())}```",
        text,
    )


def main() -> int:
    text = DOC.read_text()
    headings = re.findall(r"^### capalloc ([a-z -]+)$", text, re.M)
    blocks = [m["cmd"] for m in BLOCK.finditer(text)]
    if headings != blocks:  # a heading whose help block the pattern would not see
        print(f"{DOC}: no help block under: {', '.join(sorted(set(headings) - set(blocks)))}")
        return 1
    new = rewritten(text)
    if "--check" in sys.argv[1:]:
        if new != text:
            print(f"{DOC}: a --help block differs; run python scripts/cli_help.py")
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

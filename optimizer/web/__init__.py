"""``capalloc serve``: the interactive what-if page (docs/whatif-page.md).

A front end over :class:`optimizer.workflows.live.LiveSession`, beside the CLI: it parses
the page's fields, calls the workflow and renders the answer; it holds no logic of its own.
Every asset (htmx, the stylesheet) is served by the app itself, so the page works offline.
"""

from __future__ import annotations

from optimizer.web.app import create_app

__all__ = ["create_app"]

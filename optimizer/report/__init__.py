"""Report stage: the HTML proposal, the what-if page and CSV, atomic file writes.

Renderers take the plain JSON-ready documents built by the workflows (see
docs/report.md) and return text; nothing here imports the optimizer or the planner.
"""

from optimizer.atomic import write_atomic
from optimizer.report.proposal import proposal_filename, render_proposal, write_proposal
from optimizer.report.whatif import render_whatif, whatif_csv, write_whatif

__all__ = [
    "proposal_filename",
    "render_proposal",
    "render_whatif",
    "whatif_csv",
    "write_atomic",
    "write_proposal",
    "write_whatif",
]

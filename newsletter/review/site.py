"""`newsletter build` as users know it: the pipeline's build, then the review pages beside it.

The pipeline writes the emails; this module adds each campaign's preview.html and the gallery, with
the checks' findings. The preview server rebuilds through here too, so a served page and a built one
are the same file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from newsletter.pipeline import BuildReport, build
from newsletter.project.settings import Project
from newsletter.review.preview import write_review_pages


def build_site(
    project: Project, ids: Sequence[str] = (), *, out: Path | None = None, strict: bool = False
) -> BuildReport:
    """Build the named campaigns (all when none are named) and their review pages into `out`."""
    out = out or project.root / "build"
    report = build(project, ids, out=out, strict=strict)
    report.findings = write_review_pages(project, report, out)
    return report

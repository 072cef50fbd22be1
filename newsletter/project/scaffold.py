"""`newsletter new`: a campaign file started from a column, so an editor edits instead of typing YAML."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import yaml

from newsletter.errors import NewsletterError, did_you_mean
from newsletter.files import atomic_write
from newsletter.project.columns import make_excerpt, read_column
from newsletter.project.models import CAMPAIGN_ID
from newsletter.project.settings import Project


def new_campaign(
    project: Project, campaign_id: str, column_file: Path, skus: Sequence[str], locale: str | None = None
) -> Path:
    """Write `campaigns/<id>.yaml`; a column outside `columns/` is copied in so the campaign can use it."""
    if not CAMPAIGN_ID.fullmatch(campaign_id):
        raise NewsletterError(
            f"'{campaign_id}' cannot be a campaign id",
            field="CAMPAIGN_ID",
            hint="use lower-case letters, digits, '-' and '_', like 2027-01-lezen",
        )
    target = project.campaigns_dir / f"{campaign_id}.yaml"
    if target.exists() or target.with_suffix(".yml").exists():
        raise NewsletterError("a campaign with this id exists already", path=target, hint="choose another id")
    column_path = _column_in_project(project, column_file)
    column = read_column(column_path)
    known = sorted(p.stem for p in project.books_dir.glob("*.yaml"))
    for sku in skus:
        if sku not in known:
            raise NewsletterError(
                f"unknown book '{sku}'",
                field="--book",
                hint=did_you_mean(sku, known) or f"add books/{sku}.yaml first",
            )
    teaser: dict[str, object] = {"column": column_path.name}
    if not column.url:
        teaser["url"] = "TODO: the https:// address of the full column"
    if not column.author and not column.author_name:
        teaser["author"] = "TODO: an author key from authors.yaml"
    data = {
        "subject": column.title,
        "preheader": make_excerpt(column.blocks, 20),
        "locale": locale or project.settings.locale,
        "teasers": [teaser],
        "books": list(skus) or ["TODO: a book SKU from books/"],
    }
    header = (
        f"# Campaign '{campaign_id}', started from columns/{column_path.name}. Edit, then: newsletter build\n"
    )
    atomic_write(target, header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100))
    return target


def _column_in_project(project: Project, column_file: Path) -> Path:
    # A relative path means the project's file first (the command may run with --project from elsewhere).
    candidates = [project.root / column_file, project.columns_dir / column_file, column_file]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise NewsletterError("column file not found", path=column_file, field="--column")
    if found.resolve().parent == project.columns_dir.resolve():
        return found
    copy = project.columns_dir / found.name
    if copy.exists():
        raise NewsletterError(
            f"columns/{found.name} exists already and is another file",
            path=found,
            field="--column",
            hint="rename the column file, or pass the one under columns/",
        )
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(found, copy)
    return copy

"""`newsletter build` as users know it: the pipeline's build, then the review pages beside it.

The pipeline writes the emails; this module adds each campaign's preview.html and the gallery, with
the checks' findings. The preview server rebuilds through here too, so a served page and a built one
are the same file.

A campaign whose inputs did not change since its last build is not rendered again: its outputs, its
preview.html and its card in the gallery are left as they are, and the report gives what that build
reported (`pipeline.Stored`). What makes that safe: the campaign's record (`pipeline.Record`, written
after everything else) must hold the key of today's inputs and the digest of every file as it is now,
and the gallery's record (`GALLERY_RECORD`, beside index.html) must show the campaign's card as today's
build would make it. `unchanged_site` answers from those files alone, without opening the project, so
that `newsletter build` on an unchanged project imports none of the heavy libraries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsletter.files import atomic_write, modified_day
from newsletter.pipeline import (
    OUTPUTS,
    RECORD_FORMAT,
    BuildReport,
    Inputs,
    Record,
    build,
    campaign_paths,
    digest,
    find_root,
    unchanged,
    write_record,
)

if TYPE_CHECKING:
    from newsletter.project.settings import Project

GALLERY_RECORD = ".index.inputs.json"  # beside index.html: what the gallery was made from
SITE_OUTPUTS = (*OUTPUTS, "preview.html")


def build_site(
    project: Project,
    ids: Sequence[str] = (),
    *,
    out: Path | None = None,
    strict: bool = False,
    force: bool = False,
) -> BuildReport:
    """Build the named campaigns (all when none are named) and their review pages into `out`.

    Campaigns unchanged since their last build into `out` are skipped (`report.skipped`), unless
    `force`.
    """
    from newsletter.review.pages import write_review_pages

    out = out or project.root / "build"
    inputs = Inputs(project.root, strict=strict)
    files = campaign_paths(project.root, ids)
    if files is None:  # a problem with the campaign files: the loader reports it, nothing is skipped
        folder = project.root / "campaigns"
        inputs.snapshot([*folder.glob("*.yaml"), *folder.glob("*.yml")])
        report = build(project, ids, out=out, strict=strict)
    else:
        wanted, found = files
        fresh = {} if force else _unchanged(inputs, wanted, found, out)
        todo = [key for key in wanted if key not in fresh]
        inputs.snapshot(wanted[key] for key in todo)
        report = build(project, todo, out=out, strict=strict) if todo else BuildReport()
        report.skipped = [fresh[key].stored(key, out / key) for key in wanted if key in fresh]
        report.order = list(wanted)
    report.findings = write_review_pages(project, report, out)
    _write_records(report, inputs, out)
    return report


def unchanged_site(
    start: Path, ids: Sequence[str] = (), *, out: Path | None = None, strict: bool = False
) -> BuildReport | None:
    """The report of `build_site` when it would skip every campaign asked for, found without opening
    the project (`start`: a folder in it); None when anything needs building."""
    root = find_root(start)
    files = None if root is None else campaign_paths(root, ids)
    if root is None or not files or not files[0]:
        return None
    wanted, found = files
    out = out or root / "build"
    fresh = _unchanged(Inputs(root, strict=strict), wanted, found, out)
    if len(fresh) < len(wanted):
        return None
    return BuildReport(skipped=[fresh[key].stored(key, out / key) for key in wanted], order=list(wanted))


@dataclass(frozen=True)
class Gallery:
    """`GALLERY_RECORD`: the index.html it describes, and the cards and emails it was made from."""

    inputs: str  # Inputs.gallery_key
    index: str  # digest of index.html
    cards: dict[str, dict[str, Any]]  # by campaign id, as the gallery keeps them
    emails: dict[str, str]  # by campaign id: digest of the email.html the gallery shows


def _unchanged(
    inputs: Inputs, wanted: dict[str, Path], found: dict[str, Path], out: Path
) -> dict[str, Record]:
    """The records of the wanted campaigns that need no build, by id."""
    gallery = _read_gallery(out)
    if gallery is None or gallery.inputs != inputs.gallery_key():
        return {}
    if digest(out / "index.html") != gallery.index:
        return {}
    fresh: dict[str, Record] = {}
    for key, path in wanted.items():
        record = unchanged(inputs, path, out / key, SITE_OUTPUTS)
        if record is not None and gallery.cards.get(key) == {**record.card, "date": modified_day(path)}:
            fresh[key] = record
    if len(fresh) == len(wanted):
        # Nothing to render, so nothing would rewrite the gallery: it must be today's as it is, its
        # cards those of the campaigns that exist and have an email, each showing that email.
        shown = sorted(key for key in found if (out / key / "email.html").is_file())
        if shown != sorted(gallery.cards) or any(
            digest(out / key / "email.html") != gallery.emails.get(key) for key in shown
        ):
            return {}
    return fresh


def _write_records(report: BuildReport, inputs: Inputs, out: Path) -> None:
    """After every page: the gallery's record, then each written campaign's (see the module doc)."""
    from newsletter.review.counts import checks_summary
    from newsletter.review.pages import read_cards

    written = [built for built in report.built if built.written]
    if not written:
        return
    index = out / "index.html"
    cards = {card.id: asdict(card) for card in read_cards(index)}
    gallery = Gallery(
        inputs=inputs.gallery_key(),
        index=digest(index) or "",
        cards=cards,
        emails={key: digest(out / key / "email.html") or "" for key in cards},
    )
    data = {"format": RECORD_FORMAT, **asdict(gallery)}
    atomic_write(out / GALLERY_RECORD, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    for built in written:
        rendered, out_dir = built.rendered, built.out_dir
        campaign = rendered.campaign
        books = tuple(book.sku for book in campaign.books)
        card = {name: value for name, value in cards.get(campaign.id, {}).items() if name != "date"}
        record = Record(
            inputs=inputs.key(campaign.path, books),
            books=books,
            outputs={name: digest(out_dir / name) or "" for name in SITE_OUTPUTS},
            subject=campaign.subject,
            html_bytes=rendered.html_bytes,
            warnings=rendered.warnings,
            checks=checks_summary(report.findings.get(campaign.id, [])),
            card=card,
        )
        write_record(out_dir, record)


def _read_gallery(out: Path) -> Gallery | None:
    try:
        data = json.loads((out / GALLERY_RECORD).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.pop("format", None) != RECORD_FORMAT:
            return None
        gallery = Gallery(**data)
    except (OSError, ValueError, TypeError):
        return None
    well_formed = (
        isinstance(gallery.inputs, str)
        and isinstance(gallery.index, str)
        and isinstance(gallery.cards, dict)
        and all(isinstance(card, dict) for card in gallery.cards.values())
        and isinstance(gallery.emails, dict)
    )
    return gallery if well_formed else None

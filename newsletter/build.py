"""`newsletter build`, top to bottom: load → render → write the emails → review pages → site.

`build` is the table of contents; each step is a call into the stage that owns it. The pipeline
(pipeline.py) loads and renders, as it does for every command; the review stage checks each email
and writes its preview.html and the gallery; the site stage writes the web versions, archives and
feeds of what is published.

A campaign whose inputs did not change since its last build is not rendered again: its outputs, its
preview.html and its card in the gallery are left as they are, and the report gives what that build
reported (`pipeline.Stored`). What the last build was made from is one file, `build/.build.json`
(`pipeline.RECORD`). What makes skipping safe: the campaign's entry (`pipeline.Record`, removed before
its files are rewritten and written after everything else) must hold the key of today's inputs and
the digest of every file as it is now, and the gallery's section must show the campaign's card as
today's build would make it. `unchanged_build` answers from those files alone, without opening the
project, so that `newsletter build` on an unchanged project imports none of the heavy libraries. The
site step runs on every build all the same: a send publishes a campaign without changing any of its
inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsletter.errors import NewsletterError
from newsletter.files import modified_day, yaml_files
from newsletter.pipeline import (
    OUTPUTS,
    Built,
    Inputs,
    Record,
    Stored,
    campaign_paths,
    digest,
    find_root,
    read_build_record,
    render_campaigns,
    unchanged,
    update_build_record,
    write_campaign,
)

if TYPE_CHECKING:
    from newsletter.project.settings import Project
    from newsletter.render.renderer import Rendered
    from newsletter.review.checks import Finding
    from newsletter.site.writer import SiteReport

SITE_OUTPUTS = (*OUTPUTS, "preview.html")


@dataclass
class BuildReport:
    built: list[Built] = field(default_factory=list)
    errors: list[NewsletterError] = field(default_factory=list)
    findings: dict[str, list[Finding]] = field(default_factory=dict)  # by campaign id: the checks
    skipped: list[Stored] = field(default_factory=list)  # unchanged since the last build: not rendered
    order: list[str] = field(default_factory=list)  # the campaign ids in the order asked for
    site: SiteReport | None = None  # None: not written (problems in the campaigns, or not asked for)
    site_problems: int = 0  # problems in campaigns not asked for, which kept the site as it was

    @property
    def refused(self) -> list[Built]:
        return [b for b in self.built if not b.written]

    def entries(self) -> list[Built | Stored]:
        """Built and skipped campaigns together, in the order the campaigns were asked for."""
        by_id: dict[str, Built | Stored] = {b.rendered.campaign.id: b for b in self.built}
        by_id.update((s.id, s) for s in self.skipped)
        order = [*self.order, *(key for key in by_id if key not in self.order)]
        return [by_id[key] for key in order if key in by_id]


def build(
    project: Project,
    ids: Sequence[str] = (),
    *,
    out: Path | None = None,
    strict: bool = False,
    force: bool = False,
    site: bool = True,
) -> BuildReport:
    """Build the named campaigns (all when none are named) into `out` (default `build/`): the emails,
    their review pages and, when every campaign loaded, the static site (`site=False`: not the site).

    Campaigns unchanged since their last build into `out` are skipped (`report.skipped`), unless
    `force`. With `strict`, a campaign with warnings is rendered but not written (`report.refused`).
    """
    from newsletter.review.pages import write_review_pages

    out = out or project.root / "build"
    inputs = Inputs(project.root, strict=strict)
    report = BuildReport()
    todo = _to_render(project.root, ids, inputs, out, report, force=force)
    rendered, report.errors = ([], []) if todo is None else render_campaigns(project, todo)
    _forget(out, [one for one in rendered if not (strict and one.warnings)])
    for one in rendered:
        report.built.append(_write_email(one, out / one.campaign.id, strict=strict))
    report.findings = write_review_pages(project, report.built, out)
    _write_records(report, inputs, out)
    if site and not report.errors:
        _write_site(project.root, out, report, project)
    return report


def unchanged_build(
    start: Path, ids: Sequence[str] = (), *, out: Path | None = None, strict: bool = False
) -> BuildReport | None:
    """The report of `build` when it would skip every campaign asked for, found without opening the
    project (`start`: a folder in it), the site brought up to date; None when anything needs building."""
    root = find_root(start)
    files = None if root is None else campaign_paths(root, ids)
    if root is None or not files or not files[0]:
        return None
    wanted, found = files
    out = out or root / "build"
    fresh = _unchanged(Inputs(root, strict=strict), wanted, found, out)
    if len(fresh) < len(wanted):
        return None
    report = BuildReport(skipped=[fresh[key].stored(key, out / key) for key in wanted], order=list(wanted))
    _write_site(root, out, report)
    return report


# -- the steps ---------------------------------------------------------------------------------------


def _to_render(
    root: Path, ids: Sequence[str], inputs: Inputs, out: Path, report: BuildReport, *, force: bool
) -> Sequence[str] | None:
    """The campaigns to render (None: none); the others go into `report.skipped` with what their last
    build said. The inputs are read now, before the render, so that a file saved during it shows as a
    change."""
    files = campaign_paths(root, ids)
    if files is None:  # a problem with the campaign files: the loader reports it, nothing is skipped
        folder = root / "campaigns"
        inputs.snapshot(yaml_files(folder))
        return ids
    wanted, found = files
    fresh = {} if force else _unchanged(inputs, wanted, found, out)
    todo = [key for key in wanted if key not in fresh]
    inputs.snapshot(wanted[key] for key in todo)
    report.skipped = [fresh[key].stored(key, out / key) for key in wanted if key in fresh]
    report.order = list(wanted)
    return todo or None


def _forget(out: Path, written: Sequence[Rendered]) -> None:
    """Before files are replaced, the record no longer vouches for them: the entries of the campaigns
    about to be written, and the gallery (index.html is written after them)."""
    if written:
        update_build_record(
            out, campaigns=dict.fromkeys((one.campaign.id for one in written), None), gallery=None
        )


def _write_email(rendered: Rendered, out_dir: Path, *, strict: bool) -> Built:
    """build/<id>/email.html, email.txt and meta.json; not with --strict when there are warnings."""
    written = not (strict and rendered.warnings)
    if written:
        write_campaign(rendered, out_dir)
    return Built(rendered=rendered, out_dir=out_dir, written=written)


def _write_site(root: Path, out: Path, report: BuildReport, project: Project | None = None) -> None:
    """The static site, on every build: a send publishes a campaign without changing any input."""
    from newsletter.site.writer import CampaignProblems, update_site

    try:
        report.site = update_site(root, out, project)
    except CampaignProblems as problems:
        report.site_problems = len(problems.errors)


# -- what the last build left ------------------------------------------------------------------------


@dataclass(frozen=True)
class Gallery:
    """The gallery's section of the record: the index.html it describes, and the cards and emails it
    was made from."""

    inputs: str  # Inputs.gallery_key
    index: str  # digest of index.html
    cards: dict[str, dict[str, Any]]  # by campaign id, as the gallery keeps them
    emails: dict[str, str]  # by campaign id: digest of the email.html the gallery shows


def _unchanged(
    inputs: Inputs, wanted: dict[str, Path], found: dict[str, Path], out: Path
) -> dict[str, Record]:
    """The records of the wanted campaigns that need no build, by id."""
    stored = read_build_record(out)
    gallery = _gallery(stored.get("gallery"))
    if gallery is None or gallery.inputs != inputs.gallery_key():
        return {}
    if digest(out / "index.html") != gallery.index:
        return {}
    fresh: dict[str, Record] = {}
    entries = stored.get("campaigns", {})
    for key, path in wanted.items():
        record = unchanged(inputs, path, out / key, entries.get(key), SITE_OUTPUTS)
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
    """After every page: the gallery's section of the record and each written campaign's entry."""
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
    records: dict[str, Record | None] = {}
    for built in written:
        rendered, out_dir = built.rendered, built.out_dir
        campaign = rendered.campaign
        books = tuple(book.sku for book in campaign.books)
        card = {name: value for name, value in cards.get(campaign.id, {}).items() if name != "date"}
        records[campaign.id] = Record(
            inputs=inputs.key(campaign.path, books),
            books=books,
            outputs={name: digest(out_dir / name) or "" for name in SITE_OUTPUTS},
            subject=campaign.subject,
            html_bytes=rendered.html_bytes,
            warnings=rendered.warnings,
            checks=checks_summary(report.findings.get(campaign.id, [])),
            card=card,
        )
    update_build_record(out, campaigns=records, gallery=asdict(gallery))


def _gallery(data: object) -> Gallery | None:
    """The gallery's section, when it has the shape a build writes."""
    try:
        gallery = Gallery(**data) if isinstance(data, dict) else None
    except TypeError:
        return None
    if gallery is None:
        return None
    well_formed = (
        isinstance(gallery.inputs, str)
        and isinstance(gallery.index, str)
        and isinstance(gallery.cards, dict)
        and all(isinstance(card, dict) for card in gallery.cards.values())
        and isinstance(gallery.emails, dict)
    )
    return gallery if well_formed else None

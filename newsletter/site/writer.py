"""The static site under `build/site/`: each published campaign's web version, and per locale an
archive page and an Atom feed, laid out by the URL paths in the settings so that the folder can be
copied to the web server as it is (`rsync -av --delete build/site/ host:/var/www/...`).

Published means sent to at least one reader (the send log, `store/published.py`) or marked
`publish: true` in the campaign file. A send changes no input of the build, so this step runs on
every `newsletter build`, also when every campaign is skipped as unchanged; it must then cost next
to nothing. So it never renders: a web version is the campaign's built `email.html`, which the
renderer fills with the values for no one in particular (the plain unsubscribe page, order links
without a reader's address, "Beste lezer,"). And what it needs from the campaign files (locale,
subject, preheader, `publish`) is kept in the site's section of the build record
(`pipeline.RECORD`, beside the site, not in it: it is not for the web server), keyed by each file's
digest, so that an unchanged project is answered without opening it (no pydantic, no YAML). The
record also holds a hash of everything the site's files are made from and a digest of the files as
written: when both still hold, nothing is written at all.

The site is written whole into a new folder beside the old one, which is then swapped in: a crash
leaves the old site or the new one (or, between the two renames, the old one set aside as
`.site.old`, which the next build puts back), never half of one, and a campaign that is no longer
published leaves no stale page behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsletter.errors import NewsletterError, NewsletterErrors
from newsletter.pipeline import (
    SETTINGS_FILE,
    Inputs,
    campaign_paths,
    digest,
    read_build_record,
    update_build_record,
)
from newsletter.placeholders import without_fields
from newsletter.project.environment import Secrets
from newsletter.site.layout import Layout
from newsletter.store.location import locate
from newsletter.store.published import first_sends

if TYPE_CHECKING:
    from newsletter.project.campaign import Campaign
    from newsletter.project.settings import Project

SITE = "site"  # build/site/


class CampaignProblems(NewsletterErrors):
    """Some campaign file does not load, so what is published cannot be known: the site stays as it
    was. Not the named campaigns' problem in `newsletter build ONE`, so the command only warns."""


@dataclass(frozen=True)
class Issue:
    """What the site needs of one campaign file, read once per version of the file."""

    source: str  # digest of the campaign file
    locale: str
    title: str  # the campaign's public title: no merge field, nor its fallback ("lezer, ...")
    summary: str  # the preheader, its merge fields left out likewise
    publish: bool


@dataclass(frozen=True)
class Config:
    """What the site needs of the settings."""

    web_version_url: str
    locale: str  # the default: its archive is at the top of the archive folder
    brand: str
    colours: dict[str, str]
    database: str  # the subscriber database, as the settings name it (relative to the project)


@dataclass(frozen=True)
class SiteReport:
    folder: Path
    web_versions: int
    archives: int  # one feed beside each
    written: bool  # False: the site on disk was already this one
    unbuilt: tuple[str, ...] = ()  # published, but without a build/<id>/email.html to show


def update_site(
    root: Path,
    out: Path | None = None,
    project: Project | None = None,
    *,
    going_out: Mapping[str, str] | None = None,
) -> SiteReport:
    """Bring `out/site/` (default `build/site/`) up to date with what is published now.

    `project` is opened only when the record cannot answer for a campaign file (a new or changed
    file, a first build); pass it when the caller has it open anyway. `going_out`: campaigns about
    to be sent, with the time, published before their first message leaves.
    """
    out = out or root / "build"
    site = out / SITE
    _recover(site)
    inputs = Inputs(root)
    record = _read_record(out)
    config, issues = _known(root, inputs, record, project)
    secrets = project.secrets if project is not None else Secrets.from_environment()
    sent = {**(going_out or {}), **first_sends(locate(config.database, root, secrets.database_url))}
    items, unbuilt = _published(root, out, issues, sent)
    layout = Layout.parse(config.web_version_url, config.locale, root / SETTINGS_FILE)
    plan = _plan_key(inputs, config, items)
    archives = layout.locales({item["locale"] for item in items})
    tree = _tree_digest(site)
    if record.get("plan") == plan and record.get("tree") == tree:
        if record.get("settings") != inputs.gallery_key() or _stored_issues(record) != issues:
            _write_record(out, inputs, config, issues, plan, tree)  # an edit the site does not show
        return SiteReport(site, len(items), len(archives), written=False, unbuilt=unbuilt)
    from newsletter.site.pages import site_files  # Jinja2 and Babel: only when pages change

    files = site_files(layout, config.brand, config.colours, items, out, archives)
    _swap_in(files, site)
    _write_record(out, inputs, config, issues, plan, _tree_digest(site))
    return SiteReport(site, len(items), len(archives), written=True, unbuilt=unbuilt)


# -- what the campaign files and settings say --------------------------------------------------


def _known(
    root: Path, inputs: Inputs, record: Mapping[str, Any], project: Project | None
) -> tuple[Config, dict[str, Issue]]:
    """Settings and campaigns from the record where it still describes the files, else loaded."""
    files = campaign_paths(root)
    if files is not None and record.get("settings") == inputs.gallery_key():
        stored = _stored_issues(record)
        found = files[1]
        if set(stored) == set(found) and all(
            stored[key].source == inputs.digest(path) for key, path in found.items()
        ):
            return Config(**record["config"]), stored
    return _load(root, inputs, project)


def _load(root: Path, inputs: Inputs, project: Project | None) -> tuple[Config, dict[str, Issue]]:
    from newsletter.project.campaign import load_campaigns
    from newsletter.project.settings import open_project

    project = project or open_project(root)
    campaigns, errors = load_campaigns(project)
    if errors:  # the site shows every published campaign: it waits until all of them load
        raise CampaignProblems(errors)
    settings = project.settings
    config = Config(
        web_version_url=settings.web_version_url,
        locale=settings.locale,
        brand=settings.brand.name,
        colours={
            "primary": settings.colours.primary,
            "text": settings.colours.text,
            "muted": settings.colours.muted,
        },
        database=settings.audience.database,
    )
    return config, {campaign.id: _issue(campaign, inputs) for campaign in campaigns}


def _issue(campaign: Campaign, inputs: Inputs) -> Issue:
    return Issue(
        source=inputs.digest(campaign.path) or "",
        locale=campaign.locale,
        title=campaign.title,
        summary=without_fields(campaign.preheader),
        publish=campaign.publish,
    )


# -- what is published, and since when ---------------------------------------------------------


def _published(
    root: Path, out: Path, issues: Mapping[str, Issue], sent: Mapping[str, str]
) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """The published campaigns with a built email, as plain data; and those without one."""
    items: list[dict[str, Any]] = []
    unbuilt: list[str] = []
    for key, issue in sorted(issues.items()):
        if key not in sent and not issue.publish:
            continue
        email = digest(out / key / "email.html")
        if email is None or email.startswith("unreadable"):
            unbuilt.append(key)
            continue
        updated = sent.get(key) or _file_date(root, key)
        shown = {name: value for name, value in asdict(issue).items() if name != "source"}
        items.append({"id": key, **shown, "updated": updated, "email": email})
    return items, tuple(unbuilt)


def _file_date(root: Path, key: str) -> str:
    """A campaign published before any send is dated by its file's last change (as the gallery's
    cards are): what a build reads, so the same files give the same site."""
    files = campaign_paths(root, [key])
    path = files[0][key] if files else root / "campaigns" / f"{key}.yaml"
    try:
        moment = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        moment = datetime.fromtimestamp(0, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _plan_key(inputs: Inputs, config: Config, items: Sequence[Mapping[str, Any]]) -> str:
    """Everything the site's files are made from: the tool and settings, and each published item."""
    parts = [inputs.gallery_key(), asdict(config), list(items)]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# -- the record --------------------------------------------------------------------------------


def _read_record(out: Path) -> dict[str, Any]:
    """The record of the last site written into `out`; empty when there is none to trust."""
    data = read_build_record(out).get("site")
    if not isinstance(data, dict):
        return {}
    try:
        Config(**data["config"])
        _stored_issues(data)
    except (KeyError, TypeError, AttributeError):
        return {}
    return data


def _stored_issues(record: Mapping[str, Any]) -> dict[str, Issue]:
    return {key: Issue(**value) for key, value in record["issues"].items()}


def _write_record(
    out: Path, inputs: Inputs, config: Config, issues: Mapping[str, Issue], plan: str, tree: str
) -> None:
    data = {
        "settings": inputs.gallery_key(),
        "config": asdict(config),
        "issues": {key: asdict(issue) for key, issue in sorted(issues.items())},
        "plan": plan,
        "tree": tree,
    }
    update_build_record(out, site=data)


def _tree_digest(site: Path) -> str:
    """Every file under the site with its content: a page changed or removed by hand is rewritten."""
    hashed = hashlib.sha256()
    if site.is_dir():
        for path in sorted(site.rglob("*")):
            if not path.is_dir():
                hashed.update(f"{path.relative_to(site).as_posix()}\0{digest(path)}\n".encode())
    return hashed.hexdigest()


# -- writing -----------------------------------------------------------------------------------


def _swap_in(files: Mapping[str, bytes], site: Path) -> None:
    """Write the whole site into a new folder beside `site`, then put it in `site`'s place."""
    _guarded(site, lambda: _swap(files, site))


def _swap(files: Mapping[str, bytes], site: Path) -> None:
    site.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=".site.new-", dir=site.parent))
    old = site.parent / ".site.old"
    try:
        os.chmod(new, 0o755)  # mkdtemp makes it private; the web server must read what rsync copies
        for name, data in sorted(files.items()):
            _write(new / name, data)
        if old.exists():
            shutil.rmtree(old)
        if site.exists():
            os.replace(site, old)
        os.replace(new, site)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.chmod(path, 0o644)


def _recover(site: Path) -> None:
    """A build that stopped between setting the old site aside and moving the new one in: put the
    old one back; and remove what a build that stopped while writing left."""

    def recover() -> None:
        old = site.parent / ".site.old"
        if old.is_dir() and not site.exists():
            os.replace(old, site)
        for leftover in site.parent.glob(".site.new-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    if site.parent.is_dir():
        _guarded(site, recover)


def _guarded(site: Path, action: Callable[[], None]) -> None:
    try:
        action()
    except OSError as exc:
        raise NewsletterError(
            f"cannot write the site: {exc.strerror or exc}",
            path=site,
            hint="check that the folder exists or can be made, and that you may write there",
        ) from None

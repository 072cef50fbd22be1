"""The pipeline every command shares: load campaigns, render them, and (for `build`) write them.

`build`, `check`, `send`, `screenshot` and the preview server all load and render through
`render_campaigns` or `render_one`, so they see the same email and the same errors. A campaign that
fails to load or render is reported and skipped; the others still go through, so one broken file does
not hold up the review of the rest. `newsletter.build` puts the steps of a build in order: the
pipeline itself knows nothing of review or the site.

A rebuild whose inputs did not change need not render: the build folder's record (`RECORD`) holds,
for each built campaign (a `Record`), a hash of everything its output depends on (`Inputs.key`) and
a digest of every file written, so that a later build can tell by reading files, and importing
nothing heavy, that a campaign is unchanged. The gallery and the site keep their sections in it too:
one file says what the whole build folder was made from. `newsletter.build` decides what to skip.
That is also why the heavy stages (pydantic models, Jinja2, MRML, premailer) are imported inside the
functions that use them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import site
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsletter.errors import NewsletterError, NewsletterErrors, unique
from newsletter.files import atomic_write, yaml_files

if TYPE_CHECKING:
    from newsletter.project.campaign import Campaign
    from newsletter.project.settings import Project
    from newsletter.render.renderer import Rendered, Renderer

# The project's layout, as `Project` (project/settings.py) and the lock (payments/lock.py) name it;
# spelled out here so that checking a build costs no imports (tests/test_pipeline.py compares them).
SETTINGS_FILE = "newsletter.toml"
LOCK_FILE = "payments.lock.json"
AUTHORS_FILE = "authors.yaml"
CAMPAIGNS, COLUMNS, BOOKS, TEMPLATES = "campaigns", "columns", "books", "templates"

RECORD = ".build.json"  # in build/, beside index.html: what the last build was made from
RECORD_FORMAT = 2
OUTPUTS = ("email.html", "email.txt", "meta.json")  # what write_campaign writes


@dataclass(frozen=True)
class Built:
    rendered: Rendered
    out_dir: Path
    written: bool  # False when --strict refused it for its warnings


@dataclass(frozen=True)
class Stored:
    """A campaign left as its last build wrote it, its inputs unchanged: what that build reported."""

    id: str
    subject: str
    html_bytes: int
    warnings: tuple[str, ...]
    checks: str  # the checks' summary, "checks: 0 errors, 1 warning"
    out_dir: Path


def make_renderer(project: Project) -> Renderer:
    """The renderer every command uses: order buttons from the lock file, shop fallbacks flagged when
    the project sells through Stripe."""
    from newsletter.payments.lock import order_link_provider, sells_through_stripe
    from newsletter.render.renderer import Renderer

    return Renderer(project, order_link_provider(project), expect_payment_links=sells_through_stripe(project))


def render_campaigns(
    project: Project, ids: Sequence[str] = ()
) -> tuple[list[Rendered], list[NewsletterError]]:
    """Load and render the named campaigns (all when none are named); every error, none raised."""
    from newsletter.project.campaign import load_campaigns

    campaigns, load_errors = load_campaigns(project, ids)
    errors = list(load_errors)
    rendered: list[Rendered] = []
    if campaigns:
        renderer = make_renderer(project)
        for campaign in campaigns:
            try:
                rendered.append(renderer.render(campaign))
            except NewsletterError as error:
                errors.append(error)
    return rendered, unique(errors)


def load_one(project: Project, campaign_id: str) -> Campaign:
    """One campaign, or every reason it cannot be loaded (raised)."""
    from newsletter.project.campaign import load_campaigns

    campaigns, errors = load_campaigns(project, [campaign_id])
    if errors:
        raise NewsletterErrors(errors)
    return campaigns[0]


def render_one(project: Project, campaign_id: str) -> Rendered:
    """One campaign rendered as `newsletter build` would, without writing anything."""
    return make_renderer(project).render(load_one(project, campaign_id))


def write_campaign(rendered: Rendered, out_dir: Path) -> None:
    """The outputs; the caller has removed the campaign's record first (outputs half replaced must
    never pass for those it describes)."""
    atomic_write(out_dir / "email.html", rendered.html)
    atomic_write(out_dir / "email.txt", rendered.text)
    atomic_write(out_dir / "meta.json", json.dumps(meta(rendered), indent=2, ensure_ascii=False) + "\n")


def meta(rendered: Rendered) -> dict[str, Any]:
    """What the review page, the checks and the sender need to know without parsing the HTML."""
    campaign = rendered.campaign
    return {
        "id": campaign.id,
        "subject": campaign.subject,
        "preheader": campaign.preheader,
        "locale": campaign.locale,
        "template": campaign.template,
        "sizes": {"html_bytes": rendered.html_bytes, "text_bytes": rendered.text_bytes},
        "links": [
            {"url": link.url, "block": link.block, "kind": str(link.kind), "label": link.label}
            for link in rendered.links
        ],
        "warnings": list(rendered.warnings),
    }


# -- what a build depends on ---------------------------------------------------------------------


def find_root(start: Path) -> Path | None:
    """The project folder as `project.settings.find_project_root` finds it; None where it raises."""
    start = start.resolve()
    return next((folder for folder in (start, *start.parents) if (folder / SETTINGS_FILE).is_file()), None)


def campaign_paths(root: Path, ids: Sequence[str] = ()) -> tuple[dict[str, Path], dict[str, Path]] | None:
    """The campaign files asked for and all of them, by id, as `project.campaign.campaign_files` finds
    them; None when it would report a problem (two files with one id, an id with no file)."""
    folder = root / CAMPAIGNS
    found: dict[str, Path] = {}
    for path in yaml_files(folder):
        if path.stem in found:
            return None
        found[path.stem] = path
    if any(key not in found for key in ids):
        return None
    return ({key: found[key] for key in ids} if ids else found), found


def digest(path: Path) -> str | None:
    """sha256 of a file's bytes; None when there is no such file."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:  # a folder, a file we may not read: never equal to a digest
        return f"unreadable: {error.errno}"


@functools.cache
def tool_identity() -> str:
    """This tool's source and every installed distribution's version: an upgrade renders anew.

    Taken once per process, so that it describes the code that is running."""
    hashed = hashlib.sha256(sys.version.encode())
    package = Path(__file__).resolve().parent
    for rel, path in _files(package):
        if "__pycache__" not in rel:
            hashed.update(f"{rel}\0{digest(path)}\n".encode())
    folders: list[str] = getattr(site, "getsitepackages", list)()  # absent in old virtualenvs
    for folder in sorted({*folders, site.getusersitepackages()}):
        try:
            names = sorted(name for name in os.listdir(folder) if name.endswith((".dist-info", ".egg-info")))
        except OSError:
            continue
        hashed.update(f"{folder}\0{' '.join(names)}\n".encode())
    return hashed.hexdigest()


def _files(folder: Path) -> Iterator[tuple[str, Path]]:
    """Every entry under `folder` (symbolic links followed, as Jinja2 and the column reader do), sorted,
    with its path relative to `folder`; a link that leads nowhere is listed too."""
    seen: set[tuple[int, int]] = set()

    def walk(current: Path, prefix: str) -> Iterator[tuple[str, Path]]:
        try:
            status = current.stat()
            entries = sorted(os.scandir(current), key=lambda entry: entry.name)
        except OSError:
            return
        if (status.st_dev, status.st_ino) in seen:
            return
        seen.add((status.st_dev, status.st_ino))
        for entry in entries:
            if entry.is_dir():
                yield from walk(Path(entry.path), f"{prefix}{entry.name}/")
            else:
                yield f"{prefix}{entry.name}", Path(entry.path)

    return walk(folder, "")


class Inputs:
    """Everything a campaign's output depends on, each file read once per run.

    A campaign's key hashes this tool (`tool_identity`), the build options (--strict), the campaign
    file, newsletter.toml, the lock file, authors.yaml, every file under templates/ and columns/, and
    the files of the books it sells. A file missing counts too: a lock file that appears changes the
    order buttons. Columns are hashed whole because a column is found by name (`x` may be x.md or
    x.txt) and the loaded campaign does not say which file it read: editing any column renders every
    campaign again, never too few. `snapshot()` before rendering makes the key describe the files as
    they were when the render read them: a file saved during the render then shows as a change.
    """

    def __init__(self, root: Path, *, strict: bool = False) -> None:
        self.root = root
        self.strict = strict
        self._digests: dict[Path, str | None] = {}
        self._trees: dict[Path, str] = {}

    def digest(self, path: Path) -> str | None:
        if path not in self._digests:
            self._digests[path] = digest(path)
        return self._digests[path]

    def tree(self, folder: Path) -> str:
        if folder not in self._trees:
            hashed = hashlib.sha256(b"present" if folder.is_dir() else b"absent")
            for rel, path in _files(folder):
                hashed.update(f"{rel}\0{self.digest(path)}\n".encode())
            self._trees[folder] = hashed.hexdigest()
        return self._trees[folder]

    def snapshot(self, campaigns: Iterable[Path]) -> None:
        """Read now every file a render of these campaigns may read."""
        for path in (*campaigns, self.root / LOCK_FILE, self.root / AUTHORS_FILE):
            self.digest(path)
        self.gallery_key()
        self.tree(self.root / TEMPLATES)
        self.tree(self.root / COLUMNS)
        for path in (self.root / BOOKS).glob("*.yaml"):
            self.digest(path)

    def key(self, campaign: Path, books: Sequence[str]) -> str:
        root = self.root
        parts: list[Any] = [
            ["gallery", self.gallery_key()],  # the tool and newsletter.toml
            ["strict", self.strict],
            ["campaign", campaign.name, self.digest(campaign)],
            ["lock", self.digest(root / LOCK_FILE)],
            ["authors", self.digest(root / AUTHORS_FILE)],
            ["templates", self.tree(root / TEMPLATES)],
            ["columns", self.tree(root / COLUMNS)],
            *(["book", sku, self.digest(root / BOOKS / f"{sku}.yaml")] for sku in books),
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def gallery_key(self) -> str:
        """What the gallery depends on besides its cards and emails: the tool and the settings."""
        parts = [RECORD_FORMAT, tool_identity(), self.digest(self.root / SETTINGS_FILE)]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Record:
    """What one campaign's last build was made from, and what it wrote and reported."""

    inputs: str  # Inputs.key
    books: tuple[str, ...]  # the SKUs it sells, to compute the key again without loading it
    outputs: dict[str, str]  # file name in build/<id>/ -> digest of what was written
    subject: str
    html_bytes: int
    warnings: tuple[str, ...]
    checks: str
    card: dict[str, Any] = field(default_factory=dict)  # the gallery's card (newsletter.build)

    def stored(self, campaign_id: str, out_dir: Path) -> Stored:
        return Stored(campaign_id, self.subject, self.html_bytes, self.warnings, self.checks, out_dir)

    @classmethod
    def read(cls, data: object, required: Sequence[str] = OUTPUTS) -> Record | None:
        """The record a build wrote, or None when it cannot be trusted (of another shape, or not
        covering every file in `required`)."""
        if not isinstance(data, dict):
            return None
        try:
            record = cls(**data)
        except TypeError:
            return None
        books, outputs, warnings = data["books"], data["outputs"], data["warnings"]
        well_formed = (
            isinstance(record.inputs, str)
            and isinstance(books, list)
            and all(isinstance(sku, str) for sku in books)
            and isinstance(outputs, dict)
            and all(isinstance(value, str) for value in outputs.values())
            and set(required) <= set(outputs)
            and isinstance(record.subject, str)
            and isinstance(record.html_bytes, int)
            and isinstance(warnings, list)
            and all(isinstance(warning, str) for warning in warnings)
            and isinstance(record.checks, str)
            and isinstance(record.card, dict)
        )
        return cls(**{**data, "books": tuple(books), "warnings": tuple(warnings)}) if well_formed else None


def read_build_record(out: Path) -> dict[str, Any]:
    """`RECORD` in the build folder, by section: `campaigns` (a `Record` per campaign id), `gallery`
    and `site`, as `newsletter.build` and the site writer keep them. Empty when there is none, or one
    that cannot be read or is of another format: then everything is built anew."""
    try:
        data = json.loads((out / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.pop("format", None) != RECORD_FORMAT:
        return {}
    if not isinstance(data.get("campaigns", {}), dict):
        return {}
    return data


def update_build_record(
    out: Path,
    *,
    campaigns: dict[str, Record | None] | None = None,
    **sections: dict[str, Any] | None,
) -> None:
    """Change parts of the record and leave the rest: a campaign's entry (None removes it), a whole
    section (None removes it). Written atomically."""
    data = read_build_record(out)
    entries = dict(data.get("campaigns", {}))
    for key, record in (campaigns or {}).items():
        if record is None:
            entries.pop(key, None)
        else:
            entries[key] = asdict(record)
    data["campaigns"] = entries
    for name, section in sections.items():
        if section is None:
            data.pop(name, None)
        else:
            data[name] = section
    text = json.dumps({"format": RECORD_FORMAT, **data}, indent=2, ensure_ascii=False, sort_keys=True)
    atomic_write(out / RECORD, text + "\n")


def unchanged(
    inputs: Inputs,
    campaign: Path,
    out_dir: Path,
    stored: object,
    required: Sequence[str] = OUTPUTS,
) -> Record | None:
    """The record of a campaign whose inputs and outputs are as its last build left them, else None.
    `stored`: its entry in the build record."""
    record = Record.read(stored, required)
    if record is None or record.inputs != inputs.key(campaign, record.books):
        return None
    if any(digest(out_dir / name) != value for name, value in record.outputs.items()):
        return None
    return record

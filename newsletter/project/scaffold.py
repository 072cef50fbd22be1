"""`newsletter new`: a campaign file started from a column, so an editor edits instead of typing YAML.

The column goes into `columns/` without the page chrome above its title, so that the warning about
it is given once, here, and not by every build. The campaign starts with the locale's greeting and
sign-off, and a preheader cut where the writer paused.

The book promoted after the column ("Boek <title> met <co-authors>") is the campaign's book unless
`--book` names one: found in `books/` by title and co-authors, or started there as a file whose
`TODO`s fail the build until they are filled in. An existing book file is never written over.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from newsletter.errors import NewsletterError, did_you_mean
from newsletter.files import atomic_write
from newsletter.project.campaign import load_authors
from newsletter.project.columns import (
    Column,
    ColumnFile,
    Promotion,
    make_preheader,
    read_column_file,
)
from newsletter.project.columns.chrome import fold
from newsletter.project.columns.promotion import book_sku, promotes
from newsletter.project.models import CAMPAIGN_ID
from newsletter.project.settings import Project
from newsletter.project.validation import load_yaml

NO_BOOK = "TODO: a book SKU from books/"


@dataclass(frozen=True)
class _Greeting:
    """How a campaign of a locale greets and takes leave, as the sample campaigns do; `{first_name}`
    is the reader's name, or "lezer" / "reader" without one."""

    salutation: str
    column_by: str  # followed by the author's name
    column: str  # without an author's name
    closing: str


GREETINGS = {
    "nl": _Greeting(
        "Beste {first_name},",
        "Hieronder vind je de nieuwe column van",
        "Hieronder vind je onze nieuwe column.",
        "Hartelijke groet,",
    ),
    "en": _Greeting(
        "Dear {first_name},", "Below is the new column by", "Below is our new column.", "Kind regards,"
    ),
}


@dataclass(frozen=True)
class NewCampaign:
    """What `newsletter new` wrote, and what it has to tell: the column's warnings (page chrome it
    dropped) and notes on the book it took from the column's promotion."""

    path: Path
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _BookInfo:
    """A book file as far as matching needs it; read leniently, so that a started book with its
    TODOs still open is found again for the next column that promotes it."""

    sku: str
    title: str
    subtitle: str | None
    co_authors: tuple[str, ...]


def new_campaign(
    project: Project, campaign_id: str, column_file: Path, skus: Sequence[str], locale: str | None = None
) -> NewCampaign:
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
    found = _column_file(project, column_file)
    read = read_column_file(found, site_name=project.settings.brand.name)
    destination = _destination(project, found)
    existing = read if destination == found else _existing_copy(project, found, destination, read)
    _check_skus(project, skus)
    warnings = _place_column(found, destination, read, existing)
    column = read.column
    books, notes = (list(skus), []) if skus else _promoted_book(project, column)
    data = _campaign_data(project, column, destination.name, books, locale or project.settings.locale)
    header = (
        f"# Campaign '{campaign_id}', started from columns/{destination.name}. Edit, then: newsletter build\n"
    )
    atomic_write(
        target, header + yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
    )
    where = f"columns/{destination.name}"
    return NewCampaign(target, tuple(f"{where}: {warning}" for warning in warnings), tuple(notes))


def _check_skus(project: Project, skus: Sequence[str]) -> None:
    known = sorted(p.stem for p in project.books_dir.glob("*.yaml"))
    for sku in skus:
        if sku not in known:
            raise NewsletterError(
                f"unknown book '{sku}'",
                field="--book",
                hint=did_you_mean(sku, known) or f"add books/{sku}.yaml first",
            )


def _campaign_data(
    project: Project, column: Column, column_name: str, books: list[str], locale: str
) -> dict[str, object]:
    """The campaign as the column tells it; what it cannot tell is a TODO that fails the build."""
    teaser: dict[str, object] = {"column": column_name}
    if not column.url:
        teaser["url"] = "TODO: the https:// address of the full column"
    if not column.author and not column.author_name:
        teaser["author"] = "TODO: an author key from authors.yaml"
    greeting = GREETINGS[locale]
    return {
        "subject": column.title,
        "preheader": make_preheader(column.blocks),
        "locale": locale,
        "intro": _intro(greeting, _author_name(project, column)),
        "teasers": [teaser],
        "books": books or [NO_BOOK],
        "sign_off": f"{greeting.closing}\n\n{_literal(project.settings.sender.name)}\n",
    }


def _intro(greeting: _Greeting, author: str | None) -> str:
    """The greeting and a line to lead into the column: a start that reads well unedited, since
    a TODO here would reach the readers (nothing makes an intro fail the build)."""
    line = f"{greeting.column_by} {_literal(author)}." if author else greeting.column
    return f"{greeting.salutation}\n\n{line}\n"


def _author_name(project: Project, column: Column) -> str | None:
    """The byline's name, or the name authors.yaml gives the column's `author:` key; an authors
    file that cannot be read is left to `build` to report."""
    if column.author_name or not column.author:
        return column.author_name
    try:
        author = load_authors(project.authors_file).get(column.author)
    except NewsletterError:
        return None
    return author.name if author else None


def _literal(text: str) -> str:
    """A name as campaign text: its braces doubled, so that they are no merge field."""
    return text.replace("{", "{{").replace("}", "}}")


class _Dumper(yaml.SafeDumper):
    """Text of several lines as a `|` block, as editors write `intro:` and `sign_off:` by hand."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_Dumper.add_representer(str, _represent_text)


def _promoted_book(project: Project, column: Column) -> tuple[list[str], list[str]]:
    """The SKU of the book the column promotes, and a line saying how it was found or started."""
    promotion = column.promotion
    if promotion is None:
        return [], []
    quoted = f"“{promotion.line}”"
    books = _known_books(project)
    found = [b.sku for b in books if promotes(promotion, b.title, b.subtitle, b.co_authors)]
    if len(found) == 1:
        return found, [f"book: {found[0]}, promoted after the column ({quoted})"]
    if found:
        listed = ", ".join(found)
        return [], [f"book: the column's promotion {quoted} fits {listed}; pass --book to choose"]
    return _started_book(project, column, promotion, quoted)


def _started_book(
    project: Project, column: Column, promotion: Promotion, quoted: str
) -> tuple[list[str], list[str]]:
    """No book fits the promotion: start its file, unless that file exists (it is never replaced)."""
    sku = book_sku(promotion.title or "")
    if not sku:
        return [], [f"book: no file name can be made from the promotion {quoted}; pass --book"]
    path = project.books_dir / f"{sku}.yaml"
    if path.exists() or path.with_suffix(".yml").exists():
        hint = "its title or co-authors differ; pass --book, or correct the book file"
        return [], [f"book: books/{sku}.yaml exists already but is not the book promoted ({quoted}): {hint}"]
    atomic_write(path, _book_stub(column, promotion), what="book file")
    todo = "fill in its TODOs (price, cover_url, cover_alt, shop_url); until then the build fails"
    return [sku], [f"wrote books/{sku}.yaml for the book promoted after the column ({quoted}); {todo}"]


def _book_stub(column: Column, promotion: Promotion) -> str:
    """The promoted book as far as the column tells. `cover_alt` is left empty: a TODO text would be
    accepted as alt text, while an empty value fails the build like the other TODOs do."""
    names = [column.author_name] if column.author_name else []
    names += [name for name in promotion.co_authors if fold(name) not in {fold(n) for n in names}]
    known = {"title": promotion.title, **({"co_authors": names} if names else {})}
    todos = {
        "price": "TODO: the price in euros, like 24.95",
        "cover_url": "TODO: the https:// address of the cover image",
    }
    shop = {"shop_url": "TODO: the https:// address of the book in the web shop"}
    header = (
        f"# Started by `newsletter new` from the promotion after columns/{column.path.name}:\n"
        f"#   {promotion.line}\n"
        "# Fill in every TODO; until then `newsletter build` stops with an error for this book.\n"
    )
    alt = "cover_alt:  # TODO: describe the cover for screen readers; the build fails while it is empty\n"
    return header + _dump(known) + _dump(todos) + alt + _dump(shop)


def _dump(data: Mapping[str, object]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def _known_books(project: Project) -> list[_BookInfo]:
    """Every book file with a title; one that cannot be read is left to `build` to report."""
    books: list[_BookInfo] = []
    for path in sorted(project.books_dir.glob("*.yaml")):
        try:
            data, _ = load_yaml(path)
        except NewsletterError:
            continue
        if isinstance(data, dict) and isinstance(title := data.get("title"), str):
            subtitle = data.get("subtitle")
            names = data.get("co_authors")
            co_authors = tuple(str(n) for n in names) if isinstance(names, list) else ()
            books.append(
                _BookInfo(path.stem, title, subtitle if isinstance(subtitle, str) else None, co_authors)
            )
    return books


def _column_file(project: Project, column_file: Path) -> Path:
    # A relative path means the project's file first (the command may run with --project from elsewhere).
    candidates = [project.root / column_file, project.columns_dir / column_file, column_file]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise NewsletterError("column file not found", path=column_file, field="--column")
    return found


def _destination(project: Project, found: Path) -> Path:
    """Where the campaign's column lives: the file itself when it is in columns/, else its copy."""
    if found.resolve().parent == project.columns_dir.resolve():
        return found
    copy = project.columns_dir / found.name
    if copy.is_symlink() and not copy.exists():  # a dangling link: copying would write where it points
        raise NewsletterError(
            f"columns/{found.name} is a link to a file that does not exist",
            path=copy,
            field="--column",
            hint="remove the link, or pass another column file",
        )
    return copy


def _existing_copy(project: Project, found: Path, copy: Path, read: ColumnFile) -> ColumnFile | None:
    """The column already in columns/ under the same name, when it is the same column: the same
    download given again, copied before (with or without its page chrome). Another column under
    that name is an error: it is never written over."""
    if not copy.exists():
        return None
    try:
        existing = read_column_file(copy, site_name=project.settings.brand.name)
    except NewsletterError:
        existing = None
    if existing is None or existing.text != read.text:
        raise NewsletterError(
            f"columns/{found.name} exists already and is another file",
            path=found,
            field="--column",
            hint="rename the column file, or pass the one under columns/",
        )
    return existing


def _place_column(
    found: Path, destination: Path, read: ColumnFile, existing: ColumnFile | None
) -> tuple[str, ...]:
    """Put the column in columns/ without its page chrome, and say what chrome was dropped: here
    once, instead of in every build and check after it."""
    if existing is None:
        if read.cleaned:
            atomic_write(destination, read.text, what="column file")
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found, destination)
        return read.column.warnings
    if existing.cleaned:
        atomic_write(destination, existing.text, what="column file")
    return read.column.warnings or existing.column.warnings

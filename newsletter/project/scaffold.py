"""`newsletter new`: a campaign file started from a column, so an editor edits instead of typing YAML.

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
from newsletter.project.columns import Column, Promotion, make_excerpt, read_column
from newsletter.project.columns.chrome import fold
from newsletter.project.columns.promotion import book_sku, promotes
from newsletter.project.models import CAMPAIGN_ID
from newsletter.project.settings import Project
from newsletter.project.validation import load_yaml

NO_BOOK = "TODO: a book SKU from books/"


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
    column_path = _column_in_project(project, column_file)
    column = read_column(column_path, site_name=project.settings.brand.name)
    known = sorted(p.stem for p in project.books_dir.glob("*.yaml"))
    for sku in skus:
        if sku not in known:
            raise NewsletterError(
                f"unknown book '{sku}'",
                field="--book",
                hint=did_you_mean(sku, known) or f"add books/{sku}.yaml first",
            )
    books, notes = (list(skus), []) if skus else _promoted_book(project, column)
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
        "books": books or [NO_BOOK],
    }
    header = (
        f"# Campaign '{campaign_id}', started from columns/{column_path.name}. Edit, then: newsletter build\n"
    )
    atomic_write(target, header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100))
    where = f"columns/{column_path.name}"
    return NewCampaign(target, tuple(f"{where}: {warning}" for warning in column.warnings), tuple(notes))


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


def _column_in_project(project: Project, column_file: Path) -> Path:
    # A relative path means the project's file first (the command may run with --project from elsewhere).
    candidates = [project.root / column_file, project.columns_dir / column_file, column_file]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise NewsletterError("column file not found", path=column_file, field="--column")
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

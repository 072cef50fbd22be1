"""Loading campaigns, books and authors from the project's YAML files.

Loading is two steps. The files are validated as written (`schema.py`: pydantic models that mirror
the YAML, so that every error names the key and line the editor typed); then references to columns,
books and authors are resolved into the plain frozen dataclasses of `models.py`, which the renderer
uses and never has to check. The models are importable from here too, as they always were.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from newsletter import placeholders
from newsletter.errors import NewsletterError, NewsletterErrors, did_you_mean, unique
from newsletter.files import read_user_text, yaml_files
from newsletter.placeholders import without_fields
from newsletter.project import price_law
from newsletter.project.columns import Column, make_excerpt, read_column
from newsletter.project.models import CAMPAIGN_ID, Author, Book, Campaign, PriceChange, Teaser, Variant
from newsletter.project.schema import AuthorsFile, BookFile, CampaignFile, TeaserEntry
from newsletter.project.settings import Project
from newsletter.project.validation import LineMap, Loc, field_name, load_yaml, validate

__all__ = [
    "CAMPAIGN_ID",
    "Author",
    "Book",
    "Campaign",
    "Library",
    "Teaser",
    "campaign_files",
    "load_authors",
    "load_book",
    "load_campaign",
    "load_campaigns",
]

T = TypeVar("T")


# The name of a file in books/: no folders, no leading dot.
BOOK_SKU = re.compile(r"[\w][\w.-]*", re.ASCII)


@dataclass
class Library:
    """Books and authors loaded once per run and shared by every campaign that refers to them.

    A broken book file is reported once, however many campaigns list it.
    """

    project: Project
    _books: dict[str, Book | NewsletterError] = field(default_factory=dict)
    _authors: dict[str, Author] | None = None

    def book(self, sku: str) -> Book:
        if sku not in self._books:
            try:
                path = self.project.books_dir / f"{sku}.yaml"
                self._books[sku] = load_book(path, sku, language=self.project.settings.locale)
            except NewsletterError as error:
                self._books[sku] = error
        found = self._books[sku]
        if isinstance(found, NewsletterError):
            raise found
        return found

    def known_skus(self) -> list[str]:
        return sorted(path.stem for path in self.project.books_dir.glob("*.yaml"))

    @property
    def authors(self) -> dict[str, Author]:
        if self._authors is None:
            self._authors = load_authors(self.project.authors_file)
        return self._authors


def load_authors(path: Path) -> dict[str, Author]:
    if not path.exists():
        return {}
    data, lines = load_yaml(path)
    entries = validate(AuthorsFile, data or {}, path=path, line_of=_line_of(lines)).root
    return {
        key: Author(name=entry.name, handle=entry.handle, bio=entry.bio, photo=entry.photo)
        for key, entry in entries.items()
    }


def load_book(path: Path, sku: str, *, language: str = "nl") -> Book:
    """One book file; `language` is the book's when the file gives none (the project's locale)."""
    data, lines = load_yaml(path)
    entry = validate(BookFile, _mapping(data, path), path=path, line_of=_line_of(lines))
    problems = price_law.history_problems(entry)
    if problems:
        raise NewsletterErrors([_error_at(path, lines, loc, message) for loc, message in problems])
    return Book(
        sku=sku,
        title=entry.title,
        subtitle=entry.subtitle,
        co_authors=tuple(entry.co_authors),
        price=entry.price,
        currency=entry.currency,
        cover_url=entry.cover_url,
        cover_alt=entry.cover_alt,
        shop_url=entry.shop_url,
        cta=entry.cta,
        language=entry.language or language,
        format=entry.format,
        published=entry.published,
        price_since=entry.price_since or entry.published,
        price_vat_change=entry.price_vat_change,
        price_history=tuple(PriceChange(e.price, e.since, e.vat_change) for e in entry.price_history),
        fixed_price_lifted=entry.fixed_price_lifted,
    )


def campaign_files(
    project: Project, ids: Sequence[str] = ()
) -> tuple[dict[str, Path], list[NewsletterError]]:
    """Every campaign file by id (its file name), and the problems found: two files with one id are an
    error, not a choice, and so is asking for a campaign that does not exist."""
    found: dict[str, Path] = {}
    errors: list[NewsletterError] = []
    for path in yaml_files(project.campaigns_dir):
        campaign_id = path.stem
        if campaign_id in found:
            errors.append(
                NewsletterError(
                    f"duplicate campaign id '{campaign_id}': {found[campaign_id].name} has it too",
                    path=path,
                    hint="rename one of the files; the file name is the campaign id",
                )
            )
            continue
        found[campaign_id] = path
    for campaign_id in ids:
        if campaign_id not in found:
            errors.append(
                NewsletterError(
                    f"no campaign '{campaign_id}' in {project.campaigns_dir.name}/",
                    hint=did_you_mean(campaign_id, found) or f"known: {', '.join(found) or 'none'}",
                )
            )
    wanted = {key: found[key] for key in ids if key in found} if ids else found
    return wanted, errors


def load_campaign(path: Path, library: Library) -> Campaign:
    """One campaign with every reference resolved; all of its problems are raised together."""
    campaign_id = path.stem
    if not CAMPAIGN_ID.fullmatch(campaign_id):
        raise NewsletterError(
            "the file name is the campaign id and may hold only lower-case letters, digits, '-' and '_'",
            path=path,
        )
    data, lines = load_yaml(path)
    try:
        entry = validate(CampaignFile, _mapping(data, path), path=path, line_of=_line_of(lines))
    except NewsletterErrors as schema:
        # An editor fixes everything in one round: what the campaign refers to is checked even so.
        raise NewsletterErrors([*schema.errors, *_reference_errors(data, path, lines, library)]) from None
    project = library.project
    errors = _template_errors(entry.template, path, lines, project)
    errors += _topic_errors(entry.audience.topics, path, lines, project)
    teasers = [
        _collect(errors, partial(_resolve_teaser, teaser, ("teasers", i), path, lines, library))
        for i, teaser in enumerate(entry.teasers)
    ]
    books = [
        _collect(errors, partial(_resolve_book, sku, ("books", i), path, lines, library))
        for i, sku in enumerate(entry.books)
    ]
    if errors:
        raise NewsletterErrors(errors)
    return Campaign(
        id=campaign_id,
        path=path,
        subject=entry.subject,
        preheader=entry.preheader,
        locale=entry.locale or project.settings.locale,
        teasers=tuple(t for t in teasers if t is not None),
        books=tuple(b for b in books if b is not None),
        intro=entry.intro,
        sign_off=entry.sign_off,
        template=entry.template,
        audience_tags=tuple(entry.audience.tags),
        audience_topics=tuple(entry.audience.topics),
        topics_match=entry.audience.topics_match,
        exclude_buyers=entry.audience.exclude_buyers,
        welcome=entry.welcome,
        variants=tuple(
            Variant(name, variant.subject or entry.subject, variant.preheader or entry.preheader)
            for name, variant in zip("ABCD", entry.variants, strict=False)
        ),
        ends=entry.ends,
        warnings=tuple(w for teaser in teasers if teaser is not None for w in teaser.warnings),
        publish=entry.publish,
        title=public_title(entry.title, entry.subject, campaign_id),
    )


def public_title(title: str | None, subject: str, campaign_id: str) -> str:
    """What public pages call the campaign. `{{` and `}}` are literal braces in a `title:` as in the
    subject (it may hold no merge field, loading refused one), so the page shows the brace once. A
    subject that is little more than its merge field ("{first_name}!") leaves only punctuation, no
    name for a page: then the campaign's id."""
    if title:
        return without_fields(title)
    public = without_fields(subject)
    return public if any(char.isalnum() for char in public) else campaign_id


def load_campaigns(project: Project, ids: Sequence[str] = ()) -> tuple[list[Campaign], list[NewsletterError]]:
    """Every campaign that loads, and the problems of those that do not, so one run reports them all."""
    library = Library(project)
    campaigns: list[Campaign] = []
    paths, errors = campaign_files(project, ids)
    for path in paths.values():
        campaign = _collect(errors, partial(load_campaign, path, library))
        if campaign is not None:
            campaigns.append(campaign)
    return campaigns, unique(errors)


def _check_column_fields(column: Column, fields: Mapping[str, str | None]) -> None:
    """Text taken from a column reaches readers as a teaser: its placeholders are held to the
    campaign's rule, and named at the column's line that holds them."""
    found = [
        (name, problem) for name, value in fields.items() for problem in placeholders.problems(value or "")
    ]
    if not found:
        return
    source = read_user_text(column.path, what="column file").split("\n")
    errors = []
    for name, (tag, message, hint) in found:
        line = next((n for n, text in enumerate(source, start=1) if tag in text), None)
        errors.append(NewsletterError(message, path=column.path, line=line, field=name, hint=hint))
    raise NewsletterErrors(errors)


def _template_errors(template: str, path: Path, lines: LineMap, project: Project) -> list[NewsletterError]:
    errors = []
    for suffix in (".mjml.j2", ".txt.j2"):  # every email has an HTML and a text part
        if not (project.templates_dir / f"{template}{suffix}").is_file():
            message = f"no such template: templates/{template}{suffix}"
            errors.append(_error_at(path, lines, ("template",), message, _template_hint(project)))
    return errors


def _topic_errors(topics: list[str], path: Path, lines: LineMap, project: Project) -> list[NewsletterError]:
    known = project.settings.topic_keys()
    hint = (
        f"the topics of newsletter.toml: {', '.join(known)}"
        if known
        else "declare it under [[topics]] in newsletter.toml"
    )
    return [
        _error_at(path, lines, ("audience", "topics", i), f"no such topic: {topic}", hint)
        for i, topic in enumerate(topics)
        if topic not in known
    ]


def _reference_errors(data: Any, path: Path, lines: LineMap, library: Library) -> list[NewsletterError]:
    """The references of a campaign that failed its schema, checked as far as its values allow."""
    if not isinstance(data, dict):
        return []
    template = data.get("template", "email")
    errors = _template_errors(template, path, lines, library.project) if isinstance(template, str) else []
    teasers, books = data.get("teasers"), data.get("books")
    for i, teaser in enumerate(teasers if isinstance(teasers, list) else []):
        if isinstance(teaser, dict):
            errors += _teaser_reference_errors(teaser, ("teasers", i), path, lines, library)
    for i, sku in enumerate(books if isinstance(books, list) else []):
        if isinstance(sku, str):
            _collect(errors, partial(_resolve_book, sku, ("books", i), path, lines, library))
    return errors


def _teaser_reference_errors(
    teaser: dict[str, Any], loc: Loc, path: Path, lines: LineMap, library: Library
) -> list[NewsletterError]:
    errors: list[NewsletterError] = []
    name, author = teaser.get("column"), teaser.get("author")
    column = None
    if isinstance(name, str):
        column = _collect(errors, partial(_read_teaser_column, name, loc, path, lines, library))
    if column is not None or isinstance(author, str):
        entry = TeaserEntry.model_construct(author=author if isinstance(author, str) else None)
        _collect(errors, partial(_resolve_author, entry, column, loc, path, lines, library))
    return errors


def _resolve_teaser(entry: TeaserEntry, loc: Loc, path: Path, lines: LineMap, library: Library) -> Teaser:
    column = _read_teaser_column(entry.column, loc, path, lines, library) if entry.column else None
    url = entry.url or (column.url if column else None)
    if url is None:
        raise _error_at(path, lines, loc, "needs a 'url' (the column file has none)", field=(*loc, "url"))
    title = entry.title or (column.title if column else "")
    excerpt = entry.excerpt
    if excerpt is None and column is not None:
        excerpt = make_excerpt(column.blocks, entry.excerpt_words)
    if column is not None:
        _check_column_fields(column, {"title": title, "label": column.label, "excerpt": excerpt})
    return Teaser(
        title=title,
        label=entry.label or (column.label if column else None),
        url=url,
        excerpt=(excerpt or "").strip(),
        author=_resolve_author(entry, column, loc, path, lines, library),
        image=entry.image or (column.image if column else None),
        image_alt=entry.image_alt or (column.image_alt if column else None),
        warnings=tuple(f"columns/{column.path.name}: {w}" for w in column.warnings) if column else (),
    )


def _read_teaser_column(name: str, loc: Loc, path: Path, lines: LineMap, library: Library) -> Column:
    columns_dir = library.project.columns_dir
    candidates = [columns_dir / name] + (
        [] if Path(name).suffix else [columns_dir / f"{name}{ext}" for ext in (".md", ".txt")]
    )
    inside = all(c.resolve().is_relative_to(columns_dir.resolve()) for c in candidates)
    existing = [c for c in candidates if c.is_file()] if inside else []
    if not existing:
        known = sorted(p.name for p in columns_dir.glob("*") if p.is_file()) if columns_dir.is_dir() else []
        hint = (
            did_you_mean(name, known) or "give a file name under columns/, like de-kunst-van-het-weglaten.txt"
        )
        raise _error_at(path, lines, (*loc, "column"), f"column file not found: columns/{name}", hint)
    return read_column(existing[0], site_name=library.project.settings.brand.name)


def _resolve_author(
    entry: TeaserEntry, column: Column | None, loc: Loc, path: Path, lines: LineMap, library: Library
) -> Author:
    key = entry.author or (column.author if column else None)
    authors = library.authors
    if key is not None:
        if key in authors:
            return authors[key]
        where = (*loc, "author") if entry.author else (*loc, "column")
        origin = f" (named in columns/{column.path.name})" if column and not entry.author else ""
        hint = did_you_mean(key, authors) or f"add '{key}' to authors.yaml"
        raise _error_at(path, lines, where, f"unknown author '{key}'{origin}", hint, field=(*loc, "author"))
    if column is not None and column.author_handle:
        for author in authors.values():
            if author.handle and author.handle.lower() == column.author_handle.lower():
                return author
    if column is not None and column.author_name:
        return Author(name=column.author_name, handle=column.author_handle, bio=column.author_bio)
    raise _error_at(
        path,
        lines,
        loc,
        "needs an 'author' (a key in authors.yaml); the column has no byline",
        field=(*loc, "author"),
    )


def _resolve_book(sku: str, loc: Loc, path: Path, lines: LineMap, library: Library) -> Book:
    """A book is named by its file under books/, never by a path: a campaign must not be able to
    put any YAML file on the disk into an email (the same rule as for columns)."""
    books_dir = library.project.books_dir
    if not BOOK_SKU.fullmatch(sku) or not (books_dir / f"{sku}.yaml").resolve().is_relative_to(
        books_dir.resolve()
    ):
        hint = "name a book by its file name in books/ without '.yaml', like schrijven-is-schrappen"
        raise _error_at(path, lines, loc, f"'{sku}' is not a book name", hint)
    if not (books_dir / f"{sku}.yaml").is_file():
        hint = did_you_mean(sku, library.known_skus()) or f"add books/{sku}.yaml"
        raise _error_at(path, lines, loc, f"unknown book '{sku}'", hint)
    return library.book(sku)


def _error_at(
    path: Path, lines: LineMap, loc: Loc, message: str, hint: str | None = None, *, field: Loc | None = None
) -> NewsletterError:
    """An error at the YAML line of `loc`, named as `field` (defaults to `loc`)."""
    return NewsletterError(
        message, path=path, line=lines.line(loc), field=field_name(field or loc), hint=hint
    )


def _template_hint(project: Project) -> str:
    names = sorted(p.name.removesuffix(".mjml.j2") for p in project.templates_dir.glob("*.mjml.j2"))
    return f"templates/ has: {', '.join(names) or 'no .mjml.j2 templates'}"


def _mapping(data: Any, path: Path) -> Any:
    if data is None:
        raise NewsletterError("the file is empty", path=path)
    return data


def _line_of(lines: LineMap) -> Callable[[Loc, bool], int | None]:
    return lambda loc, key: lines.line(loc, key=key)


def _collect(errors: list[NewsletterError], load: Callable[[], T]) -> T | None:
    try:
        return load()
    except NewsletterError as error:
        errors.append(error)
        return None

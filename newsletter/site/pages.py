"""The static site's files: the web versions (the built emails, made pages of the site: a title, a
main landmark and a heading), and per locale an archive page and an Atom feed.

Campaign text is the editors' and may hold anything, so the archive and the feed come from Jinja2
templates with autoescaping on (`templates/site_*.j2` in this package). Dates are written as readers
of the locale write them (Babel, with the locales the email's prices use) on the page, and as
RFC 3339 in the feed.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from newsletter.errors import NewsletterError
from newsletter.render.i18n import BABEL_LOCALES
from newsletter.site.layout import Layout

EMPTY_FEED_UPDATED = "1970-01-01T00:00:00Z"  # a feed without entries needs one too, the same every build

WORDS: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Nieuwsbrief",
        "heading": "Eerdere nieuwsbrieven",
        "empty": "Er zijn nog geen nieuwsbrieven verschenen.",
        "feed": "Volg de nieuwsbrief via de Atom-feed",
    },
    "en": {
        "title": "Newsletter",
        "heading": "Past newsletters",
        "empty": "No newsletters have appeared yet.",
        "feed": "Follow the newsletter through its Atom feed",
    },
}

_TITLE = re.compile(rb"<title>.*?</title>", re.IGNORECASE | re.DOTALL)
_BODY = re.compile(rb"(<body\b[^>]*>)(.*)(</body\s*>)", re.IGNORECASE | re.DOTALL)
_ARTICLE = re.compile(rb"<div\b[^>]*\brole=\"article\"[^>]*>", re.IGNORECASE)
_LABEL = re.compile(rb"\baria-label=\"[^\"]*\"", re.IGNORECASE)
# Read by screen readers, shown to no one: the usual "visually hidden" rules, inline because the page
# is the email and has no style sheet of the site's.
VISUALLY_HIDDEN = (
    "position:absolute;width:1px;height:1px;margin:-1px;padding:0;border:0;overflow:hidden;"
    "clip:rect(0 0 0 0);clip-path:inset(50%);white-space:nowrap"
)


@dataclass(frozen=True)
class Item:
    """One published campaign as the archive and the feed show it."""

    id: str
    title: str  # the subject, merge fields at their fallbacks
    summary: str  # the preheader, likewise
    url: str  # the web version
    updated: str  # RFC 3339 in UTC: its first send, or its file's date when published unsent


@dataclass(frozen=True)
class Archive:
    """One locale's archive: the page at `url`, the feed at `feed_url`, the items newest first."""

    locale: str
    brand: str
    colours: Mapping[str, str]  # primary, text and muted, from the settings' [colours]
    url: str
    feed_url: str
    items: tuple[Item, ...]

    @property
    def name(self) -> str:
        return f"{self.brand} – {WORDS[self.locale]['title']}"

    @property
    def updated(self) -> str:
        return max((item.updated for item in self.items), default=EMPTY_FEED_UPDATED)


def site_files(
    layout: Layout,
    brand: str,
    colours: Mapping[str, str],
    items: Sequence[Mapping[str, Any]],
    out: Path,
    locales: Sequence[str],
) -> dict[str, bytes]:
    """Every file of the site by its path in the site folder: each published campaign's built
    email (`out/<id>/email.html`) as its web version, then each locale's archive and feed."""
    files: dict[str, bytes] = {}
    for item in items:
        email = _built_email(out / item["id"] / "email.html")
        _add(files, layout.web_version_file(item["id"]), web_version(email, item["title"]))
    env = _environment()
    for locale in locales:
        listed = [
            Item(item["id"], item["title"], item["summary"], layout.web_version(item["id"]), item["updated"])
            for item in items
            if item["locale"] == locale
        ]
        archive = Archive(
            locale, brand, colours, layout.archive_url(locale), layout.feed_url(locale), newest_first(listed)
        )
        for name, text in archive_files(archive, env).items():
            _add(files, layout.archive_folder(locale) + name, text.encode("utf-8"))
    return files


def archive_files(archive: Archive, env: jinja2.Environment) -> dict[str, str]:
    """The archive's page (`index.html`) and its Atom feed (`feed.xml`).

    The feed follows RFC 4287: its id is the archive's address and each entry's id its web version's
    address, which stays the campaign's for as long as it is published.
    """
    words = WORDS[archive.locale]
    entries = [
        {"item": item, "day": _long_date(item.updated, archive.locale), "date": item.updated[:10]}
        for item in archive.items
    ]
    page = env.get_template("site_archive.html.j2").render(
        archive=archive, entries=entries, t=words, colours=archive.colours
    )
    feed = env.get_template("site_feed.xml.j2").render(archive=archive)
    return {"index.html": page, "feed.xml": feed}


def newest_first(items: Sequence[Item]) -> tuple[Item, ...]:
    """By date, newest first; campaigns of one moment by id, so that every build lists them alike."""
    by_id = sorted(items, key=lambda item: item.id)
    return tuple(sorted(by_id, key=lambda item: item.updated, reverse=True))


def _long_date(stamp: str, locale: str) -> str:
    """'2 december 2026' in Dutch, '2 December 2026' in English: the day in UTC, as the log has it."""
    from babel.dates import format_date  # ~30 ms to import: paid only when pages are written

    day = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").date()
    return str(format_date(day, format="long", locale=BABEL_LOCALES[locale]))


def _environment() -> jinja2.Environment:
    """Our own templates, not the user's: no sandbox, but autoescaped, the feed's XML as the page's HTML."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("newsletter.site", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _add(files: dict[str, bytes], name: str, data: bytes) -> None:
    if name in files:
        raise NewsletterError(
            f"two pages of the static site would be {name}",
            hint="a campaign id equal to a locale (nl, en) or to 'index' takes an archive's place; "
            "rename the campaign",
        )
    files[name] = data


def web_version(email: bytes, title: str) -> bytes:
    """The built email as a page of the site: titled, named and given the landmarks a web page needs.
    Only the site's copy changes; the email goes to inboxes as it was built."""
    return _landmarked(_labelled(_titled(email, title), title), title)


def _landmarked(email: bytes, title: str) -> bytes:
    """The body inside `<main>`, opened by an `<h1>` with the public title: a page's one main landmark
    and top heading, which screen readers jump to. The email has neither (its headings start at the
    teasers' h2), and a visible h1 would change how it looks, so the heading is visually hidden."""
    found = _BODY.search(email)
    if not found:
        return email
    heading = f'<main><h1 style="{VISUALLY_HIDDEN}">{html.escape(title, quote=False)}</h1>'.encode()
    opened, content, closed = found.groups()
    return email[: found.start()] + opened + heading + content + b"</main>" + closed + email[found.end() :]


def _labelled(email: bytes, title: str) -> bytes:
    """The email's `role="article"` is named by its `aria-label`, MJML's copy of the subject, which
    for no one in particular reads "lezer, ..." too; on the site it is the public title."""
    label = b'aria-label="' + html.escape(title, quote=True).encode("utf-8") + b'"'
    return _ARTICLE.sub(lambda tag: _LABEL.sub(lambda _: label, tag.group(0), count=1), email, count=1)


def _titled(email: bytes, title: str) -> bytes:
    """The web version's <title> is the public title: the email's own is the reader's subject, which
    for no one in particular would read "lezer, ..."."""
    escaped = html.escape(title, quote=False).encode("utf-8")
    return _TITLE.sub(lambda _: b"<title>" + escaped + b"</title>", email, count=1)


def _built_email(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise NewsletterError(f"cannot read the built email: {exc.strerror or exc}", path=path) from None

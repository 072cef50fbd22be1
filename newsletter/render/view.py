"""The view: everything the templates print, decided before any template runs.

Templates stay simple (they print, they do not decide), and every link of the email is known, with
its block and kind, before the email exists. Values that differ per recipient are merge markers here;
`merge_defaults` holds what they say for no one in particular.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from newsletter.project.columns.excerpt import BULLET
from newsletter.project.models import Book, Campaign, Teaser
from newsletter.project.settings import Settings
from newsletter.render.i18n import STRINGS, format_co_authors, format_price
from newsletter.render.links import (
    Link,
    LinkKind,
    OrderLinkProvider,
    content_link,
    kind_of,
    shop_page_link,
)
from newsletter.render.merge import as_written, marker, personal, personal_or_none
from newsletter.render.template_data import plain


@dataclass(frozen=True)
class TeaserView:
    block: str
    title: str
    label: str | None
    url: str
    excerpt: str
    # The excerpt as the HTML shows it: ("p", (text,)) per paragraph or heading, ("ul", items) per
    # list; the excerpt keeps the column's blank lines, and "• " before each list item.
    excerpt_blocks: tuple[tuple[str, tuple[str, ...]], ...]
    author_name: str
    author_handle: str | None
    author_bio: str | None
    image: str | None
    image_alt: str | None


@dataclass(frozen=True)
class BookView:
    block: str
    title: str
    subtitle: str | None
    co_authors: str
    price: str
    cover_url: str
    cover_alt: str
    order_url: str
    order_kind: str
    cta: str


@dataclass(frozen=True)
class View:
    campaign: Campaign
    settings: Settings
    t: dict[str, str]
    intro: tuple[str, ...]
    sign_off: tuple[str, ...]
    teasers: tuple[TeaserView, ...]
    books: tuple[BookView, ...]
    home_url: str
    web_version_url: str
    unsubscribe_url: str
    preferences_url: str  # "" without [signup]: the footer then has no preference link
    links: tuple[Link, ...] = field(repr=False, default=())
    merge_defaults: Mapping[str, str] = field(repr=False, default_factory=dict)

    def context(self) -> dict[str, Any]:
        """What the templates see: plain values only (`sandbox.py` says why), and of the settings
        only what the content may show, not how mail is delivered or books are sold."""
        settings = self.settings.model_dump(exclude=NOT_FOR_TEMPLATES)
        return {
            "campaign": plain(
                replace(
                    self.campaign,
                    subject=personal(self.campaign.subject),
                    preheader=personal(self.campaign.preheader),
                )
            ),
            "settings": plain(settings),
            "brand": plain(self.settings.brand),
            "colours": plain(self.settings.colours),
            "t": plain(self.t),
            "intro": self.intro,
            "sign_off": self.sign_off,
            "teasers": plain(self.teasers),
            "books": plain(self.books),
            "home_url": self.home_url,
            "web_version_url": self.web_version_url,
            "unsubscribe_url": self.unsubscribe_url,
            "preferences_url": self.preferences_url,
        }


# What mail delivery, payments and the subscriber store are configured with, and the editors' own
# addresses: no business of an email's content.
NOT_FOR_TEMPLATES: dict[str, Any] = {
    **dict.fromkeys(("smtp", "dkim", "stripe", "audience", "bounces", "site"), True),
    "sender": {"test_recipients"},
}


def build_view(
    campaign: Campaign, settings: Settings, order_link: OrderLinkProvider = shop_page_link
) -> View:
    """Per-recipient values (name, order and footer links) become merge markers, with their defaults."""
    words = dict(STRINGS[campaign.locale])
    words["why"] = words["why"].format(brand=settings.brand.name)
    home = content_link(
        settings.site_url,
        block="header",
        label=settings.brand.name,
        campaign_id=campaign.id,
        settings=settings,
    )
    teasers = tuple(
        _teaser_view(teaser, f"teaser-{number}", campaign, settings)
        for number, teaser in enumerate(campaign.teasers, start=1)
    )
    orders = [order_link(campaign, book, f"book-{number}") for number, book in enumerate(campaign.books, 1)]
    books = tuple(
        _book_view(book, replace(order, url=marker(order_field(order.block))), campaign.locale, words)
        for book, order in zip(campaign.books, orders, strict=True)
    )
    return View(
        campaign=campaign,
        settings=settings,
        t=words,
        intro=paragraphs(personal(campaign.intro or "")),
        sign_off=paragraphs(personal(campaign.sign_off or "")),
        teasers=teasers,
        books=books,
        home_url=home.url,
        web_version_url=marker("web_version_url"),
        unsubscribe_url=marker("unsubscribe_url"),
        preferences_url=marker("preferences_url") if settings.signup else "",
        links=(
            home,
            *_content_links(teasers, settings),
            *_order_links(orders, books),
            *_footer_links(campaign, settings, words),
        ),
        merge_defaults=_merge_defaults(campaign, settings, words, orders),
    )


def _content_links(teasers: Sequence[TeaserView], settings: Settings) -> list[Link]:
    return [
        Link(url=view.url, block=view.block, kind=kind_of(view.url, settings), label=as_written(view.title))
        for view in teasers
    ]


def _order_links(orders: Sequence[Link], books: Sequence[BookView]) -> list[Link]:
    """The inventory lists the real order URL; the view has its marker, filled per recipient."""
    return [
        Link(url=order.url, block=order.block, kind=order.kind, label=as_written(view.cta))
        for order, view in zip(orders, books, strict=True)
    ]


def _footer_links(campaign: Campaign, settings: Settings, words: Mapping[str, str]) -> list[Link]:
    web_version = settings.web_version(campaign.id)
    preferences = (
        [Link(url=settings.signup.url, block="footer", kind=LinkKind.PREFERENCES, label=words["preferences"])]
        if settings.signup
        else []
    )
    return [
        Link(url=web_version, block="footer", kind=LinkKind.WEB_VERSION, label=words["view_in_browser"]),
        *preferences,
        Link(
            url=settings.unsubscribe_url,
            block="footer",
            kind=LinkKind.UNSUBSCRIBE,
            label=words["unsubscribe"],
        ),
    ]


def _merge_defaults(
    campaign: Campaign, settings: Settings, words: Mapping[str, str], orders: Sequence[Link]
) -> dict[str, str]:
    """What the merge fields say for no one in particular: the web version and every review."""
    defaults = {"first_name": words["reader"], "unsubscribe_url": settings.unsubscribe_url}
    if settings.signup:  # a review or the web version: the sign-up page, which leads on
        defaults["preferences_url"] = settings.signup.url
    defaults.update({order_field(order.block): order.url for order in orders})
    defaults["web_version_url"] = settings.web_version(campaign.id)
    return defaults


def order_field(block: str) -> str:
    """The merge field of a book's order link: block "book-2" has field "order_book_2"."""
    return "order_" + block.replace("-", "_")


def excerpt_blocks(excerpt: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Paragraphs, and the list items that follow each other gathered into one list."""
    blocks: list[tuple[str, tuple[str, ...]]] = []
    for paragraph in (part.strip() for part in excerpt.split("\n\n")):
        if not paragraph:
            continue
        if paragraph.startswith(f"{BULLET} "):
            item = paragraph.removeprefix(BULLET).strip()
            if blocks and blocks[-1][0] == "ul":
                blocks[-1] = ("ul", (*blocks[-1][1], item))
            else:
                blocks.append(("ul", (item,)))
        else:
            blocks.append(("p", (" ".join(paragraph.split()),)))
    return tuple(blocks)


def _teaser_view(teaser: Teaser, block: str, campaign: Campaign, settings: Settings) -> TeaserView:
    link = content_link(
        teaser.url, block=block, label=teaser.title, campaign_id=campaign.id, settings=settings
    )
    return TeaserView(
        block=block,
        title=personal(teaser.title),
        label=personal_or_none(teaser.label),
        url=link.url,
        excerpt=personal(teaser.excerpt),
        excerpt_blocks=excerpt_blocks(personal(teaser.excerpt)),
        author_name=teaser.author.name,
        author_handle=teaser.author.handle,
        author_bio=personal_or_none(teaser.author.bio),
        image=teaser.image,
        image_alt=teaser.image_alt,
    )


def _book_view(book: Book, order: Link, locale: str, words: dict[str, str]) -> BookView:
    return BookView(
        block=order.block,
        title=personal(book.title),
        subtitle=personal_or_none(book.subtitle),
        co_authors=format_co_authors(book.co_authors, locale),
        price=format_price(book.price, book.currency, locale),
        cover_url=book.cover_url,
        cover_alt=book.cover_alt,
        order_url=order.url,
        order_kind=str(order.kind),
        cta=personal(book.cta) if book.cta else words["order_now"],
    )


def paragraphs(text: str | None) -> tuple[str, ...]:
    """Editors separate paragraphs with a blank line in YAML block text."""
    if not text:
        return ()
    return tuple(" ".join(part.split()) for part in re.split(r"\n\s*\n", text.strip()) if part.strip())

"""The campaign as the rest of the pipeline sees it: plain frozen data, every reference resolved.

Loading (`campaign.py`) checks the files and resolves columns, books and authors into these, so the
renderer, the payments and the sender never have to check anything again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

# A campaign id is its file name, and ends up in URLs (UTM, the web version) and folder names.
CAMPAIGN_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")

# The largest `unit_amount` Stripe accepts: eight digits of cents, € 999.999,99.
MAX_PRICE_CENTS = 99_999_999


@dataclass(frozen=True)
class Author:
    name: str
    handle: str | None  # without the "@"
    bio: str | None
    photo: str | None = None


@dataclass(frozen=True)
class PriceChange:
    """An earlier price of a book and the day it took effect."""

    price: Decimal
    since: date
    vat_change: bool = False  # it took effect because the VAT rate changed


@dataclass(frozen=True)
class Book:
    sku: str
    title: str
    subtitle: str | None
    co_authors: tuple[str, ...]
    price: Decimal
    currency: str
    cover_url: str
    cover_alt: str
    shop_url: str
    cta: str | None  # None: the locale's default ("BESTEL NU!" / "ORDER NOW")
    # What the fixed book price law asks about (project/price_law.py):
    language: str = "nl"  # a two-letter code: the book file's `language`, else the project's locale
    format: str = "printed"  # or "ebook"
    published: date | None = None
    price_since: date | None = None  # the day `price` took effect (`published` when the file says nothing)
    price_vat_change: bool = False  # `price` took effect because the VAT rate changed
    price_history: tuple[PriceChange, ...] = ()  # the prices before `price`, newest first
    fixed_price_lifted: date | None = None


@dataclass(frozen=True)
class Teaser:
    title: str
    label: str | None
    url: str
    excerpt: str
    author: Author
    image: str | None = None
    image_alt: str | None = None
    warnings: tuple[str, ...] = ()  # what reading its column had to clean up (chrome dropped, say)


@dataclass(frozen=True)
class Variant:
    """One arm of an A/B test, named A to D in the order of the campaign file."""

    name: str
    subject: str
    preheader: str


@dataclass(frozen=True)
class Campaign:
    id: str
    path: Path
    subject: str
    preheader: str
    locale: str
    teasers: tuple[Teaser, ...]
    books: tuple[Book, ...]
    intro: str | None = None
    sign_off: str | None = None
    template: str = "email"
    audience_tags: tuple[str, ...] = ()  # send to active subscribers of the locale having all these tags
    audience_topics: tuple[str, ...] = ()  # ... and any (or all: topics_match) of these topics
    topics_match: str = "any"
    exclude_buyers: bool = False  # leave out readers with a paid order of one of its books
    welcome: bool = False  # mailed by `serve` to each newly confirmed reader, never by `send`
    variants: tuple[Variant, ...] = ()  # an A/B test: its arms A, B, C, D
    ends: date | None = None  # the promotion's last day: a `links sync` after it switches its links off
    warnings: tuple[str, ...] = ()  # the teasers' warnings, for build and check
    publish: bool = False  # on the static site before any send (site/writer.py)
    title: str = ""  # what public pages call it: `title:`, or the subject without its merge fields

"""The campaign, book and authors files as written: pydantic models that mirror the YAML.

Validating the files as written, before anything is resolved, lets every error name the key and
line the editor typed. `campaign.py` turns what passes into the plain data of `models.py`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, RootModel, field_validator, model_validator

from newsletter.placeholders import has_fields
from newsletter.project.models import MAX_PRICE_CENTS
from newsletter.project.validation import (
    HeaderLine,
    HttpsUrl,
    MergeHeaderLine,
    MergeLine,
    MergeText,
    SingleLine,
    StrictModel,
)
from newsletter.vocabulary import Locale

HANDLE = re.compile(r"[A-Za-z0-9_.]+")


def _price(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ValueError("must be an amount in euros like 34.95")
    if isinstance(value, str):
        if not re.fullmatch(r"\d+(\.\d+)?", value.strip()):
            raise ValueError("must be an amount in euros like 34.95 (a dot before the cents, no € sign)")
        value = Decimal(value.strip())
    amount = Decimal(value)
    if amount <= 0:
        raise ValueError("must be a positive amount like 34.95")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError("must have at most two decimals (whole cents) like 34.95")
    if amount * 100 > MAX_PRICE_CENTS:
        maximum = Decimal(MAX_PRICE_CENTS) / 100
        raise ValueError(f"must be at most {maximum}: Stripe accepts prices up to {MAX_PRICE_CENTS:,} cents")
    return amount


def _date(value: Any) -> date:
    """YAML reads 2027-01-31 as a date already; a quoted one is accepted too, a time of day is not."""
    if isinstance(value, datetime):
        raise ValueError("must be a date without a time, like 2027-01-31")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError("must be a date like 2027-01-31 (year-month-day)")


def _currency(value: Any) -> str:
    if not isinstance(value, str) or value.strip().upper() != "EUR":
        raise ValueError("must be EUR: books are sold in euros")
    return "EUR"


def _handle(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip().removeprefix("@")
        if not HANDLE.fullmatch(value):
            raise ValueError("must be a social handle like @mariekeschrijft")
    return value


Price = Annotated[Decimal, BeforeValidator(_price)]
Currency = Annotated[str, BeforeValidator(_currency)]
Handle = Annotated[str, BeforeValidator(_handle)]
Day = Annotated[date, BeforeValidator(_date)]


class AuthorEntry(StrictModel):
    name: SingleLine
    handle: Handle | None = None
    bio: MergeText | None = None
    photo: HttpsUrl | None = None


class AuthorsFile(RootModel[dict[str, AuthorEntry]]):
    model_config = ConfigDict(defer_build=True)  # as StrictModel: built when authors.yaml is read


def _language(value: Any) -> Any:
    if isinstance(value, bool):  # YAML reads `no` (Norwegian) as false
        raise ValueError("must be a two-letter language code; quote one YAML reads as true or false: 'no'")
    if isinstance(value, str):
        value = value.strip().lower()
        if not re.fullmatch(r"[a-z]{2}", value):
            raise ValueError("must be a two-letter language code like nl, fy or en")
    return value


def _format(value: Any) -> Any:
    if value not in ("printed", "ebook"):
        raise ValueError("must be printed or ebook")
    return value


Language = Annotated[str, BeforeValidator(_language)]
BookFormat = Annotated[Literal["printed", "ebook"], BeforeValidator(_format)]


class PriceEntry(StrictModel):
    """An earlier price of a book, in `price_history`: what it was and the day it took effect."""

    price: Price
    since: Day
    vat_change: bool = False  # it took effect because the VAT rate changed (fixed book price law, art. 5(3))


class BookFile(StrictModel):
    title: MergeLine
    subtitle: MergeLine | None = None
    co_authors: tuple[SingleLine, ...] = ()
    price: Price
    currency: Currency = "EUR"
    cover_url: HttpsUrl
    cover_alt: SingleLine
    shop_url: HttpsUrl
    cta: MergeLine | None = None
    # The fixed book price law (project/price_law.py): what the book is, and its prices over time.
    language: Language | None = None  # default: the project's locale
    format: BookFormat = "printed"
    published: Day | None = None
    price_since: Day | None = None  # the day `price` took effect; default: `published`
    price_vat_change: bool = False  # `price` took effect because the VAT rate changed
    price_history: list[PriceEntry] = Field(default_factory=list)  # the prices before `price`, newest first
    fixed_price_lifted: Day | None = None  # the day the publisher lifted the fixed price


class TeaserEntry(StrictModel):
    column: SingleLine | None = None
    title: MergeLine | None = None
    label: MergeLine | None = None
    url: HttpsUrl | None = None
    author: SingleLine | None = None
    image: HttpsUrl | None = None
    image_alt: SingleLine | None = None
    excerpt: MergeText | None = None
    excerpt_words: int = Field(default=50, ge=10, le=400)

    @model_validator(mode="after")
    def _column_or_inline(self) -> TeaserEntry:
        if self.column is None and (self.title is None or self.excerpt is None):
            raise ValueError("needs a 'column' file, or a 'title' and an 'excerpt' given inline")
        if self.image and not self.image_alt:
            raise ValueError("has an 'image' but no 'image_alt' (describe the image for screen readers)")
        return self


class AudienceEntry(StrictModel):
    """Who receives the campaign: active subscribers of its locale with all of these tags, and with
    any (or all) of these topics ([[topics]] in newsletter.toml)."""

    tags: list[SingleLine] = Field(default_factory=list)
    topics: list[SingleLine] = Field(default_factory=list)
    topics_match: Literal["any", "all"] = "any"
    exclude_buyers: bool = False  # leave out readers who already bought one of the campaign's books

    @field_validator("tags")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [tag.lower() for tag in value]


class VariantEntry(StrictModel):
    """One arm of an A/B test: its own subject and/or preheader (the campaign's own where left out)."""

    subject: MergeHeaderLine | None = None
    preheader: MergeHeaderLine | None = None

    @model_validator(mode="after")
    def _something(self) -> VariantEntry:
        if self.subject is None and self.preheader is None:
            raise ValueError("a variant gives a subject, a preheader or both")
        return self


class CampaignFile(StrictModel):
    subject: MergeHeaderLine
    preheader: MergeHeaderLine
    title: HeaderLine | None = None  # on public pages; default: the subject without its merge fields

    @field_validator("title")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is not None and has_fields(value):
            raise ValueError(
                "a title is shown on public pages, to no one in particular: leave out {first_name}"
            )
        return value

    locale: Locale | None = None
    intro: MergeText | None = None
    sign_off: MergeText | None = None
    template: SingleLine = "email"
    teasers: list[TeaserEntry] = Field(min_length=1)
    books: list[SingleLine] = Field(min_length=1)
    audience: AudienceEntry = Field(default_factory=lambda: AudienceEntry())
    ends: Day | None = None  # the promotion's last day; its Payment Links are switched off after it
    publish: bool = False  # on the static site (web version, archive, feed) even before it is sent
    welcome: bool = False  # sent by `serve` to each reader who confirms a sign-up, once; never by `send`
    variants: list[VariantEntry] = Field(default_factory=list, max_length=4)  # an A/B test: A, B, C, D

    @field_validator("variants")
    @classmethod
    def _two_or_more(cls, value: list[VariantEntry]) -> list[VariantEntry]:
        if len(value) == 1:
            raise ValueError("an A/B test needs two to four variants")
        return value

    @model_validator(mode="after")
    def _welcome_is_not_a_test(self) -> CampaignFile:
        if self.welcome and self.variants:
            raise ValueError("a welcome email goes to each reader as they confirm: it cannot be an A/B test")
        return self

    @field_validator("template")
    @classmethod
    def _template_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", value):
            raise ValueError("must be the name of a template under templates/, like 'email'")
        return value

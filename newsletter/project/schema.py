"""The campaign, book and authors files as written: pydantic models that mirror the YAML.

Validating the files as written, before anything is resolved, lets every error name the key and
line the editor typed. `campaign.py` turns what passes into the plain data of `models.py`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, RootModel, field_validator, model_validator

from newsletter.project.validation import HttpsUrl, SingleLine, StrictModel, Text
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
    return amount


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


class AuthorEntry(StrictModel):
    name: SingleLine
    handle: Handle | None = None
    bio: Text | None = None
    photo: HttpsUrl | None = None


class AuthorsFile(RootModel[dict[str, AuthorEntry]]):
    model_config = ConfigDict(defer_build=True)  # as StrictModel: built when authors.yaml is read


class BookFile(StrictModel):
    title: SingleLine
    subtitle: SingleLine | None = None
    co_authors: tuple[SingleLine, ...] = ()
    price: Price
    currency: Currency = "EUR"
    cover_url: HttpsUrl
    cover_alt: SingleLine
    shop_url: HttpsUrl
    cta: SingleLine | None = None


class TeaserEntry(StrictModel):
    column: SingleLine | None = None
    title: SingleLine | None = None
    label: SingleLine | None = None
    url: HttpsUrl | None = None
    author: SingleLine | None = None
    image: HttpsUrl | None = None
    image_alt: SingleLine | None = None
    excerpt: Text | None = None
    excerpt_words: int = Field(default=50, ge=10, le=400)

    @model_validator(mode="after")
    def _column_or_inline(self) -> TeaserEntry:
        if self.column is None and (self.title is None or self.excerpt is None):
            raise ValueError("needs a 'column' file, or a 'title' and an 'excerpt' given inline")
        if self.image and not self.image_alt:
            raise ValueError("has an 'image' but no 'image_alt' (describe the image for screen readers)")
        return self


class AudienceEntry(StrictModel):
    """Who receives the campaign: active subscribers of its locale with all of these tags."""

    tags: list[SingleLine] = Field(default_factory=list)

    @field_validator("tags")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [tag.lower() for tag in value]


class CampaignFile(StrictModel):
    subject: SingleLine
    preheader: SingleLine
    locale: Locale | None = None
    intro: Text | None = None
    sign_off: Text | None = None
    template: SingleLine = "email"
    teasers: list[TeaserEntry] = Field(min_length=1)
    books: list[SingleLine] = Field(min_length=1)
    audience: AudienceEntry = Field(default_factory=lambda: AudienceEntry())

    @field_validator("template")
    @classmethod
    def _template_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", value):
            raise ValueError("must be the name of a template under templates/, like 'email'")
        return value

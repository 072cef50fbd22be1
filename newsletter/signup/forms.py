"""What a reader posts to the sign-up and preference forms, checked as anything from the internet is.

Every field is bounded: an address as `normalise_address` allows it, a name of one line of at most
100 characters without control characters, a language of the project's, topics among those declared
(at most as many as declared), a form name of a few safe characters. A value that is not right is a
`FormProblem` naming the field, which the page shows beside that field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from newsletter.project.settings import Settings
from newsletter.project.validation import CONTROL_CHARACTERS
from newsletter.store import normalise_address
from newsletter.vocabulary import LOCALES

MAX_NAME = 100
FORM_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
HONEYPOT = "website"  # a field people never see and bots fill in


class FormProblem(ValueError):
    def __init__(self, field: str, key: str) -> None:
        super().__init__(f"{field}: {key}")
        self.field = field
        self.key = key  # names the text the page shows (pages' TEXTS)


@dataclass(frozen=True)
class SignupRequest:
    email: str
    name: str
    locale: str
    topics: tuple[str, ...]
    form: str  # which form: "hosted", or the name an embedded form gives itself

    @property
    def source(self) -> str:
        return f"form:{self.form}"


def first(fields: Mapping[str, Sequence[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return values[0]


def parse_signup(
    fields: Mapping[str, Sequence[str]], settings: Settings, *, default_locale: str
) -> SignupRequest:
    try:
        email = normalise_address(first(fields, "email").strip())
    except ValueError:
        raise FormProblem("email", "bad_email") from None
    return SignupRequest(
        email=email,
        name=parse_name(first(fields, "name")),
        locale=parse_locale(first(fields, "locale") or default_locale),
        topics=parse_topics(fields.get("topics", []), settings),
        form=parse_form_name(first(fields, "form")),
    )


def parse_name(value: str) -> str:
    """One line without control characters, and without the invisible format characters (bidi
    overrides, zero-width spaces) that could make a name read as something else on a page or in a
    To line."""
    visible = "".join(char for char in value if unicodedata.category(char) != "Cf")
    name = " ".join(CONTROL_CHARACTERS.sub(" ", visible).split())
    if len(name) > MAX_NAME:
        raise FormProblem("name", "bad_name")
    return name


def parse_locale(value: str) -> str:
    if value not in LOCALES:
        raise FormProblem("locale", "bad_locale")
    return value


def parse_topics(values: Sequence[str], settings: Settings) -> tuple[str, ...]:
    known = settings.topic_keys()
    if len(values) > len(known) or any(value not in known for value in values):
        raise FormProblem("topics", "bad_topics")
    return tuple(sorted(set(values)))


def parse_form_name(value: str) -> str:
    if not value:
        return "hosted"
    if not FORM_NAME.fullmatch(value):
        raise FormProblem("form", "bad_form")
    return value

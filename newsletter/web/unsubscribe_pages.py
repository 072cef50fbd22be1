"""The pages a reader sees at the unsubscribe URL, in the reader's language (nl, en).

Rendered by Jinja2 with autoescaping on: nothing from a request (a token, a campaign id) reaches a
page unescaped. The pages carry no script and one fixed style sheet, whose hash is what the
Content-Security-Policy allows (`CSP`), so even an injected tag would do nothing; the pages that
show the publisher's logo allow images from its origin alone (`csp_with_logo`).

The reader sees whose address is being unsubscribed, masked (`j•••@example.nl`): enough to tell a
forwarded email from their own, not enough to read anyone's address off a link someone shared.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from markupsafe import Markup

from newsletter.render.i18n import STRINGS as EMAIL_STRINGS

if TYPE_CHECKING:
    import jinja2

    from newsletter.project.settings import Settings

STYLE = (
    "body{margin:0;background:#f4f1ec;color:#222;font:17px/1.5 Georgia,'Times New Roman',serif}"
    "main{max-width:32rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:6px}"
    "h1{font-size:1.5rem;margin:0 0 1rem}p{margin:0 0 1rem}"
    "button{font:inherit;font-weight:bold;color:#fff;background:#8c1c13;border:0;border-radius:4px;"
    "padding:.7rem 1.6rem;cursor:pointer}button:focus{outline:3px solid #222;outline-offset:2px}"
    ".small{color:#666;font-size:.9rem}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")
# No sources at all but the style above and form posts to this origin; no framing (clickjacking a
# one-button page is the obvious attack), no <base> tricks.
CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "confirm_title": "Afmelden voor de nieuwsbrief",
        "confirm_question": "Weet je zeker dat je je wilt afmelden?",
        "address": "Adres",
        "confirm_detail": "Je ontvangt dan geen nieuwsbrief meer van {brand}.",
        "done_title": "Je bent afgemeld",
        "done_detail": "Je ontvangt geen nieuwsbrief meer van {brand}. Jammer dat je gaat!",
        "already_title": "Je was al afgemeld",
        "already_detail": "Je ontvangt geen nieuwsbrief meer van {brand}.",
        "test_title": "Dit was een test-e-mail",
        "test_detail": "De afmeldlink werkt, maar in een test-e-mail meldt hij niemand af.",
        "invalid_title": "Deze afmeldlink werkt niet",
        "invalid_detail": "Misschien is hij niet helemaal meegekopieerd. Gebruik de link in de e-mail "
        "zelf, of stuur een e-mail met als onderwerp 'afmelden' naar {mailto}.",
        "not_found": "Deze pagina bestaat niet.",
        "not_allowed": "Dat kan hier niet.",
        "too_large": "Dat verzoek is te groot.",
        "error": "Er ging iets mis. Probeer het later nog eens.",
    },
    "en": {
        "confirm_title": "Unsubscribe from the newsletter",
        "confirm_question": "Are you sure you want to unsubscribe?",
        "address": "Address",
        "confirm_detail": "You will no longer receive the newsletter from {brand}.",
        "done_title": "You have been unsubscribed",
        "done_detail": "You will no longer receive the newsletter from {brand}. Sorry to see you go!",
        "already_title": "You were already unsubscribed",
        "already_detail": "You no longer receive the newsletter from {brand}.",
        "test_title": "This was a test email",
        "test_detail": "The unsubscribe link works, but in a test email it unsubscribes nobody.",
        "invalid_title": "This unsubscribe link does not work",
        "invalid_detail": "Perhaps it was not copied in full. Use the link in the email itself, or send "
        "an email with the subject 'unsubscribe' to {mailto}.",
        "not_found": "This page does not exist.",
        "not_allowed": "That is not possible here.",
        "too_large": "That request is too large.",
        "error": "Something went wrong. Please try again later.",
    },
}

_LAYOUT = """<!doctype html>
<html lang="{{ locale }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ title }} – {{ brand }}</title>
<style>{{ style }}</style>
</head>
<body>
<main>
{% if logo is not none %}<p><a href="{{ logo.home }}"><img src="{{ logo.src }}" width="{{ logo.width }}"
 alt="{{ logo.alt }}"></a></p>
{% endif %}<h1>{{ title }}</h1>
{% for paragraph in paragraphs %}<p>{{ paragraph }}</p>
{% endfor %}{% if address %}<p class="small">{{ address }}</p>
{% endif %}{% if token is not none %}<form method="post">
<input type="hidden" name="token" value="{{ token }}">
<input type="hidden" name="confirm" value="yes">
<button type="submit">{{ button }}</button>
</form>
{% endif %}</main>
</body>
</html>
"""


def confirm_page(settings: Settings, locale: str, token: str, address: str | None = None) -> bytes:
    """The question and a button that POSTs the token back to this URL (no script needed)."""
    words = _texts(locale)
    return _render(
        settings,
        locale,
        words["confirm_title"],
        [words["confirm_question"], _filled(words["confirm_detail"], settings)],
        token=token,
        address=address,
    )


def done_page(settings: Settings, locale: str, outcome: str, address: str | None = None) -> bytes:
    """After the POST: `outcome` is "done", "already" or "test"."""
    words = _texts(locale)
    return _render(
        settings,
        locale,
        words[f"{outcome}_title"],
        [_filled(words[f"{outcome}_detail"], settings)],
        address=address,
    )


def csp_with_logo(settings: Settings) -> str:
    """`CSP`, with images from the logo's origin: the only thing the pages load."""
    parts = urlsplit(settings.brand.logo_url)
    return f"{CSP}; img-src {parts.scheme}://{parts.netloc}"


def masked(address: str) -> str:
    """`jan@example.nl` → `j•••@example.nl`."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}•••@{domain}"


def invalid_page(settings: Settings, locale: str) -> bytes:
    words = _texts(locale)
    return _render(settings, locale, words["invalid_title"], [_filled(words["invalid_detail"], settings)])


def message_page(settings: Settings, key: str) -> bytes:
    """A one-line page for 404, 405, 413 and 500, in the project's language."""
    locale = settings.locale
    return _render(settings, locale, _texts(locale)[key], [])


def _render(
    settings: Settings,
    locale: str,
    title: str,
    paragraphs: list[str],
    *,
    token: str | None = None,
    address: str | None = None,
) -> bytes:
    """A page; with `address` (the reader's, shown masked) it is one of the reader's own, with the
    logo (a page for any visitor, 404 say, shows none: its CSP allows no image)."""
    brand = settings.brand
    logo = (
        None
        if address is None
        else {
            "home": settings.site_url,
            "src": brand.logo_url,
            "width": brand.logo_width,
            "alt": brand.logo_alt or brand.name,
        }
    )
    html = (
        _environment()
        .from_string(_LAYOUT)
        .render(
            locale=locale,
            title=title,
            brand=settings.brand.name,
            style=Markup(STYLE),  # a constant; escaping its quotes would change the CSS and its hash
            paragraphs=paragraphs,
            token=token,
            button=EMAIL_STRINGS[locale]["unsubscribe"],
            logo=logo,
            address=f"{_texts(locale)['address']}: {masked(address)}" if address else None,
        )
    )
    return html.encode("utf-8")


def _texts(locale: str) -> dict[str, str]:
    return TEXTS.get(locale, TEXTS["nl"])


def _filled(text: str, settings: Settings) -> str:
    mailto = settings.sender.unsubscribe_mailto or settings.sender.address
    return text.replace("{brand}", settings.brand.name).replace("{mailto}", mailto)


@cache
def _environment() -> jinja2.Environment:
    """Autoescaping for every template, and undefined variables as errors: a typo must not print ''."""
    import jinja2

    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)

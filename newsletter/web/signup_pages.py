"""The pages of the sign-up, the confirmation, the preference centre and the data page, in Dutch and
English.

Rendered by Jinja2 with autoescaping, like the unsubscribe pages, with one fixed style sheet whose
hash the Content-Security-Policy allows. The sign-up page also loads the proof-of-work widget
(ALTCHA), served by `serve` itself from this package: `script-src 'self'`, nothing from elsewhere.
Without JavaScript the form still posts; the sign-up is then held to the stricter limit.

Every field has a label, errors are tied to their field (`aria-describedby`) and announced, and the
topics are a fieldset with a legend: axe-core's WCAG 2 A/AA rules pass on every page (tests).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from markupsafe import Markup

from newsletter.web.unsubscribe_pages import masked

if TYPE_CHECKING:
    import jinja2

    from newsletter.audience.person import Person
    from newsletter.project.settings import Settings

STYLE = (
    "body{margin:0;background:#f4f1ec;color:#222;font:17px/1.5 Georgia,'Times New Roman',serif}"
    "main{max-width:34rem;margin:6vh auto;padding:2rem;background:#fff;border-radius:6px}"
    "h1{font-size:1.5rem;margin:0 0 1rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}p{margin:0 0 1rem}"
    "label{display:block;font-weight:bold;margin:0 0 .25rem}"
    "input[type=email],input[type=text],select{font:inherit;width:100%;box-sizing:border-box;"
    "padding:.5rem;border:1px solid #767676;border-radius:4px;margin:0 0 1rem}"
    "fieldset{border:1px solid #767676;border-radius:4px;margin:0 0 1rem;padding:.5rem 1rem}"
    "legend{font-weight:bold;padding:0 .25rem}.check label{display:inline;font-weight:normal}"
    ".check{margin:.25rem 0}"
    "button{font:inherit;font-weight:bold;color:#fff;background:#8c1c13;border:0;border-radius:4px;"
    "padding:.7rem 1.6rem;cursor:pointer;margin:0 .5rem .5rem 0}"
    "button.quiet{color:#8c1c13;background:#fff;border:2px solid #8c1c13}"
    "button:focus,input:focus,select:focus{outline:3px solid #222;outline-offset:2px}"
    ".small{color:#595959;font-size:.9rem}.error{color:#8c1c13;font-weight:bold}"
    ".away{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}"
    "altcha-widget{display:block;margin:0 0 1rem}"
    "dl{margin:0 0 1rem}dt{font-weight:bold}dd{margin:0 0 .5rem}"
    "table{border-collapse:collapse;font-size:.9rem;margin:0 0 1rem}th,td{text-align:left;padding:.2rem .5rem"
    ";border-bottom:1px solid #ddd}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")
TEMPLATES = Path(__file__).parent / "templates"


def csp(settings: Settings, *, widget: bool = False) -> str:
    """The pages' policy: their own style sheet, the logo's origin, posts to this origin only; with
    the widget (web/static/altcha/README.md) its script, style sheet and worker from this origin,
    and its challenge fetched from here. No inline script, no eval, no blob: anywhere."""
    logo = urlsplit(settings.brand.logo_url)
    styles = f"'sha256-{_STYLE_HASH}'" + (" 'self'" if widget else "")
    policy = (
        f"default-src 'none'; style-src {styles}; img-src {logo.scheme}://{logo.netloc}; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    if widget:
        policy += "; script-src 'self'; worker-src 'self'; connect-src 'self'"
    return policy


TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "signup_title": "Aanmelden voor de nieuwsbrief",
        "signup_intro": "Ontvang de nieuwsbrief van {brand}: nieuwe columns en boeken, in je inbox.",
        "email": "E-mailadres",
        "name": "Naam (niet verplicht)",
        "language": "Taal van de nieuwsbrief",
        "topics": "Waarover wil je lezen?",
        "honeypot": "Laat dit veld leeg",
        "submit": "Aanmelden",
        "bad_email": "Dit is geen bruikbaar e-mailadres.",
        "bad_name": "Een naam van hoogstens 100 tekens, graag.",
        "bad_locale": "Kies Nederlands of Engels.",
        "bad_topics": "Kies uit de onderwerpen hieronder.",
        "bad_form": "Dit formulier klopt niet; laad de pagina opnieuw.",
        "inbox_title": "Kijk in je inbox",
        "inbox_detail": "Als dit adres nog niet bevestigd is, krijg je een e-mail met een link. Klik "
        "daarop om je aanmelding te bevestigen; zonder bevestiging sturen we je niets.",
        "confirm_title": "Bevestig je aanmelding",
        "confirm_detail": "Klik op de knop om je aanmelding voor de nieuwsbrief van {brand} te bevestigen.",
        "confirm_button": "Ja, meld mij aan",
        "confirmed_title": "Je bent aangemeld",
        "confirmed_detail": "Welkom! Je ontvangt voortaan de nieuwsbrief van {brand}.",
        "already_title": "Je was al aangemeld",
        "already_detail": "Je ontvangt de nieuwsbrief van {brand} al.",
        "expired_title": "Deze link werkt niet meer",
        "expired_detail": "Bevestigingslinks werken {days} dagen. Meld je opnieuw aan; je krijgt dan een "
        "nieuwe link.",
        "invalid_title": "Deze link werkt niet",
        "invalid_detail": "Misschien is hij niet helemaal meegekopieerd. Gebruik de link in de e-mail zelf.",
        "preferences_title": "Je voorkeuren",
        "preferences_intro": "Pas aan hoe je de nieuwsbrief van {brand} ontvangt.",
        "address": "Adres",
        "save": "Opslaan",
        "saved": "Je voorkeuren zijn opgeslagen.",
        "leave_title": "Afmelden",
        "leave_detail": "Geen nieuwsbrief meer? Meld je af voor alles.",
        "leave_button": "Afmelden voor alles",
        "left_title": "Je bent afgemeld",
        "left_detail": "Je ontvangt geen nieuwsbrief meer van {brand}.",
        "data_title": "Je gegevens",
        "data_detail": "Wil je zien wat we van je bewaren? We sturen een link naar je e-mailadres.",
        "data_button": "Stuur mij mijn gegevens",
        "data_sent": "We hebben een link naar je e-mailadres gestuurd. Hij werkt 24 uur.",
        "stored_title": "Wat we van je bewaren",
        "status": "Status",
        "subscribed_since": "Op de lijst sinds",
        "consents": "Toestemmingen",
        "history": "Geschiedenis",
        "messages": "Verstuurde nieuwsbrieven",
        "none": "Geen.",
        "too_many_title": "Even geduld",
        "too_many_detail": "Er kwamen te veel aanmeldingen van jouw netwerk. Probeer het over een uur "
        "opnieuw.",
        "not_found": "Deze pagina bestaat niet.",
    },
    "en": {
        "signup_title": "Sign up for the newsletter",
        "signup_intro": "Get the newsletter of {brand}: new columns and books, in your inbox.",
        "email": "Email address",
        "name": "Name (optional)",
        "language": "Language of the newsletter",
        "topics": "What would you like to read about?",
        "honeypot": "Leave this field empty",
        "submit": "Sign up",
        "bad_email": "This is not an email address we can use.",
        "bad_name": "A name of at most 100 characters, please.",
        "bad_locale": "Choose Dutch or English.",
        "bad_topics": "Choose among the topics below.",
        "bad_form": "This form is not right; please reload the page.",
        "inbox_title": "Check your inbox",
        "inbox_detail": "If this address is not confirmed yet, you will get an email with a link. Click it "
        "to confirm your subscription; without a confirmation we send you nothing.",
        "confirm_title": "Confirm your subscription",
        "confirm_detail": "Click the button to confirm your subscription to the newsletter of {brand}.",
        "confirm_button": "Yes, subscribe me",
        "confirmed_title": "You are subscribed",
        "confirmed_detail": "Welcome! From now on you will receive the newsletter of {brand}.",
        "already_title": "You were already subscribed",
        "already_detail": "You already receive the newsletter of {brand}.",
        "expired_title": "This link no longer works",
        "expired_detail": "Confirmation links work for {days} days. Sign up again to get a new link.",
        "invalid_title": "This link does not work",
        "invalid_detail": "Perhaps it was not copied in full. Use the link in the email itself.",
        "preferences_title": "Your preferences",
        "preferences_intro": "Change how you receive the newsletter of {brand}.",
        "address": "Address",
        "save": "Save",
        "saved": "Your preferences have been saved.",
        "leave_title": "Unsubscribe",
        "leave_detail": "No more newsletters? Unsubscribe from everything.",
        "leave_button": "Unsubscribe from everything",
        "left_title": "You have been unsubscribed",
        "left_detail": "You will no longer receive the newsletter from {brand}.",
        "data_title": "Your data",
        "data_detail": "Want to see what we keep about you? We will email a link to your address.",
        "data_button": "Email me my data",
        "data_sent": "We have emailed a link to your address. It works for 24 hours.",
        "stored_title": "What we keep about you",
        "status": "Status",
        "subscribed_since": "On the list since",
        "consents": "Consents",
        "history": "History",
        "messages": "Newsletters sent",
        "none": "None.",
        "too_many_title": "Please wait",
        "too_many_detail": "Too many sign-ups came from your network. Please try again in an hour.",
        "not_found": "This page does not exist.",
    },
}
# The widget's own words (ALTCHA 2.x `strings`): English is the only language it has built in.
WIDGET_STRINGS = {
    "nl": {
        "ariaLinkLabel": "Bezoek altcha.org",
        "error": "Controle mislukt. Probeer het later nog eens.",
        "expired": "Controle verlopen. Probeer het opnieuw.",
        "footer": "",
        "label": "Ik ben geen robot",
        "verified": "Gecontroleerd",
        "verifying": "Bezig met controleren...",
        "waitAlert": "Bezig met controleren... even geduld.",
    },
    "en": {
        "ariaLinkLabel": "Visit altcha.org",
        "error": "Verification failed. Try again later.",
        "expired": "Verification expired. Try again.",
        "footer": "",
        "label": "I'm not a robot",
        "verified": "Verified",
        "verifying": "Verifying...",
        "waitAlert": "Verifying... please wait.",
    },
}
LANGUAGES = {"nl": {"nl": "Nederlands", "en": "Engels"}, "en": {"nl": "Dutch", "en": "English"}}


def signup_page(
    settings: Settings,
    locale: str,
    *,
    action: str,
    consent: str,
    started: str,
    challenge_url: str | None,
    widget_url: str | None,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> bytes:
    words = texts(locale, settings)
    form = _template("signup_form.html").render(
        t=words,
        action=action,
        errors=dict(errors or {}),
        values={"email": "", "name": "", "locale": locale, "topics": (), **(values or {})},
        languages=LANGUAGES[locale],
        topics=_topics(settings, locale),
        started=started,
        challenge_url=challenge_url,
        widget_strings=json.dumps(WIDGET_STRINGS[locale], ensure_ascii=False),
        consent=consent,
    )
    return _page(
        settings, locale, words["signup_title"], [words["signup_intro"]], Markup(form), widget=widget_url
    )


def message(settings: Settings, locale: str, key: str, *, days: int = 7) -> bytes:
    """A page of a title and a paragraph: `key` names both (inbox, confirmed, expired, ...)."""
    words = texts(locale, settings)
    detail = words[f"{key}_detail"].replace("{days}", str(days))
    return _page(settings, locale, words[f"{key}_title"], [detail])


def confirm_page(settings: Settings, locale: str, token: str) -> bytes:
    words = texts(locale, settings)
    button = _template("button.html").render(token=token, action="confirm", label=words["confirm_button"])
    return _page(settings, locale, words["confirm_title"], [words["confirm_detail"]], Markup(button))


def preferences_page(
    settings: Settings,
    locale: str,
    *,
    token: str,
    address: str,
    name: str,
    reader_locale: str,
    chosen: Sequence[str],
    note: str | None = None,
) -> bytes:
    words = texts(locale, settings)
    body = _template("preferences.html").render(
        t=words,
        token=token,
        name=name,
        reader_locale=reader_locale,
        languages=LANGUAGES[locale],
        topics=_topics(settings, locale),
        chosen=set(chosen),
        saved=note == "saved",
    )
    paragraphs = [words["preferences_intro"]] + ([words["data_sent"]] if note == "data" else [])
    return _page(
        settings, locale, words["preferences_title"], paragraphs, Markup(body), address=masked(address)
    )


STATUS_LABELS = {
    "nl": {"active": "aangemeld", "unconfirmed": "nog niet bevestigd", "unsubscribed": "afgemeld",
           "bounced": "onbestelbaar", "complained": "als spam gemeld", "forgotten": "vergeten"},
    "en": {"active": "subscribed", "unconfirmed": "not yet confirmed", "unsubscribed": "unsubscribed",
           "bounced": "undeliverable", "complained": "reported as spam", "forgotten": "forgotten"},
}  # fmt: skip


def data_page(settings: Settings, locale: str, person: Person) -> bytes:
    words = texts(locale, settings)
    labels = {topic.key: topic.label(locale) for topic in settings.topics}
    body = _template("data.html").render(
        t=words,
        s=person.subscriber,
        person=person,
        languages=LANGUAGES[locale],
        status=STATUS_LABELS[locale],
        topics=[labels.get(key, key) for key in person.subscriber.topics],
    )
    return _page(settings, locale, words["stored_title"], [], Markup(body))


def texts(locale: str, settings: Settings) -> dict[str, str]:
    words = TEXTS.get(locale, TEXTS["nl"])
    return {key: value.replace("{brand}", settings.brand.name) for key, value in words.items()}


def _topics(settings: Settings, locale: str) -> list[dict[str, str]]:
    return [{"key": topic.key, "label": topic.label(locale)} for topic in settings.topics]


def _page(
    settings: Settings,
    locale: str,
    title: str,
    paragraphs: list[str],
    body: Markup | str = "",
    *,
    address: str | None = None,
    widget: str | None = None,
) -> bytes:
    html = _template("page.html").render(
        locale=locale,
        title=title,
        brand=settings.brand,
        site_url=settings.site_url,
        style=Markup(STYLE),  # a constant; escaping its quotes would change the CSS and its hash
        paragraphs=paragraphs,
        address=address,
        t=texts(locale, settings),
        body=body,
        widget=widget,
    )
    return html.encode("utf-8")


@cache
def _template(name: str) -> jinja2.Template:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    return environment.get_template(name)

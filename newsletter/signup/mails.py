"""The mails the sign-up sends one reader: "confirm your subscription" and "here is your data".

They are made as the campaigns are (Jinja2, MJML, MRML, premailer, with a text part) from
`templates/reader_mail.*.j2` in this package, in the reader's language, with the brand's logo and
colours. They are not list mail: no List-Unsubscribe (there is nothing to leave yet), but
`Auto-Submitted: auto-generated`; the envelope sender is the bounce address when there is one.
"""

from __future__ import annotations

import email.policy
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from newsletter.render.inline import to_html
from newsletter.render.mjml.engine import load_engine
from newsletter.sending.message import DkimSigner, Outgoing, Recipient, envelope_address

if TYPE_CHECKING:
    import jinja2

    from newsletter.project.settings import Project

Kind = Literal["confirm", "data"]
TEMPLATES = Path(__file__).parent / "templates"

WORDS: dict[str, dict[str, str]] = {
    "nl": {
        "confirm_subject": "Bevestig je aanmelding voor de nieuwsbrief van {brand}",
        "confirm_preheader": "Nog één klik, dan ben je aangemeld.",
        "confirm_heading": "Bevestig je aanmelding",
        "confirm_text": "Je hebt je aangemeld voor de nieuwsbrief van {brand}. Klik op de knop om dat te "
        "bevestigen; pas dan sturen we je de nieuwsbrief.",
        "confirm_button": "Ja, meld mij aan",
        "confirm_small": "Heb je je niet aangemeld? Dan hoef je niets te doen: zonder bevestiging sturen "
        "we je niets en wissen we je adres na {days} dagen.",
        "data_subject": "Je gegevens bij {brand}",
        "data_preheader": "De link naar wat we van je bewaren.",
        "data_heading": "Wat we van je bewaren",
        "data_text": "Je vroeg om te zien welke gegevens {brand} van je bewaart. Deze link werkt 24 uur.",
        "data_button": "Bekijk mijn gegevens",
        "data_small": "Heb je hier niet om gevraagd? Dan kun je deze e-mail negeren.",
        "link_intro": "Werkt de knop niet? Open dan deze link:",
    },
    "en": {
        "confirm_subject": "Confirm your subscription to the newsletter of {brand}",
        "confirm_preheader": "One more click and you are subscribed.",
        "confirm_heading": "Confirm your subscription",
        "confirm_text": "You signed up for the newsletter of {brand}. Click the button to confirm; only "
        "then will we send you the newsletter.",
        "confirm_button": "Yes, subscribe me",
        "confirm_small": "Did you not sign up? Then you need not do anything: without a confirmation we "
        "send you nothing and erase your address after {days} days.",
        "data_subject": "Your data at {brand}",
        "data_preheader": "The link to what we keep about you.",
        "data_heading": "What we keep about you",
        "data_text": "You asked to see what data {brand} keeps about you. This link works for 24 hours.",
        "data_button": "See my data",
        "data_small": "Did you not ask for this? Then you can ignore this email.",
        "link_intro": "Does the button not work? Open this link:",
    },
}


@dataclass(frozen=True)
class ReaderMail:
    subject: str
    html: str
    text: str


def render_mail(project: Project, kind: Kind, locale: str, url: str) -> ReaderMail:
    settings = project.settings
    words = {key: value.replace("{brand}", settings.brand.name) for key, value in WORDS[locale].items()}
    days = settings.signup.confirm_days if settings.signup else 7
    context: dict[str, Any] = {
        "locale": locale,
        "subject": words[f"{kind}_subject"],
        "preheader": words[f"{kind}_preheader"],
        "heading": words[f"{kind}_heading"],
        "paragraphs": [words[f"{kind}_text"]],
        "button": words[f"{kind}_button"],
        "link_intro": words["link_intro"],
        "small_print": words[f"{kind}_small"].replace("{days}", str(days)),
        "url": url,
        "brand": settings.brand.model_dump(),
        "colours": settings.colours.model_dump(),
        "site_url": settings.site_url,
        "postal_address": settings.publisher.postal_address,
    }
    mjml = _environment(html=True).get_template("reader_mail.mjml.j2").render(context)
    text = _environment(html=False).get_template("reader_mail.txt.j2").render(context)
    return ReaderMail(str(context["subject"]), to_html(mjml, _engine()), text.strip() + "\n")


def compose(project: Project, mail: ReaderMail, to: Recipient, *, now: datetime | None = None) -> Outgoing:
    """The message, ready for the transport; DKIM-signed when the project signs."""
    settings = project.settings
    sender = settings.sender
    domain = sender.domain
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = Address(display_name=sender.name, addr_spec=envelope_address(sender.address)[0])
    envelope_to, smtputf8 = envelope_address(to.email)
    message["To"] = envelope_to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(UTC))
    message_id = f"<signup.{secrets.token_hex(12)}@{domain}>"
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    if sender.reply_to:
        message["Reply-To"] = sender.reply_to
    message.set_content(mail.text, cte="quoted-printable")
    message.add_alternative(mail.html, subtype="html", cte="quoted-printable")
    data = message.as_bytes()
    if settings.dkim is not None:
        data = DkimSigner(settings.dkim, project.root).sign(data)
    envelope_from = envelope_address(settings.bounces.address or sender.address)[0]
    return Outgoing(to, envelope_from, envelope_to, message_id, data, smtputf8)


@cache
def _environment(*, html: bool) -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


@cache
def _engine() -> Callable[[str], str]:
    return load_engine()

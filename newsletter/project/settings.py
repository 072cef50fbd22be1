"""Project settings from `newsletter.toml`: who sends, what the brand looks like, where links go.

Secrets (API keys, SMTP passwords) never live here: they are resolved once from the environment
(environment.py) into the `Project`, so that the settings file can be committed with the campaigns.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from newsletter.errors import NewsletterError, password_of
from newsletter.files import read_user_text
from newsletter.project.environment import Secrets
from newsletter.project.validation import (
    EmailAddress,
    HeaderLine,
    HexColour,
    HttpsUrl,
    Loc,
    SingleLine,
    StrictModel,
    validate,
)
from newsletter.vocabulary import Locale

SETTINGS_FILE = "newsletter.toml"
VERP_TOKEN_CHARS = 16  # the token after "+" in a VERP envelope sender (sending/message.py)


def _local_or_https(value: str) -> str:
    """Stripe's own mock server and test doubles run on plain http on this machine; anything else is https."""
    parts = urlsplit(value)
    local = parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if not (local or (parts.scheme == "https" and parts.hostname)):
        raise ValueError("must be an https:// URL, or http:// on localhost")
    return value.rstrip("/")


def _url_path(value: str) -> str:
    if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value):
        raise ValueError("must be a path like /webhooks/stripe")
    return value


def _country(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise ValueError("must be a two-letter country code like NL")
    return value


def _tax_code(value: str) -> str:
    if not re.fullmatch(r"txcd_\d{8}", value):
        raise ValueError("must be a Stripe tax code like txcd_35010000")
    return value


def _shipping_rate(value: str) -> str:
    if not re.fullmatch(r"shr_[A-Za-z0-9]+", value):
        raise ValueError("must be the id of a Stripe Shipping Rate, like shr_1PQ2rS...")
    return value


LocalOrHttpsUrl = Annotated[str, AfterValidator(_local_or_https)]
CountryCode = Annotated[str, AfterValidator(_country)]
TaxCode = Annotated[str, AfterValidator(_tax_code)]
ShippingRate = Annotated[str, AfterValidator(_shipping_rate)]


class Brand(StrictModel):
    name: HeaderLine  # in List-Id
    logo_url: HttpsUrl
    logo_width: int = Field(default=180, gt=0, le=600)
    logo_alt: SingleLine | None = None


class Colours(StrictModel):
    """The palette of the default template; the order button colour is checked for contrast later."""

    primary: HexColour = "#8c1c13"
    background: HexColour = "#f4efe6"
    content: HexColour = "#ffffff"
    text: HexColour = "#222222"
    muted: HexColour = "#6b6b6b"
    button_text: HexColour = "#ffffff"


class Sender(StrictModel):
    name: HeaderLine
    address: EmailAddress
    reply_to: EmailAddress | None = None
    list_id: HeaderLine | None = Field(
        default=None, description="The List-Id header's id; default: newsletter.<sender domain>."
    )
    unsubscribe_mailto: EmailAddress | None = Field(
        default=None, description="The mailto: of List-Unsubscribe; default: the sender address."
    )
    test_recipients: tuple[EmailAddress, ...] = Field(
        default=(), description="Where `newsletter send ID --test` sends a test: the editors' seed list."
    )

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]


class SmtpSettings(StrictModel):
    """How mail leaves. The password is never here: it comes from NEWSLETTER_SMTP_PASSWORD."""

    host: SingleLine = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    user: SingleLine | None = None
    timeout: float = Field(default=30, gt=0, le=600, description="Seconds to wait for the server.")
    connections: int = Field(default=2, ge=1, le=16, description="Connections sending side by side.")
    messages_per_connection: int = Field(default=100, ge=1, le=10_000)
    rate: float = Field(default=0, ge=0, description="Messages per second over all connections; 0: no limit.")
    max_errors: int = Field(default=10, ge=1, description="Failures in a row that pause the run.")
    retry_after: float = Field(
        default=300, ge=0, description="Seconds before a deferred recipient is retried."
    )
    max_attempts: int = Field(
        default=5, ge=1, le=50, description="Attempts before a deferral becomes a failure."
    )

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> SmtpSettings:
        if self.security == "none" and self.user and self.host not in {"localhost", "127.0.0.1", "::1"}:
            raise ValueError('security = "none" would send the password unencrypted; use "starttls" or "tls"')
        return self


class DkimSettings(StrictModel):
    """DKIM signing by newsletter itself; leave it out when the SMTP relay signs for you."""

    domain: SingleLine
    selector: SingleLine
    key_file: SingleLine = Field(description="The PEM private key, relative to the project folder.")


class Publisher(StrictModel):
    """EU law wants the sender's postal address in the footer of commercial email."""

    postal_address: SingleLine


class Utm(StrictModel):
    enabled: bool = True
    source: SingleLine = "nieuwsbrief"
    medium: SingleLine = "email"


class StripeSettings(StrictModel):
    """How the books are sold. The API key is never here: it comes from STRIPE_API_KEY."""

    live: bool = Field(default=False, description="This project sells for real: live keys are accepted.")
    api_base: LocalOrHttpsUrl | None = Field(default=None, description="Another Stripe-compatible server.")
    tax_behavior: Literal["inclusive", "exclusive", "unspecified"] = "inclusive"
    max_quantity: int = Field(default=10, ge=1, le=99)
    shipping_countries: tuple[CountryCode, ...] = ("NL", "BE")
    allow_promotion_codes: bool = False
    thank_you_url: HttpsUrl | None = None
    payment_method_types: tuple[SingleLine, ...] | None = None
    automatic_tax: bool = Field(
        default=False,
        description="Stripe Tax works out the VAT in each price (the reduced rate for books) from the "
        "buyer's address, with the Products' tax codes below.",
    )
    tax_code: TaxCode = Field(default="txcd_35010000", description="Stripe's tax code of a printed book.")
    ebook_tax_code: TaxCode = Field(default="txcd_10302000", description="Stripe's tax code of an e-book.")
    invoice_creation: bool = Field(
        default=False, description="Stripe makes an invoice of every purchase (schools, libraries)."
    )
    shipping_options: tuple[ShippingRate, ...] = Field(
        default=(), description='The Shipping Rates a buyer of a printed book chooses from, like ["shr_..."].'
    )
    max_network_retries: int = Field(default=3, ge=0, le=10)
    webhook_path: Annotated[str, AfterValidator(_url_path)] = Field(
        default="/webhooks/stripe",
        description="Where `serve` takes Stripe's events (signed with STRIPE_WEBHOOK_SECRET).",
    )


def _no_password(value: str) -> str:
    """newsletter.toml is shared and committed: a PostgreSQL URL there names no password."""
    if password_of(value):
        raise ValueError(
            "the URL holds a password; leave it out and give it as PGPASSWORD or in ~/.pgpass, "
            "or put the whole URL in NEWSLETTER_DATABASE_URL"
        )
    return value


class AudienceSettings(StrictModel):
    """Where the subscribers live: an SQLite file relative to the project root, or a PostgreSQL
    database as `postgresql://user@host/dbname` (no password here)."""

    database: Annotated[SingleLine, AfterValidator(_no_password)] = "audience.sqlite3"


class BouncesSettings(StrictModel):
    """How `bounces import` and the webhooks treat returned mail."""

    soft_bounce_limit: int = Field(
        default=3, ge=1, le=100, description="Transient failures (4.x.x) of an address that make it bounced."
    )
    address: EmailAddress | None = Field(
        default=None,
        description="The mailbox returned mail goes to. When set, each message's envelope sender is "
        "<local>+<token>@<domain> (VERP), so that its bounce names the message it answers.",
    )

    @model_validator(mode="after")
    def _room_for_a_token(self) -> BouncesSettings:
        if self.address is not None and len(self.address.rpartition("@")[0]) > 64 - VERP_TOKEN_CHARS - 1:
            raise ValueError(
                f"address: its local part leaves no room for the {VERP_TOKEN_CHARS}-character token"
            )
        return self


class SiteSettings(StrictModel):
    """The static site (build/site/): how a send puts the web version online before it mails anyone."""

    publish_command: list[SingleLine] | None = Field(
        default=None,
        min_length=1,
        description="Run, without a shell, in the project folder once build/site/ holds the campaign's "
        'web version and before the first message leaves, e.g. ["rsync", "-a", "build/site/", '
        '"www:/var/www/nieuwsbrief/"]. When it fails, nothing is sent.',
    )
    publish_timeout: float = Field(default=120, gt=0, le=3600, description="Seconds it may take.")


TOPIC_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def _topic_key(value: str) -> str:
    if not TOPIC_KEY.fullmatch(value):
        raise ValueError("must be 1-40 lower-case letters, digits or '-', like romans or jeugd-boeken")
    return value


class Topic(StrictModel):
    """Something a reader can choose to hear about: campaigns target topics as they target tags."""

    key: Annotated[str, AfterValidator(_topic_key)]
    nl: SingleLine
    en: SingleLine

    def label(self, locale: str) -> str:
        return self.en if locale == "en" else self.nl


class ConsentTexts(StrictModel):
    """What the sign-up form says the reader agrees to, word for word: it is kept with each consent.
    `{brand}` is replaced by the brand's name."""

    nl: SingleLine = (
        "Ja, ik wil de nieuwsbrief van {brand} per e-mail ontvangen. Afmelden kan altijd, met één klik "
        "onderaan elke nieuwsbrief."
    )
    en: SingleLine = (
        "Yes, I want to receive the newsletter of {brand} by email. I can unsubscribe at any time, with "
        "one click at the bottom of every newsletter."
    )


class SignupSettings(StrictModel):
    """Sign-up with double opt-in, the preference centre and the reader's own data, by `newsletter
    serve` (docs/signup.md). The links are signed with NEWSLETTER_UNSUBSCRIBE_SECRET."""

    url: HttpsUrl = Field(
        description="Where `serve` answers sign-ups, e.g. https://www.example.nl/nieuwsbrief/aanmelden; "
        "the confirmation, preference and data pages are below it."
    )
    consent: ConsentTexts = Field(default_factory=ConsentTexts)
    confirm_days: int = Field(default=7, ge=1, le=60, description="Days a confirmation link works.")
    ip: Literal["store", "hash", "none"] = Field(
        default="hash",
        description='What a consent keeps of the IP address: "store" it, a keyed "hash" of it, or "none".',
    )
    trusted_proxies: tuple[SingleLine, ...] = Field(
        default=(),
        description="Addresses of the proxies in front of `serve` (nginx, Caddy) whose X-Forwarded-For "
        'is believed, e.g. ["127.0.0.1", "::1"].',
    )
    min_fill_seconds: float = Field(default=3, ge=0, le=60, description="Faster than this is a bot.")
    per_ip_per_hour: int = Field(
        default=10,
        ge=1,
        le=10_000,
        description="Sign-ups from one IP address in an hour, with the challenge solved.",
    )
    per_ip_per_hour_without_script: int = Field(
        default=3,
        ge=1,
        le=10_000,
        description="The same for a form posted without the proof-of-work challenge.",
    )
    redirect_to: HttpsUrl | None = Field(
        default=None,
        description="Where a form on the publisher's site sends the reader after signing up (a page "
        "of site_url); default: the hosted 'check your inbox' page.",
    )


class Settings(StrictModel):
    locale: Locale = "nl"
    site_url: HttpsUrl
    unsubscribe_url: HttpsUrl
    web_version_url: HttpsUrl = Field(
        description="Where the web version of a campaign lives; '{campaign}' is replaced by its id."
    )
    brand: Brand
    colours: Colours = Field(default_factory=Colours)
    sender: Sender
    publisher: Publisher
    utm: Utm = Field(default_factory=Utm)
    stripe: StripeSettings | None = None
    audience: AudienceSettings = Field(default_factory=AudienceSettings)
    bounces: BouncesSettings = Field(default_factory=BouncesSettings)
    site: SiteSettings = Field(default_factory=SiteSettings)
    smtp: SmtpSettings | None = None
    dkim: DkimSettings | None = None
    topics: tuple[Topic, ...] = Field(default=(), description="What readers can choose to hear about.")
    signup: SignupSettings | None = None

    @model_validator(mode="after")
    def _topics_once(self) -> Settings:
        keys = [topic.key for topic in self.topics]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise ValueError(f"topics: {', '.join(twice)} declared more than once")
        return self

    @model_validator(mode="after")
    def _signup_mails_through_smtp(self) -> Settings:
        if self.signup is not None and self.smtp is None:
            raise ValueError("signup: needs an [smtp] section: the confirmation mails go out through it")
        return self

    @model_validator(mode="after")
    def _redirect_on_the_site(self) -> Settings:
        if self.signup and self.signup.redirect_to and not self.is_own_site(self.signup.redirect_to):
            raise ValueError("signup.redirect_to: must be a page of site_url")
        return self

    def topic_keys(self) -> tuple[str, ...]:
        return tuple(topic.key for topic in self.topics)

    @property
    def site_host(self) -> str:
        return _bare_host(self.site_url)

    def is_own_site(self, url: str) -> bool:
        """Own-site links get UTM parameters; www. and subdomains of the site count as the site."""
        host = _bare_host(url)
        return host == self.site_host or host.endswith("." + self.site_host)

    @property
    def stripe_live(self) -> bool:
        """The project takes real money: a test-mode Payment Link or a shop fallback is an error."""
        return self.stripe is not None and self.stripe.live

    def web_version(self, campaign_id: str) -> str:
        return self.web_version_url.replace("{campaign}", campaign_id)


def _bare_host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


@dataclass(frozen=True)
class Project:
    """A publisher's project: the folder that holds `newsletter.toml`, campaigns, columns and books,
    with its settings and the secrets it was opened with."""

    root: Path
    settings: Settings
    secrets: Secrets = field(default_factory=Secrets)

    @property
    def campaigns_dir(self) -> Path:
        return self.root / "campaigns"

    @property
    def columns_dir(self) -> Path:
        return self.root / "columns"

    @property
    def books_dir(self) -> Path:
        return self.root / "books"

    @property
    def authors_file(self) -> Path:
        return self.root / "authors.yaml"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"


def find_project_root(start: Path) -> Path:
    """Like git finding `.git`: the nearest folder upwards that holds `newsletter.toml`."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / SETTINGS_FILE).is_file():
            return folder
    raise NewsletterError(
        f"no {SETTINGS_FILE} found in {start} or any folder above it",
        hint="run the command inside a newsletter project or pass --project DIR",
    )


def open_project(root: Path, secrets: Secrets | None = None) -> Project:
    """The project in `root`, its settings validated; the secrets from the environment unless given."""
    secrets = Secrets.from_environment() if secrets is None else secrets
    return Project(root=root, settings=load_settings(root / SETTINGS_FILE), secrets=secrets)


def load_settings(path: Path) -> Settings:
    text = read_user_text(path, what="settings file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        raise NewsletterError(f"broken TOML: {exc}", path=path, line=line) from None
    except ValueError as exc:  # a number of more than 4,300 digits, which Python refuses to read
        raise NewsletterError(
            "broken TOML: a number of more than 4,300 digits", path=path, hint=str(exc).split(":")[0]
        ) from None
    return validate(Settings, data, path=path, line_of=lambda loc, key: _toml_line(text, loc))


def setting_line(project: Project, loc: Loc) -> int | None:
    """The line of newsletter.toml that sets `loc` (or of its table), for errors about a setting."""
    try:
        return _toml_line(read_user_text(project.root / SETTINGS_FILE, what="settings file"), loc)
    except NewsletterError:
        return None


def _line_from_message(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _toml_line(text: str, loc: Loc) -> int | None:
    """tomllib keeps no positions; find `key =` inside its `[table]`, or the table header itself."""
    names = [str(part) for part in loc if not isinstance(part, int)]  # a list item: its key's line
    best: int | None = None
    table: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.fullmatch(r"\[\s*([^\[\]]+?)\s*\]", line)
        if header:
            table = [part.strip().strip("\"'") for part in header.group(1).split(".")]
            if names[: len(table)] == table and len(names) == len(table):
                return number
            continue
        key = re.match(r"([A-Za-z0-9_\-\"']+)\s*=", line)
        if key and [*table, key.group(1).strip("\"'")] == names:
            return number
        if table and names[: len(table)] == table and best is None:
            best = number - 1
    return best

"""One email per recipient: the headers bulk senders need, both parts, the merge fields, DKIM.

What is the same for every recipient (From, Subject, List-Id, the MIME structure) is built once per
campaign with `email.message.EmailMessage`, which knows how to encode and fold headers; what differs
(To, Date, Message-ID, List-Unsubscribe and the merge fields in the body) is filled in per recipient.
That keeps a list of 100,000 from taking minutes to assemble; the tests check the result against
what the email package parses.

The headers follow what Gmail and Yahoo require of bulk senders since 2024: a Message-ID on the
sender's domain, `List-Unsubscribe` with an HTTPS one-click URL and a mailto:, and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), which a DKIM signature must cover.
"""

from __future__ import annotations

import base64
import binascii
import email.policy
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import idna

from newsletter.audience.reader_links import link_url, make_link_token
from newsletter.audience.unsubscribe import make_token, unsubscribe_url
from newsletter.errors import NewsletterError
from newsletter.payments.lock import personalised_order_url
from newsletter.project.settings import VERP_TOKEN_CHARS
from newsletter.render.links import LinkKind
from newsletter.render.merge import MergeTemplate, escape_html, escape_text, personal
from newsletter.render.view import order_field
from newsletter.sending.names import first_name

if TYPE_CHECKING:
    from newsletter.project.settings import DkimSettings, Project
    from newsletter.render.renderer import Rendered

# Signed on top of dkimpy's defaults; List-Unsubscribe-Post is not among them, and Gmail wants it signed.
DKIM_HEADERS = (
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Content-Language",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
)
_PLAIN_NAME_MAX = 60  # longer names are split over several lines as encoded-words
_ENCODED_WORD_BYTES = 45  # "=?utf-8?b?" + base64 of 45 bytes (60) + "?=" = 72 characters
STRIPE_KINDS = (LinkKind.ORDER_STRIPE_TEST, LinkKind.ORDER_STRIPE_LIVE)
TEST_PREFIX = "[TEST] "


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str = ""
    subscriber_id: int | None = None  # None: a test send to an address outside the list


@dataclass(frozen=True)
class Outgoing:
    """A message ready for SMTP: the exact bytes, and the one envelope recipient they go to."""

    recipient: Recipient
    envelope_from: str
    envelope_to: str
    message_id: str
    data: bytes  # CRLF line ends, as sent
    smtputf8: bool  # the address needs a server that accepts SMTPUTF8
    return_token: str = ""  # the token in a VERP envelope sender, recorded to match its bounce

    def parsed(self) -> EmailMessage:
        import email

        message = email.message_from_bytes(self.data.replace(b"\r\n", b"\n"), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


class DkimSigner:
    """Signs with dkimpy (relaxed/relaxed, rsa-sha256); the key is read and tried once, up front."""

    def __init__(self, settings: DkimSettings, root: Path) -> None:
        import dkim

        path = root / settings.key_file
        try:
            self.key = path.read_bytes()
        except OSError as exc:
            raise NewsletterError(
                f"cannot read the DKIM key: {exc.strerror}", path=path, field="dkim.key_file"
            ) from None
        self.selector = settings.selector.encode("ascii")
        self.domain = settings.domain.encode("ascii")
        self._sign: Callable[..., bytes] = dkim.sign
        try:
            self.sign(b"From: probe@example.invalid\r\nSubject: probe\r\n\r\nprobe\r\n")
        except (dkim.DKIMException, binascii.Error, ValueError) as exc:  # a cut-off PEM: binascii
            raise NewsletterError(
                f"not a usable DKIM private key: {exc}",
                path=path,
                field="dkim.key_file",
                hint="a PEM RSA key, e.g. from `openssl genrsa -out dkim.pem 2048`",
            ) from None

    def sign(self, data: bytes) -> bytes:
        present = {
            line.split(b":", 1)[0].strip().lower() for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        }
        headers = [name.encode("ascii").lower() for name in DKIM_HEADERS if name.lower().encode() in present]
        signature = self._sign(
            data,
            self.selector,
            self.domain,
            self.key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=headers,
        )
        return signature + data


class Composer:
    """Builds each recipient's message from one rendered campaign."""

    def __init__(
        self,
        rendered: Rendered,
        project: Project,
        *,
        secret: bytes,
        dkim: DkimSigner | None = None,
        test: bool = False,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        settings = project.settings
        self.campaign = rendered.campaign
        self.settings = settings
        self.secret = secret
        self.dkim = dkim
        self.now = now
        self.sender = envelope_address(settings.sender.address)[0]
        self.bounce_address = settings.bounces.address
        self.domain = _idna_domain(settings.sender.domain)
        self.defaults = dict(rendered.merge_defaults)
        html = MergeTemplate.parse(rendered.html_source, self.defaults)
        text = MergeTemplate.parse(rendered.text_source, self.defaults)
        self.html = _QuotedPrintableTemplate(html, escape_html)
        self.text = _QuotedPrintableTemplate(text, escape_text)
        self.stripe_fields = {
            order_field(link.block): link.url for link in rendered.links if link.kind in STRIPE_KINDS
        }
        self.boundary = "===============" + secrets.token_hex(12) + "=="  # "=" never follows "==" in QP
        self.mailto = settings.sender.unsubscribe_mailto or self.sender
        # A subject with a merge field ("{first_name}, ...") is written per recipient; any other
        # subject is part of the headers made once.
        subject = MergeTemplate.parse(
            personal((TEST_PREFIX if test else "") + self.campaign.subject), self.defaults
        )
        self.subject = subject if subject.fields else None
        self.fixed_headers = self._fixed_headers(None if subject.fields else subject.fill({}))
        self.part_heads = tuple(
            (
                f'--{self.boundary}\r\nContent-Type: text/{kind}; charset="utf-8"\r\n'
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            ).encode("ascii")
            for kind in ("plain", "html")
        )

    def _fixed_headers(self, subject: str | None) -> bytes:
        settings = self.settings
        sender = settings.sender
        head = EmailMessage(policy=email.policy.SMTP)
        head["From"] = Address(display_name=sender.name, addr_spec=self.sender)
        if sender.reply_to:
            head["Reply-To"] = sender.reply_to
        if subject is not None:
            head["Subject"] = subject
        head["MIME-Version"] = "1.0"
        head["Content-Type"] = f'multipart/alternative; boundary="{self.boundary}"'
        head["Content-Language"] = self.campaign.locale
        list_id = sender.list_id or f"newsletter.{self.domain}"
        head["List-Id"] = f"{settings.brand.name} <{list_id}>"
        head["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        # Gmail's Feedback Loop groups complaints by these fields: campaign:locale:type:sender.
        head["Feedback-ID"] = f"{self.campaign.id}:{self.campaign.locale}:newsletter:{self.domain}"
        return head.as_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n"

    def merge_values(self, recipient: Recipient) -> dict[str, str]:
        values = dict(self.defaults)
        values["first_name"] = first_name(recipient.name) or self.defaults["first_name"]
        token = make_token(recipient.email, self.campaign.id, self.secret, recipient.subscriber_id)
        values["unsubscribe_url"] = unsubscribe_url(self.settings.unsubscribe_url, token)
        if self.settings.signup is not None and recipient.subscriber_id is not None:
            preferences = make_link_token(
                "preferences", recipient.email, recipient.subscriber_id, self.secret, now=self.now()
            )
            values["preferences_url"] = link_url(self.settings.signup.url, "preferences", preferences)
        reference = recipient.subscriber_id if recipient.subscriber_id is not None else "test"
        for field, url in self.stripe_fields.items():
            values[field] = personalised_order_url(
                url,
                email=recipient.email,
                campaign_id=self.campaign.id,
                subscriber_id=reference,
                key=self.secret,
            )
        return values

    def compose(self, recipient: Recipient, *, message_id: str | None = None) -> Outgoing:
        values = self.merge_values(recipient)
        envelope_to, smtputf8 = envelope_address(recipient.email)
        token = secrets.token_hex(VERP_TOKEN_CHARS // 2)
        message_id = message_id or self.new_message_id(recipient, token)
        head = (
            f"Date: {format_datetime(self.now().astimezone(UTC))}\r\n"
            f"Message-ID: {message_id}\r\n"
            + _to_header(recipient.name, envelope_to)
            + (_subject_header(self.subject.fill(values)) if self.subject else "")
            + f"List-Unsubscribe: <{values['unsubscribe_url']}>,\r\n"
            f" <mailto:{self.mailto}?subject={quote('unsubscribe ' + self._token_of(values))}>\r\n"
        ).encode("utf-8") + self.fixed_headers
        text = self.text.fill(values)
        html = self.html.fill(values)
        data = b"".join(
            (
                head,
                b"\r\n",
                self.part_heads[0],
                text,
                b"\r\n",
                self.part_heads[1],
                html,
                b"\r\n--",
                self.boundary.encode("ascii"),
                b"--\r\n",
            )
        )
        if self.dkim is not None:
            data = self.dkim.sign(data)
        return Outgoing(
            recipient=recipient,
            envelope_from=self.envelope_from(token),
            envelope_to=envelope_to,
            message_id=message_id,
            data=data,
            smtputf8=smtputf8,
            return_token=token,
        )

    def new_message_id(self, recipient: Recipient, token: str) -> str:
        """Unique and unguessable (the token is 64 random bits): a returned message that quotes it
        names this very message, which is how a bounce is told from a forgery."""
        who = recipient.subscriber_id if recipient.subscriber_id is not None else "test"
        return f"<{self.campaign.id}.{who}.{token}@{self.domain}>"

    def envelope_from(self, token: str) -> str:
        """The SMTP MAIL FROM: with `[bounces] address`, that address with "+<token>" after its local
        part (VERP), so that a bounce, which goes there, says which message it answers; else the
        sender. No Return-Path header is written: the receiving server adds it from this."""
        if self.bounce_address is None:
            return self.sender
        local, _, domain = envelope_address(self.bounce_address)[0].rpartition("@")
        return f"{local}+{token}@{domain}"

    @staticmethod
    def _token_of(values: dict[str, str]) -> str:
        return values["unsubscribe_url"].rpartition("token=")[2]


def envelope_address(address: str) -> tuple[str, bool]:
    """The address for RCPT TO and the To header: an internationalised domain becomes its IDNA
    (xn--) form, which every server accepts; a non-ASCII local part needs SMTPUTF8 (True)."""
    local, _, domain = address.rpartition("@")
    ascii_domain = _idna_domain(domain)
    return f"{local}@{ascii_domain}", not (local.isascii() and ascii_domain.isascii())


def _idna_domain(domain: str) -> str:
    """IDNA 2008, as email-validator checks addresses: Python's own "idna" codec is IDNA 2003, which
    turns fuß.de into fuss.de, another domain with another owner."""
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return domain  # left as is: only a server with SMTPUTF8 will take it


def _to_header(name: str, address: str) -> str:
    """The To line, written by hand rather than by the email package: its header parser decodes
    encoded-words it finds in a display name, and so turns `=?utf-8?q?=0D=0A...?=` typed into a
    sign-up form into a real line break (header injection, not stopped by Python 3.11)."""
    name = escape_text(name)
    if not name:
        return f"To: {address}\r\n"
    if name.isascii() and name.isprintable() and "=?" not in name and len(name) <= _PLAIN_NAME_MAX:
        # formataddr quotes the name where RFC 5322 needs it; it refuses a non-ASCII address, hence x@x.
        return f"To: {formataddr((name, 'x@x')).rpartition('x@x')[0]}{address}>\r\n"
    # Anything else (non-ASCII, "=?" that a client would decode, very long) becomes RFC 2047
    # encoded-words of at most 75 characters, one per line: shown exactly as typed, and no line
    # grows past 78 characters, whatever the name.
    words = _encoded_words(name)
    if len(words[-1]) + len(address) + 3 <= 74:  # with "To: " in front, still a line of 78 at most
        words[-1] += f" <{address}>"
    else:
        words.append(f"<{address}>")
    return "To: " + "\r\n ".join(words) + "\r\n"


def _subject_header(subject: str) -> str:
    """A personal subject, written by hand like the To line and for the same reason: the merge
    value (a reader's name) never adds a line break, and anything but short ASCII is encoded-words."""
    subject = escape_text(subject)
    if subject.isascii() and subject.isprintable() and "=?" not in subject and len(subject) <= 69:
        return f"Subject: {subject}\r\n"
    return "Subject: " + "\r\n ".join(_encoded_words(subject)) + "\r\n"


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 words of at most 45 bytes of UTF-8 each, never splitting a character. Decoders drop
    the space between two encoded-words, so a break comes after a space of the name where one fits."""
    chunks = [b""]
    for word in re.findall(r"\S+\s*|\s+", text):
        size = len(word.encode("utf-8"))
        if chunks[-1] and len(chunks[-1]) + size > _ENCODED_WORD_BYTES >= size:
            chunks.append(b"")
        for char in word:
            encoded = char.encode("utf-8")
            if len(chunks[-1]) + len(encoded) > _ENCODED_WORD_BYTES:
                chunks.append(b"")
            chunks[-1] += encoded
    return [f"=?utf-8?b?{base64.b64encode(chunk).decode('ascii')}?=" for chunk in chunks]


class _QuotedPrintableTemplate:
    """A merge template already in quoted-printable: the campaign's text is encoded once, and per
    recipient only the merge values are. Each value sits between soft line breaks ("=" at the end of
    a line, which decoding removes), so no encoded line grows past 76 characters whatever its length.
    """

    def __init__(self, template: MergeTemplate, escape: Callable[[str], str]) -> None:
        self.literals = [_qp(piece) for piece in template.pieces[::2]]
        self.fields = template.pieces[1::2]
        self.escape = escape

    def fill(self, values: dict[str, str]) -> bytes:
        out = [self.literals[0]]
        for field, literal in zip(self.fields, self.literals[1:], strict=True):
            out += (b"=\r\n", _qp(self.escape(values[field])), b"=\r\n", literal)
        return b"".join(out)


def _qp(text: str) -> bytes:
    """Quoted-printable by binascii (C): the email package's pure-Python encoder is 10x slower.

    binascii lets a line grow to 78 when it ends in an encoded space ("=20"), and the soft break
    that `fill` puts after every piece needs one more character on the last line; such lines are
    cut once more, never inside an "=XX"."""
    data = text.replace("\r\n", "\n").encode("utf-8")
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=True)
    if len(encoded) <= 75:  # most merge values: nothing to check
        return encoded.replace(b"\n", b"\r\n")
    lines = encoded.split(b"\n")
    last = len(lines) - 1
    wrapped = [_wrap(line, 75 if number == last else 76) for number, line in enumerate(lines)]
    return b"\r\n".join(wrapped)


def _wrap(line: bytes, limit: int) -> bytes:
    pieces = []
    while len(line) > limit:
        cut = limit - 1  # room for the "=" of the soft break
        cut -= 1 if line[cut - 1 : cut] == b"=" else 2 if line[cut - 2 : cut - 1] == b"=" else 0
        pieces.append(line[:cut] + b"=")
        line = line[cut:]
    pieces.append(line)
    return b"\r\n".join(pieces)

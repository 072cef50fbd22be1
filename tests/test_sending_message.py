"""Per-recipient messages: structure, headers, merge fields, one envelope recipient, IDN, DKIM.

`message.py` writes headers and quoted-printable bodies by hand for speed, so every test here checks its
bytes against an independent reader: the `email` package, `binascii`'s quoted-printable decoder, dkimpy's
verifier, or a real SMTP server on loopback (`tests.smtp_fake`) that receives them through `smtplib`.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import html
import re
import shutil
import smtplib
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dkim
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.audience.unsubscribe import Token, read_token
from newsletter.cli import main
from newsletter.errors import NewsletterError
from newsletter.payments.lock import order_reference
from newsletter.pipeline import make_renderer
from newsletter.project.campaign import load_campaigns
from newsletter.project.settings import DkimSettings, Project, open_project
from newsletter.render.merge import MergeTemplate, escape_html, escape_text, marker
from newsletter.render.renderer import Rendered
from newsletter.sending.message import (
    Composer,
    DkimSigner,
    Recipient,
    _QuotedPrintableTemplate,
    envelope_address,
)
from newsletter.sending.names import first_name
from newsletter.sending.transport import transact
from tests.conftest import LOCKED, Run, copy_sample, write, write_lock
from tests.smtp_fake import FakeSMTP

NL = "2026-12-schrijven"
EN = "2026-12-paper"
SECRET = b"a-test-secret-of-enough-length"
DOMAIN = "uitgeverijlindenhof.nl"
SENDER = f"nieuwsbrief@{DOMAIN}"
SELECTOR = "nl2026"
STRIPE_URL = str(LOCKED["url"])
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
JAN = Recipient("jan@example.org", "Jan de Vries", 7)
HEADERS = [
    "Date",
    "Message-ID",
    "To",
    "List-Unsubscribe",
    "From",
    "Reply-To",
    "Subject",
    "MIME-Version",
    "Content-Type",
    "Content-Language",
    "List-Id",
    "List-Unsubscribe-Post",
    "Feedback-ID",
]
PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None)


@dataclass(frozen=True)
class Sample:
    """The sample project (with a Stripe link for the Dutch book and a DKIM key), both campaigns rendered."""

    project: Project
    nl: Rendered
    en: Rendered
    dkim_record: bytes  # the TXT record a DNS lookup of nl2026._domainkey.uitgeverijlindenhof.nl gives

    def composer(
        self, rendered: Rendered | None = None, *, test: bool = False, dkim: DkimSigner | None = None
    ) -> Composer:
        """A composer for the Dutch campaign (or `rendered`) with a fixed clock and the test secret."""
        return Composer(
            rendered or self.nl, self.project, secret=SECRET, dkim=dkim, test=test, now=lambda: NOW
        )

    def dns(self, name: bytes, timeout: int = 5) -> bytes | None:
        return self.dkim_record if name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode() else None


def make_dkim_key(folder: Path) -> bytes:
    """A fresh RSA key as `openssl genrsa` writes it; returns the DNS TXT record of its public half."""
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "1024"], check=True, capture_output=True)
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True, capture_output=True
    ).stdout
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def add_dkim_settings(root: Path, key_file: str) -> None:
    settings_file = root / "newsletter.toml"
    section = f'\n[dkim]\ndomain = "{DOMAIN}"\nselector = "{SELECTOR}"\nkey_file = "{key_file}"\n'
    settings_file.write_text(settings_file.read_text(encoding="utf-8") + section, encoding="utf-8")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    root = copy_sample(tmp_path_factory.mktemp("message") / "project")
    record = make_dkim_key(root / "secrets")
    add_dkim_settings(root, "secrets/dkim.pem")
    write_lock(root, LOCKED)
    project = open_project(root)
    campaigns, errors = load_campaigns(project, [NL, EN])
    assert not errors
    renderer = make_renderer(project)
    by_id = {campaign.id: renderer.render(campaign) for campaign in campaigns}
    return Sample(project=project, nl=by_id[NL], en=by_id[EN], dkim_record=record)


@pytest.fixture(scope="module")
def smtp() -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        yield server


@pytest.fixture
def client(smtp: FakeSMTP) -> Iterator[smtplib.SMTP]:
    smtp.clear()
    with smtplib.SMTP(smtp.host, smtp.port, local_hostname="client.test", timeout=5) as connection:
        connection.ehlo()
        yield connection


def parts(message: EmailMessage) -> tuple[str, str]:
    """The decoded text and HTML of a multipart/alternative message, checking they are the only parts."""
    text, html_part = message.iter_parts()
    assert text.get_content_type() == "text/plain" and html_part.get_content_type() == "text/html"
    text_content, html_content = text.get_content(), html_part.get_content()
    assert isinstance(text_content, str) and isinstance(html_content, str)
    return text_content, html_content


def head_of(data: bytes) -> EmailMessage:
    """Only the header block parsed: quick enough to run for every example of a property test."""
    head = data.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n") + b"\n\n"
    message = email.message_from_bytes(head, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def header_block(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0]


def unsubscribe_token(message: EmailMessage) -> str:
    match = re.match(r"<(https://[^>]+)>", str(message["List-Unsubscribe"]))
    assert match is not None
    return parse_qs(urlsplit(match.group(1)).query)["token"][0]


def order_url(html_content: str) -> str:
    hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', html_content)]
    [url] = {h for h in hrefs if h.startswith(STRIPE_URL)}
    return url


# -- structure ----------------------------------------------------------------------------------


def test_a_message_is_text_then_html_in_utf8_quoted_printable(sample: Sample) -> None:
    message = sample.composer().compose(JAN).parsed()
    assert message.get_content_type() == "multipart/alternative"
    assert message["MIME-Version"] == "1.0"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    for part in message.iter_parts():
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
    assert not message.defects and all(not part.defects for part in message.iter_parts())


def test_the_bodies_decode_to_the_rendered_campaign_filled_for_the_recipient(sample: Sample) -> None:
    composer = sample.composer()
    values = composer.merge_values(JAN)
    text, html_content = parts(composer.compose(JAN).parsed())
    assert html_content == MergeTemplate.parse(sample.nl.html_source).fill(values, escape_html)
    assert text == MergeTemplate.parse(sample.nl.text_source).fill(values, escape_text)


def test_lines_end_in_crlf_and_stay_within_the_limits(sample: Sample) -> None:
    """SMTP wants CRLF and at most 998 characters a line; quoted-printable at most 76 in the bodies."""
    for recipient in (JAN, Recipient("jörg@bücher.de", "Jörg Müller", 8), Recipient("x@example.org")):
        data = sample.composer().compose(recipient).data
        assert b"\r" not in data.replace(b"\r\n", b"") and b"\n" not in data.replace(b"\r\n", b"")
        assert data.endswith(b"--\r\n")
        head, body = data.split(b"\r\n\r\n", 1)
        assert max(len(line) for line in head.split(b"\r\n")) <= 998
        assert max(len(line) for line in body.split(b"\r\n")) <= 76


def test_a_recipient_with_an_ascii_address_gets_a_7bit_message(sample: Sample) -> None:
    """Headers encoded, bodies quoted-printable: any server takes it, with or without 8BITMIME."""
    for recipient in (JAN, Recipient("jan@bücher.de", "Jörg Müller—Ü", 9)):
        assert sample.composer().compose(recipient).data.isascii()


# -- headers ------------------------------------------------------------------------------------


def test_every_header_a_bulk_sender_needs_is_there_once(sample: Sample) -> None:
    out = sample.composer().compose(JAN)
    message = out.parsed()
    assert list(message.keys()) == HEADERS
    assert str(message["From"]) == f"Uitgeverij Lindenhof <{SENDER}>"
    assert str(message["Reply-To"]) == f"redactie@{DOMAIN}"
    assert str(message["To"]) == "Jan de Vries <jan@example.org>"
    assert str(message["Subject"]) == sample.nl.campaign.subject
    assert parsedate_to_datetime(str(message["Date"])) == NOW
    assert str(message["Content-Language"]) == "nl"
    assert str(message["List-Id"]) == f"Uitgeverij Lindenhof <newsletter.{DOMAIN}>"
    assert str(message["Feedback-ID"]) == f"{NL}:nl:newsletter:{DOMAIN}"
    assert str(message["Message-ID"]) == out.message_id


def test_list_unsubscribe_offers_one_click_https_and_mailto(sample: Sample) -> None:
    """Gmail and Yahoo (2024) want an https URL for RFC 8058 one-click, and the POST header exactly so."""
    out = sample.composer().compose(JAN)
    message = out.parsed()
    value = " ".join(str(message["List-Unsubscribe"]).split())
    match = re.fullmatch(r"<(https://[^>]+)>, <mailto:([^?>]+)\?subject=([^>]+)>", value)
    assert match is not None, value
    https, mailto, subject = match.groups()
    assert https.startswith(f"https://www.{DOMAIN}/nieuwsbrief/afmelden?token=")
    assert mailto == SENDER
    token = unsubscribe_token(message)
    assert unquote(subject) == f"unsubscribe {token}"
    assert read_token(token, SECRET) == Token(None, NL, subscriber_id=JAN.subscriber_id)  # no address in it
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in out.data


def test_the_body_unsubscribe_link_is_the_one_in_the_header(sample: Sample) -> None:
    message = sample.composer().compose(JAN).parsed()
    text, html_content = parts(message)
    url = f"https://www.{DOMAIN}/nieuwsbrief/afmelden?token={unsubscribe_token(message)}"
    assert f'href="{html.escape(url)}"' in html_content
    assert url in text


def test_message_ids_are_on_the_sender_domain_and_never_repeat(sample: Sample) -> None:
    composer = sample.composer()
    ids = [composer.compose(JAN).message_id for _ in range(50)]
    assert len(set(ids)) == 50
    for message_id in ids:
        assert re.fullmatch(rf"<{NL}\.7\.[0-9a-f]{{16}}@{re.escape(DOMAIN)}>", message_id)


def test_a_retry_keeps_the_message_id_it_was_given(sample: Sample) -> None:
    """The send log stores the id, so a resent message is recognisable as the same one."""
    out = sample.composer().compose(JAN, message_id=f"<earlier@{DOMAIN}>")
    assert out.message_id == f"<earlier@{DOMAIN}>"
    assert str(out.parsed()["Message-ID"]) == f"<earlier@{DOMAIN}>"


def test_a_test_send_is_marked_in_the_subject_and_the_references(sample: Sample) -> None:
    out = sample.composer(test=True).compose(Recipient("redactie@example.org", "Redactie"))
    message = out.parsed()
    assert str(message["Subject"]) == "[TEST] " + sample.nl.campaign.subject
    assert ".test." in out.message_id
    _, html_content = parts(message)
    assert parse_qs(urlsplit(order_url(html_content)).query)["client_reference_id"] == [f"{NL}_test"]
    assert str(sample.composer().compose(JAN).parsed()["Subject"]) == sample.nl.campaign.subject


def test_list_settings_and_a_missing_reply_to_are_honoured(sample: Sample) -> None:
    sender = sample.project.settings.sender.model_copy(
        update={"reply_to": None, "list_id": "boeken.lindenhof.nl", "unsubscribe_mailto": "weg@lindenhof.nl"}
    )
    project = replace(sample.project, settings=sample.project.settings.model_copy(update={"sender": sender}))
    message = Composer(sample.nl, project, secret=SECRET).compose(JAN).parsed()
    assert "Reply-To" not in message
    assert str(message["List-Id"]) == "Uitgeverij Lindenhof <boeken.lindenhof.nl>"
    assert "<mailto:weg@lindenhof.nl?subject=unsubscribe%20" in str(message["List-Unsubscribe"])


# -- merge fields ---------------------------------------------------------------------------------


def test_the_greeting_uses_the_first_name(sample: Sample) -> None:
    text, html_content = parts(sample.composer().compose(JAN).parsed())
    assert "Beste Jan," in text and "Beste Jan," in html_content
    assert "lezer" not in text


@pytest.mark.parametrize("name", ["", "   ", "\r\n"])
def test_without_a_name_the_greeting_falls_back_to_lezer(sample: Sample, name: str) -> None:
    text, html_content = parts(sample.composer().compose(Recipient("els@example.org", name, 2)).parsed())
    assert "Beste lezer," in text and "Beste lezer," in html_content


def test_an_english_campaign_falls_back_to_reader(sample: Sample) -> None:
    composer = sample.composer(sample.en)
    text, html_content = parts(composer.compose(Recipient("ann@example.org", "", 3)).parsed())
    assert "Dear reader," in text and "Dear reader," in html_content
    text, _ = parts(composer.compose(Recipient("ann@example.org", "Ann Smith", 3)).parsed())
    assert "Dear Ann," in text


def test_a_hostile_name_is_escaped_in_html_and_shown_as_typed_in_text(sample: Sample) -> None:
    name = "<img src=x onerror=alert(1)>&amp; de Vries"
    text, html_content = parts(sample.composer().compose(Recipient("x@example.org", name, 4)).parsed())
    assert "Beste &lt;img," in html_content
    assert "<img src=x" not in html_content
    assert "Beste <img," in text
    quote_name = 'Jan"><script>alert(1)</script>'
    _, html_content = parts(sample.composer().compose(Recipient("x@example.org", quote_name, 4)).parsed())
    assert "Beste Jan&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;," in html_content
    assert "<script>" not in html_content


def test_the_stripe_order_link_is_personalised_for_the_recipient(sample: Sample) -> None:
    """Stripe fills in the email at checkout and attributes the sale to this send and subscriber."""
    message = sample.composer().compose(JAN).parsed()
    text, html_content = parts(message)
    url = order_url(html_content)
    assert parse_qs(urlsplit(url).query) == {
        "prefilled_email": ["jan@example.org"],
        "client_reference_id": [order_reference(NL, 7, SECRET)],  # signed: a buyer cannot edit it
    }
    assert re.fullmatch(rf"{NL}_7_[0-9a-f]{{12}}", order_reference(NL, 7, SECRET))
    assert url in text
    other = parts(sample.composer().compose(Recipient("els@example.org", "Els", 8)).parsed())[1]
    assert parse_qs(urlsplit(order_url(other)).query)["prefilled_email"] == ["els@example.org"]


def test_a_campaign_without_stripe_links_keeps_the_shop_page(sample: Sample) -> None:
    _, html_content = parts(sample.composer(sample.en).compose(JAN).parsed())
    assert STRIPE_URL not in html_content
    assert "prefilled_email" not in html_content


@PROPERTY
@given(name=st.text(max_size=60))
def test_any_name_lands_escaped_in_html_and_whole_in_text(sample: Sample, name: str) -> None:
    greeting = first_name(name) or "lezer"
    text, html_content = parts(sample.composer().compose(Recipient("x@example.org", name, 1)).parsed())
    assert f"Beste {escape_html(greeting)}," in html_content
    assert f"Beste {greeting}," in text
    if "<" in greeting:
        assert f"Beste {greeting}," not in html_content


# -- one envelope recipient, over SMTP ------------------------------------------------------------


def test_a_message_goes_to_its_one_recipient_exactly_as_composed(
    sample: Sample, smtp: FakeSMTP, client: smtplib.SMTP
) -> None:
    out = sample.composer().compose(JAN)
    result = transact(client, out)
    assert result.state == "sent", result
    [delivered] = smtp.messages
    assert delivered.mail_from == SENDER
    assert delivered.rcpt_tos == ["jan@example.org"]
    assert delivered.data == out.data
    assert "SMTPUTF8" not in delivered.mail_options
    assert parts(delivered.message) == parts(out.parsed())


def test_smtplib_sendmail_with_the_envelope_also_reaches_only_the_recipient(
    sample: Sample, smtp: FakeSMTP, client: smtplib.SMTP
) -> None:
    out = sample.composer().compose(Recipient("piet@example.org", "Piet", 5))
    assert client.sendmail(out.envelope_from, [out.envelope_to], out.data) == {}
    assert [m.rcpt_tos for m in smtp.messages] == [["piet@example.org"]]


# -- internationalised addresses ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "envelope", "smtputf8"),
    [
        ("jan@example.org", "jan@example.org", False),
        ("jan@bücher.de", "jan@xn--bcher-kva.de", False),
        ("jörg@bücher.de", "jörg@xn--bcher-kva.de", True),
        ("jörg@example.org", "jörg@example.org", True),
        ("jan@BÜCHER.de", "jan@xn--bcher-kva.de", False),
    ],
)
def test_envelope_address_uses_the_idna_domain(address: str, envelope: str, smtputf8: bool) -> None:
    assert envelope_address(address) == (envelope, smtputf8)


def test_an_idn_domain_with_an_ascii_local_part_needs_no_smtputf8(
    sample: Sample, smtp: FakeSMTP, client: smtplib.SMTP
) -> None:
    out = sample.composer().compose(Recipient("jan@bücher.de", "Jan", 6))
    assert (out.envelope_to, out.smtputf8) == ("jan@xn--bcher-kva.de", False)
    assert out.parsed()["To"].addresses[0].addr_spec == "jan@xn--bcher-kva.de"
    assert transact(client, out).state == "sent"
    assert smtp.messages[0].rcpt_tos == ["jan@xn--bcher-kva.de"]


def test_a_non_ascii_local_part_is_sent_with_smtputf8(
    sample: Sample, smtp: FakeSMTP, client: smtplib.SMTP
) -> None:
    out = sample.composer().compose(Recipient("jörg@bücher.de", "Jörg Müller", 6))
    assert (out.envelope_to, out.smtputf8) == ("jörg@xn--bcher-kva.de", True)
    assert "To: =?utf-8?b?SsO2cmcgTcO8bGxlcg==?= <jörg@xn--bcher-kva.de>\r\n".encode() in out.data
    assert transact(client, out).state == "sent"
    [delivered] = smtp.messages
    assert delivered.rcpt_tos == ["jörg@xn--bcher-kva.de"]
    assert "SMTPUTF8" in delivered.mail_options
    assert delivered.data == out.data


def test_non_ascii_names_are_encoded_and_read_back(sample: Sample) -> None:
    for name in ("Jörg Müller", "Zoë O'Brien, PhD", "Łukasz Żółć", "王小明", 'Renée "Ré" <Dubois>'):
        data = sample.composer().compose(Recipient("jan@example.org", name, 1)).data
        assert header_block(data).isascii()
        [address] = head_of(data)["To"].addresses
        assert (address.display_name, address.addr_spec) == (name, "jan@example.org")


# -- the To header, for any name ----------------------------------------------------------------

names = st.text(
    st.one_of(st.characters(codec="utf-8"), st.sampled_from(list('",;:<>()[]\\@. =?\t\r\n'))), max_size=200
)


@PROPERTY
@given(name=names, address=st.sampled_from(["jan@example.org", "jan@bücher.de", "jörg@bücher.de"]))
def test_any_display_name_reads_back_and_adds_no_header(sample: Sample, name: str, address: str) -> None:
    """Names come from sign-up forms: quotes, commas, line breaks and unicode must stay inside To."""
    out = sample.composer().compose(Recipient(address, name, 1))
    message = head_of(out.data)
    assert list(message.keys()) == HEADERS
    [to] = message["To"].addresses
    # Python's address parser puts a space between two encoded-words where RFC 2047 (and mail
    # clients) join them, so only the characters are compared here; the test below decodes exactly.
    assert "".join(to.display_name.split()) == "".join(escape_text(name).split())
    assert to.addr_spec.encode("utf-8", "surrogateescape").decode() == out.envelope_to
    assert max(len(line) for line in header_block(out.data).split(b"\r\n")) <= 998


def test_a_long_non_ascii_name_is_folded_into_encoded_words_that_decode_to_it(sample: Sample) -> None:
    name = " ".join(["Jörg"] * 200)
    head = header_block(sample.composer().compose(Recipient("jan@example.org", name, 1)).data)
    to = re.search(rb"\r\nTo: (.*?)\r\n(?! )", head, re.DOTALL)
    assert to is not None and to.group(1).isascii()
    assert max(len(line) for line in to.group(0).split(b"\r\n")) <= 78
    value = to.group(1).decode().replace("\r\n", "")
    assert str(make_header(decode_header(value))) == f"{name} <jan@example.org>"


def test_a_very_long_name_with_commas_stays_one_address(sample: Sample) -> None:
    name = "Lezer " * 150 + ", victim@evil.example,"
    to = head_of(sample.composer().compose(Recipient("jan@example.org", name, 1)).data)["To"]
    assert [address.addr_spec for address in to.addresses] == ["jan@example.org"]


@pytest.mark.parametrize("address", ["jan@example.org", "jörg@bücher.de"])
def test_a_very_long_name_never_makes_a_line_over_998(sample: Sample, address: str) -> None:
    head = header_block(sample.composer().compose(Recipient(address, "x" * 1000, 1)).data)
    assert max(len(line) for line in head.split(b"\r\n")) <= 998


@pytest.mark.parametrize("address", ["jan@example.org", "jan@bücher.de"])
def test_a_name_with_an_encoded_line_break_cannot_add_a_header(sample: Sample, address: str) -> None:
    """Names come from sign-up forms and imported lists: a reader must not be able to write headers."""
    name = "=?utf-8?q?Bank=0D=0ABcc:_victim@evil.example?="
    out = sample.composer().compose(Recipient(address, name, 1))
    assert b"\r\nBcc:" not in out.data
    message = head_of(out.data)
    assert list(message.keys()) == HEADERS
    assert [a.addr_spec for a in message["To"].addresses] == [out.envelope_to]


@pytest.mark.parametrize("address", ["jan@example.org", "jörg@bücher.de"])
def test_a_name_that_looks_like_an_encoded_word_is_shown_literally(sample: Sample, address: str) -> None:
    name = "=?utf-8?q?Uw_bank?="
    [to] = head_of(sample.composer().compose(Recipient(address, name, 1)).data)["To"].addresses
    assert to.display_name == name


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("Jan Jansen", "Jan Jansen <jan@example.org>"),
        ('Jan "de" Vries, jr.', '"Jan \\"de\\" Vries, jr." <jan@example.org>'),
        ("Jörg", "=?utf-8?b?SsO2cmc=?= <jan@example.org>"),
        ("", "jan@example.org"),
    ],
)
def test_short_names_stay_on_one_readable_line(sample: Sample, name: str, written: str) -> None:
    out = sample.composer().compose(Recipient("jan@example.org", name, 1))
    assert f"\r\nTo: {written}\r\n".encode() in out.data


def test_a_long_name_breaks_after_its_spaces_so_every_client_keeps_them(sample: Sample) -> None:
    """RFC 2047 decoders drop the space between two encoded-words: each word must end on the space."""
    name = "Maria " * 20 + "Bakker"
    head = header_block(sample.composer().compose(Recipient("jan@example.org", name, 1)).data)
    to = re.search(rb"\r\nTo: (.*?)\r\n(?! )", head, re.DOTALL)
    assert to is not None
    words = [decode_header(word.decode())[0][0] for word in to.group(1).split()[:-1]]
    assert all(isinstance(word, bytes) and word.endswith(b" ") for word in words[:-1])
    assert b"".join(words).decode() == name


# -- quoted-printable templates -----------------------------------------------------------------

FIELD_NAMES = ["first_name", "unsubscribe_url", "order_book_1"]


@st.composite
def templates(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    # Rendered sources hold CRLF or LF line ends, never a lone CR (b2a_qp would pass that through raw).
    chunk = st.one_of(
        st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=40), st.just("\r\n")
    )
    literal = st.lists(chunk, max_size=4).map("".join).filter(lambda s: "__merge_" not in s)
    source = draw(literal)
    for _ in range(draw(st.integers(0, 4))):
        source += marker(draw(st.sampled_from(FIELD_NAMES))) + draw(literal)
    values = {name: draw(st.text(st.characters(codec="utf-8"), max_size=160)) for name in FIELD_NAMES}
    return source, values


@PROPERTY
@given(template=templates(), escape=st.sampled_from([escape_text, escape_html]))
def test_quoted_printable_fill_decodes_to_the_plain_fill(
    template: tuple[str, dict[str, str]], escape: Callable[[str], str]
) -> None:
    source, values = template
    encoded = _QuotedPrintableTemplate(MergeTemplate.parse(source), escape).fill(values)
    assert encoded.isascii()
    assert b"\r" not in encoded.replace(b"\r\n", b"") and b"\n" not in encoded.replace(b"\r\n", b"")
    plain = MergeTemplate.parse(source).fill(values, escape).replace("\r\n", "\n")
    assert binascii.a2b_qp(encoded.replace(b"\r\n", b"\n")).decode("utf-8") == plain
    assert max(len(line) for line in encoded.split(b"\r\n")) <= 76


@pytest.mark.parametrize(
    "literal",
    ["x" * 75 + " \r\nend", "x" * 74 + "\t\r\n" + "é" * 30 + " ", "=" * 30 + " " * 60 + "\r\n", "x" * 76],
    ids=["space-before-a-line-break", "tab-then-non-ascii", "escapes-and-spaces", "exactly-76"],
)
def test_a_line_binascii_makes_too_long_is_cut_outside_its_escapes(literal: str) -> None:
    """binascii.b2a_qp writes 77-78 characters when a line ends in an encoded space or tab."""
    source = literal + marker("first_name") + literal
    encoded = _QuotedPrintableTemplate(MergeTemplate.parse(source), escape_text).fill({"first_name": "Jan"})
    assert max(len(line) for line in encoded.split(b"\r\n")) <= 76
    assert binascii.a2b_qp(encoded.replace(b"\r\n", b"\n")).decode() == source.replace(
        marker("first_name"), "Jan"
    ).replace("\r\n", "\n")


def test_no_recipient_gets_an_encoded_line_over_76(sample: Sample) -> None:
    composer = sample.composer()
    for length in range(1, 80):
        body = composer.compose(Recipient("a" * length + "@example.org", "", 1)).data.split(b"\r\n\r\n", 1)[1]
        assert max(len(line) for line in body.split(b"\r\n")) <= 76, f"local part of {length} characters"


# -- DKIM ---------------------------------------------------------------------------------------


def dkim_tags(data: bytes) -> dict[str, str]:
    head = head_of(data)
    value = re.sub(r"\s+", "", str(head["DKIM-Signature"]))
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)


def test_a_signed_message_verifies_against_the_published_key(sample: Sample) -> None:
    settings_ = sample.project.settings.dkim
    assert settings_ is not None
    signer = DkimSigner(settings_, sample.project.root)
    out = sample.composer(dkim=signer).compose(JAN)
    assert out.data.startswith(b"DKIM-Signature: ")
    assert dkim.verify(out.data, dnsfunc=sample.dns)
    tags = dkim_tags(out.data)
    assert (tags["d"], tags["s"], tags["a"], tags["c"]) == (DOMAIN, SELECTOR, "rsa-sha256", "relaxed/relaxed")
    signed = set(tags["h"].lower().split(":"))
    assert {
        "list-unsubscribe",
        "list-unsubscribe-post",
        "from",
        "to",
        "subject",
        "date",
        "message-id",
    } <= signed
    assert {h.lower() for h in HEADERS} == signed


def test_a_signature_breaks_when_the_unsubscribe_link_is_altered(sample: Sample) -> None:
    """Signing List-Unsubscribe is the point: a relay must not be able to swap in another link."""
    settings_ = sample.project.settings.dkim
    assert settings_ is not None
    out = sample.composer(dkim=DkimSigner(settings_, sample.project.root)).compose(JAN)
    tampered = out.data.replace(b"afmelden?token=", b"afmelden?x=1&token=", 1)
    assert tampered != out.data
    assert not dkim.verify(tampered, dnsfunc=sample.dns)
    reposted = out.data.replace(b"List-Unsubscribe=One-Click", b"List-Unsubscribe=Two-Click", 1)
    assert not dkim.verify(reposted, dnsfunc=sample.dns)


def test_a_signed_smtputf8_message_verifies_after_smtp(
    sample: Sample, smtp: FakeSMTP, client: smtplib.SMTP
) -> None:
    settings_ = sample.project.settings.dkim
    assert settings_ is not None
    out = sample.composer(dkim=DkimSigner(settings_, sample.project.root)).compose(
        Recipient("jörg@bücher.de", "Jörg Müller", 6)
    )
    assert transact(client, out).state == "sent"
    assert dkim.verify(smtp.messages[0].data, dnsfunc=sample.dns)


@pytest.fixture
def signing_project(sample: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the module's project ([dkim] and its key included) with one reader, ready to send."""
    root = tmp_path / "project"
    shutil.copytree(sample.project.root, root, ignore=shutil.ignore_patterns("build", "*.sqlite3"))
    write(root / "readers.csv", "email,name\njan@example.org,Jan\n")
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET.decode())
    assert cli(root, "audience", "import", str(root / "readers.csv"), "--consent", "testlijst").exit_code == 0
    return root


def cli(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--project", str(root), *args], catch_exceptions=False)


def test_send_dry_run_signs_with_the_key_from_the_settings(sample: Sample, signing_project: Path) -> None:
    """The wiring: [dkim] in newsletter.toml is what `newsletter send` signs with."""
    result = cli(signing_project, "send", NL, "--dry-run")
    assert result.exit_code == 0, result.output
    [eml] = sorted((signing_project / "build" / NL / "outbox").glob("*.eml"))
    assert dkim.verify(eml.read_bytes(), dnsfunc=sample.dns)


def test_send_with_a_broken_key_stops_with_the_file_named(signing_project: Path) -> None:
    (signing_project / "secrets" / "dkim.pem").write_text("not a key\n", encoding="utf-8")
    result = cli(signing_project, "send", NL, "--dry-run")
    assert result.exit_code == 2
    assert "error: secrets/dkim.pem: dkim.key_file: not a usable DKIM private key" in result.stderr
    assert not (signing_project / "build" / NL / "outbox").exists()


def public_half(key: Path) -> bytes:
    command = ["openssl", "rsa", "-in", str(key), "-pubout"]
    return subprocess.run(command, check=True, capture_output=True).stdout


def cut_off(key: Path) -> bytes:
    """A copy that stopped mid-line, with the end marker pasted back by hand."""
    return key.read_bytes()[:400] + b"\n-----END PRIVATE KEY-----\n"


BAD_KEYS: list[object] = [
    pytest.param(lambda _: b"not a key\n", id="garbage"),
    pytest.param(lambda _: b"", id="empty"),
    pytest.param(
        lambda _: b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", id="not-asn1"
    ),
    pytest.param(public_half, id="public-key"),
    pytest.param(
        cut_off,
        id="cut-off",
    ),
]


@pytest.mark.parametrize("bad_key", BAD_KEYS)
def test_an_unusable_key_file_is_a_user_error_naming_the_file(
    sample: Sample, tmp_path: Path, bad_key: Callable[[Path], bytes]
) -> None:
    """The key is tried once when the signer is made, so a bad key stops a send before any message."""
    (tmp_path / "dkim.pem").write_bytes(bad_key(sample.project.root / "secrets" / "dkim.pem"))
    with pytest.raises(NewsletterError, match="not a usable DKIM private key") as caught:
        DkimSigner(DkimSettings(domain=DOMAIN, selector=SELECTOR, key_file="dkim.pem"), tmp_path)
    assert caught.value.path == tmp_path / "dkim.pem"
    assert caught.value.field == "dkim.key_file"
    assert "openssl genrsa" in (caught.value.hint or "")


def test_a_missing_key_file_is_a_user_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(NewsletterError, match="cannot read the DKIM key") as caught:
        DkimSigner(DkimSettings(domain=DOMAIN, selector=SELECTOR, key_file="nope.pem"), tmp_path)
    assert caught.value.path == tmp_path / "nope.pem"


# -- header injection at load time ----------------------------------------------------------------


@pytest.fixture
def reader(project: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One reader and the unsubscribe secret: enough for `send --dry-run` to compose a message."""
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET.decode())
    write(project / "readers.csv", "email,name\njan@example.org,Jan\n")
    assert run("audience", "import", str(project / "readers.csv"), "--consent", "testlijst").exit_code == 0
    return project


def set_subject(project: Path, yaml_value: str) -> None:
    path = project / "campaigns" / f"{NL}.yaml"
    text = re.sub(r"(?m)^subject: .*$", lambda _: f"subject: {yaml_value}", path.read_text("utf-8"))
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("yaml_value", "problem"),
    [
        (r'"Hallo\r\nBcc: evil@example.org"', "must be a single line"),
        (r'"Hallo\nBcc: evil@example.org"', "must be a single line"),
        ("|\n  Hallo\n  Bcc: evil@example.org", "must be a single line"),
        ('"=?utf-8?q?Hallo?="', "must not contain MIME encoded-words"),
    ],
    ids=["crlf", "lf", "block", "encoded-word"],
)
def test_a_subject_that_would_add_a_header_is_refused_before_sending(
    reader: Path, run: Run, yaml_value: str, problem: str
) -> None:
    set_subject(reader, yaml_value)
    for args in (("build", NL), ("send", NL, "--dry-run")):
        result = run(*args)
        assert result.exit_code == 2, result.output
        assert f"error: campaigns/{NL}.yaml:2: subject: {problem}" in result.stderr
        assert "Traceback" not in result.output
    assert not (reader / "build" / NL / "outbox").exists()


@pytest.mark.parametrize(
    "yaml_value",
    [
        pytest.param(
            r'"Hallo\LBcc: evil@example.org"',
            id="u2028",
        ),
        pytest.param(
            r'"Hallo\vBcc: x"',
            id="vt",
        ),
    ],
)
def test_a_subject_with_another_line_break_is_refused_before_sending(
    reader: Path, run: Run, yaml_value: str
) -> None:
    set_subject(reader, yaml_value)
    result = run("send", NL, "--dry-run")
    assert result.exit_code == 2, result.output
    assert f"campaigns/{NL}.yaml:2: subject:" in result.stderr


def test_a_sender_name_that_would_add_a_header_is_refused(reader: Path, run: Run) -> None:
    path = reader / "newsletter.toml"
    text = path.read_text(encoding="utf-8")
    sender = text.index("[sender]")
    text = text[:sender] + text[sender:].replace(
        'name = "Uitgeverij Lindenhof"', r'name = "Lindenhof\r\nBcc: evil@example.org"', 1
    )
    path.write_text(text, encoding="utf-8")
    line = text[: text.index("Bcc: evil")].count("\n") + 1
    result = run("send", NL, "--dry-run")
    assert result.exit_code == 2
    assert f"error: newsletter.toml:{line}: sender.name: must be a single line" in result.stderr
    assert "Traceback" not in result.output
    assert not (reader / "build" / NL / "outbox").exists()


def test_a_subject_with_a_merge_field_is_written_per_reader(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET.decode())
    write(
        project / "readers.csv",
        "email,name\njan@example.org,Jan\nzoe@example.org,Zoë Ærø\nnn@example.org,\n"
        'evil@example.org,"X=?utf-8?q?=0D=0ABcc:_a@b.c?="\n',
    )
    assert run("audience", "import", str(project / "readers.csv"), "--consent", "testlijst").exit_code == 0
    set_subject(project, '"{first_name}, de kunst van het weglaten – {{en}} meer"')
    result = run("send", NL, "--dry-run")
    assert result.exit_code == 0, result.output
    subjects = {}
    for eml in (project / "build" / NL / "outbox").rglob("*.eml"):
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert len(message.get_all("Subject") or []) == 1 and message["Bcc"] is None
        subjects[message["To"].addresses[0].addr_spec] = str(message["Subject"])
    assert subjects == {
        "jan@example.org": "Jan, de kunst van het weglaten – {en} meer",
        "zoe@example.org": "Zoë, de kunst van het weglaten – {en} meer",
        "nn@example.org": "lezer, de kunst van het weglaten – {en} meer",
        "evil@example.org": "X=?utf-8?q?=0D=0ABcc:_a@b.c?=, de kunst van het weglaten – {en} meer",
    }

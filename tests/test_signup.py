"""Sign-up with double opt-in through `newsletter serve`: waitress on a free port, a real SMTP server on
loopback for the confirmation mails, and a clock the tests move.

What matters most: the form answers the same for every address (nobody learns who is subscribed), an
unconfirmed reader is never mailed a campaign, a confirmation link is signed, expires and confirms
only on POST, and the abuse limits hold (honeypot, fill time, proof of work, per network, per
address) with their counts in the database.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from newsletter.api import Newsletter, open_project
from newsletter.errors import NewsletterError
from newsletter.project.environment import Secrets
from newsletter.sending.transport import Memory, Smtp
from newsletter.signup.service import Signups
from newsletter.store import Subscriber, open_store
from newsletter.web.application import make_app
from tests.conftest import Run, write
from tests.smtp_fake import Delivered, FakeSMTP, configure
from tests.test_web_app import Answer, Server, assert_safe_headers

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("both_engines")

SECRET = "a-test-secret-of-enough-length"
BASE = "/nieuwsbrief/aanmelden"
SIGNUP = f"""
[signup]
url = "https://www.uitgeverijlindenhof.nl{BASE}"
min_fill_seconds = 3
per_ip_per_hour = 5
per_ip_per_hour_without_script = 3
trusted_proxies = ["127.0.0.1"]
"""
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
START = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Desk:
    """A project with [signup], its server, its SMTP server and its clock."""

    project: Path
    newsletter: Newsletter
    signups: Signups
    server: Server
    smtp: FakeSMTP
    clock: Clock

    def post(self, path: str, fields: dict[str, object], *, ip: str = "203.0.113.7") -> Answer:
        body = urlencode(fields, doseq=True).encode("utf-8")
        return self.server.request("POST", path, body, {**FORM, "X-Forwarded-For": ip})

    def sign_up(self, email: str, *, ip: str = "203.0.113.7", **fields: object) -> Answer:
        return self.post(BASE + "/nl", {"email": email, **fields}, ip=ip)

    def mails(self, count: int) -> list[Delivered]:
        assert self.signups.mailer.drain(10)
        return self.smtp.wait_for(count)

    def subscriber(self, email: str) -> Subscriber:
        with open_store(self.newsletter.project) as store:
            found = store.find_subscriber(email)
        assert found is not None
        return found

    def newsletter_transport(self) -> Callable[[], Smtp]:
        """The real send's transport: SMTP to the same server."""
        settings = self.newsletter.settings.smtp
        assert settings is not None
        return lambda: Smtp(settings, None)

    def status(self, email: str) -> str | None:
        with open_store(self.newsletter.project) as store:
            found = store.find_subscriber(email)
        return None if found is None else found.status


def link_in(mail: Delivered, page: str) -> str:
    """The path and query of the link to `page` in a mail's text part."""
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    (url,) = re.findall(rf"https://\S+{BASE}/{page}\?token=\S+", text)
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def desk(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", SECRET)  # for the commands the tests run
    with FakeSMTP() as smtp:
        settings = project / "newsletter.toml"
        settings.write_text(settings.read_text(encoding="utf-8") + SIGNUP, encoding="utf-8")
        configure(project, smtp.port)
        newsletter = open_project(project, secrets=Secrets(unsubscribe=SECRET))
        clock = Clock()
        signups = newsletter.signups(clock=clock)
        server = Server(newsletter.project, app=make_app(newsletter, signups=signups))
        try:
            yield Desk(project, newsletter, signups, server, smtp, clock)
        finally:
            server.stop()


# -- the double opt-in -----------------------------------------------------------------------------


def test_a_sign_up_mails_a_confirmation_and_only_the_post_confirms(desk: Desk) -> None:
    answer = desk.sign_up("Lies@Example.nl", name="Lies", topics=["boeken"])
    assert answer.status == 303 and answer.headers["location"] == f"{BASE}/nl/ok"
    assert_safe_headers(answer)
    assert desk.status("lies@example.nl") == "unconfirmed"
    (mail,) = desk.mails(1)
    assert mail.rcpt_tos == ["Lies@example.nl"]
    assert mail.message["Subject"] == "Bevestig je aanmelding voor de nieuwsbrief van Uitgeverij Lindenhof"
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert "List-Unsubscribe" not in mail.message
    html = mail.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Ja, meld mij aan" in html and 'style="' in html  # MJML, inlined as the campaigns are
    link = link_in(mail, "confirm")

    shown = desk.server.request("GET", link)  # what a mail scanner does
    assert shown.status == 200 and 'method="post"' in shown.text
    assert desk.status("lies@example.nl") == "unconfirmed"

    token = parse_qs(urlsplit(link).query)["token"][0]
    done = desk.post(f"{BASE}/confirm", {"token": token})
    assert done.status == 200 and "Je bent aangemeld" in done.text
    assert desk.status("lies@example.nl") == "active"
    again = desk.post(f"{BASE}/confirm", {"token": token})
    assert again.status == 200 and "Je was al aangemeld" in again.text

    person = desk.newsletter.person("lies@example.nl")
    assert person.subscriber.topics == ("boeken",) and person.subscriber.name == "Lies"
    (consent,) = person.consents
    assert consent.source == "form:hosted" and consent.confirmed_at == "2026-12-07T10:00:00Z"
    assert consent.confirmation_message_id == mail.message["Message-ID"]
    assert consent.text.startswith("Ja, ik wil de nieuwsbrief van Uitgeverij Lindenhof")
    assert consent.ip.startswith("hmac-sha256:")  # the default: a keyed hash, not the address
    assert [(c.old_status, c.new_status, c.source) for c in person.history] == [
        (None, "unconfirmed", "signup"),
        ("unconfirmed", "active", "confirmation"),
    ]


def test_the_answer_is_the_same_for_new_waiting_subscribed_and_suppressed_addresses(
    desk: Desk, run: Run
) -> None:
    write(desk.project / "l.csv", "email,status\nactief@example.nl,active\nweg@example.nl,unsubscribed\n")
    assert run("audience", "import", str(desk.project / "l.csv"), "--consent", "beurs 2026").exit_code == 0
    desk.sign_up("wacht@example.nl", ip="198.51.100.1")
    answers = [
        desk.sign_up(email, ip=f"198.51.100.{n}")
        for n, email in enumerate(
            ["nieuw@example.nl", "wacht@example.nl", "actief@example.nl", "weg@example.nl"], 2
        )
    ]
    assert {(a.status, a.headers.get("location"), a.body) for a in answers} == {
        (303, f"{BASE}/nl/ok", b"")
    }, [a.text[:3000] for a in answers]
    assert desk.status("actief@example.nl") == "active" and desk.status("weg@example.nl") == "unsubscribed"


def test_unconfirmed_readers_get_no_campaign_and_count_apart(desk: Desk, run: Run) -> None:
    desk.sign_up("lies@example.nl")
    counted = run("audience", "count")
    assert re.search(r"unconfirmed\s+1\s+0\s+1", counted.output), counted.output
    assert re.search(r"active\s+0\s+0\s+0", counted.output), counted.output
    dry = desk.newsletter.dry_run("2026-12-schrijven")
    assert dry.written == 0 and ("lies@example.nl", "unconfirmed") in dry.audit.plan.excluded


def test_an_expired_link_is_refused_and_the_unconfirmed_are_erased(desk: Desk) -> None:
    desk.sign_up("lies@example.nl")
    link = link_in(desk.mails(1)[0], "confirm")
    desk.clock.advance(days=7, seconds=1)
    refused = desk.server.request("GET", link)
    assert refused.status == 400 and "werkt niet meer" in refused.text
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert desk.post(f"{BASE}/confirm", {"token": token}).status == 400
    desk.sign_up("ander@example.nl")  # any sign-up purges what expired
    assert desk.status("lies@example.nl") is None


def test_forged_and_misused_links_are_refused(desk: Desk) -> None:
    desk.sign_up("lies@example.nl")
    link = link_in(desk.mails(1)[0], "confirm")
    token = parse_qs(urlsplit(link).query)["token"][0]
    payload, mac = token.split(".")
    forged = payload + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    preferences_token = desk.signups.preferences_url(desk.subscriber("lies@example.nl"))
    other = parse_qs(urlsplit(preferences_token).query)["token"][0]
    for bad in (forged, other, "", "x" * 5000, "%00", token[:-3]):
        answer = desk.server.request("GET", f"{BASE}/confirm?{urlencode({'token': bad})}")
        assert answer.status == 400
        assert bad == "" or bad not in answer.text
        assert "Traceback" not in answer.text
    assert desk.status("lies@example.nl") == "unconfirmed"


# -- abuse -------------------------------------------------------------------------------------------


def test_a_filled_honeypot_or_a_form_sent_too_fast_does_nothing_but_answers_alike(desk: Desk) -> None:
    bot = desk.sign_up("bot@example.nl", website="http://spam.example")
    assert bot.status == 303 and bot.headers["location"] == f"{BASE}/nl/ok"
    started = desk.signups.started_token()
    hasty = desk.sign_up("haast@example.nl", started=started)  # the clock has not moved
    assert hasty.status == 303
    desk.clock.advance(seconds=3)
    calm = desk.sign_up("rustig@example.nl", started=started)
    assert calm.status == 303
    assert [desk.status(e) for e in ("bot@example.nl", "haast@example.nl", "rustig@example.nl")] == [
        None,
        None,
        "unconfirmed",
    ]
    assert [m.rcpt_tos for m in desk.mails(1)] == [["rustig@example.nl"]]


def test_a_network_gets_a_few_sign_ups_an_hour_and_a_proxys_header_is_believed_only_from_it(
    desk: Desk,
) -> None:
    for n in range(3):
        assert desk.sign_up(f"lezer{n}@example.nl").status == 303
    over = desk.sign_up("lezer3@example.nl")
    assert over.status == 429 and over.headers["retry-after"] == "3600"
    assert desk.status("lezer3@example.nl") is None
    assert desk.sign_up("lezer3@example.nl", ip="203.0.113.8").status == 303  # another client
    # The client's own X-Forwarded-For before the proxy's is not believed: still 203.0.113.7.
    assert desk.sign_up("lezer4@example.nl", ip="198.51.100.9, 203.0.113.7").status == 429
    desk.clock.advance(hours=1, seconds=1)
    assert desk.sign_up("lezer4@example.nl").status == 303


def test_one_confirmation_mail_per_address_an_hour(desk: Desk) -> None:
    for n in range(3):
        desk.sign_up("lies@example.nl", ip=f"198.51.100.{n}")
    desk.clock.advance(minutes=61)
    desk.sign_up("lies@example.nl", ip="198.51.100.9")
    assert len(desk.mails(2)) == 2
    assert len(desk.smtp.messages) == 2


def solve(challenge: dict[str, object]) -> str:
    """The widget's work, in Python."""
    salt, target = str(challenge["salt"]), str(challenge["challenge"])
    for number in range(int(str(challenge["maxNumber"])) + 1):
        if hashlib.sha256(f"{salt}{number}".encode()).hexdigest() == target:
            solution = {key: challenge[key] for key in ("algorithm", "challenge", "salt", "signature")}
            return base64.b64encode(json.dumps({**solution, "number": number}).encode()).decode()
    raise AssertionError("no solution")


def test_a_solved_challenge_allows_more_sign_ups_once(desk: Desk) -> None:
    answer = desk.server.request("GET", f"{BASE}/challenge")
    assert answer.status == 200 and answer.headers["content-type"] == "application/json"
    solved = solve(json.loads(answer.body))
    for n in range(3):
        desk.sign_up(f"lezer{n}@example.nl")
    assert desk.sign_up("lezer3@example.nl").status == 429
    assert desk.sign_up("lezer3@example.nl", altcha=solved).status == 303  # up to 5 with the widget
    assert desk.sign_up("lezer4@example.nl", altcha=solved).status == 429  # the same solution again


def test_after_signing_up_only_a_page_of_the_site_is_a_destination(desk: Desk) -> None:
    for target in (
        "https://evil.example/x",
        "https://www.uitgeverijlindenhof.nl.evil.example/",
        "//evil.example",
        "javascript:alert(1)",
        "http://www.uitgeverijlindenhof.nl/bedankt",
    ):
        answer = desk.sign_up(
            f"a{abs(hash(target))}@example.nl", ip=f"198.51.100.{len(target)}", redirect=target
        )
        assert answer.headers["location"] == f"{BASE}/nl/ok", target
    good = desk.sign_up(
        "b@example.nl", ip="198.51.100.200", redirect="https://www.uitgeverijlindenhof.nl/bedankt"
    )
    assert good.headers["location"] == "https://www.uitgeverijlindenhof.nl/bedankt"


def test_bad_fields_show_the_form_again_and_big_bodies_are_refused(desk: Desk) -> None:
    bad = desk.sign_up("geen-adres", name="<script>x</script>")
    assert bad.status == 400 and "Dit is geen bruikbaar e-mailadres." in bad.text
    assert "<script>x" not in bad.text and 'aria-invalid="true"' in bad.text
    assert desk.sign_up("a@example.nl", name="n" * 101).status == 400
    assert desk.sign_up("a@example.nl", topics=["nergens"]).status == 400
    assert desk.sign_up("a@example.nl", form="../../etc").status == 400
    assert desk.sign_up("a@example.nl", name="x" * 9000).status == 413
    many = {f"f{n}": "x" for n in range(100)}
    assert desk.post(BASE, {"email": "a@example.nl", **many}).status == 400
    assert desk.server.request("DELETE", BASE).status == 405
    assert desk.status("a@example.nl") is None


# -- the pages -----------------------------------------------------------------------------------------


def test_the_hosted_page_is_there_in_both_languages_with_its_widget(desk: Desk) -> None:
    dutch, english = (desk.server.request("GET", path) for path in (BASE, f"{BASE}/en"))
    assert dutch.status == english.status == 200
    assert '<html lang="nl">' in dutch.text and "Nieuwe boeken" in dutch.text
    assert '<html lang="en">' in english.text and "New books" in english.text
    policy = dutch.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy
    script = desk.server.request("GET", f"{BASE}/altcha/altcha.min.js")
    assert script.status == 200 and script.headers["content-type"].startswith("text/javascript")
    assert desk.server.request("GET", f"{BASE}/altcha/worker.js").status == 200
    assert desk.server.request("GET", f"{BASE}/altcha/../../etc/passwd").status == 404


def test_the_preference_page_changes_language_and_topics_and_leaves(desk: Desk) -> None:
    desk.sign_up("lies@example.nl", topics=["boeken", "columns"])
    confirm = parse_qs(urlsplit(link_in(desk.mails(1)[0], "confirm")).query)["token"][0]
    desk.post(f"{BASE}/confirm", {"token": confirm})
    url = desk.signups.preferences_url(desk.subscriber("lies@example.nl"))
    path = urlsplit(url).path + "?" + urlsplit(url).query
    page = desk.server.request("GET", path)
    assert page.status == 200 and "l•••@example.nl" in page.text and "lies@example.nl" not in page.text
    token = parse_qs(urlsplit(url).query)["token"][0]
    saved = desk.post(
        f"{BASE}/preferences", {"token": token, "action": "save", "locale": "en", "topics": ["columns"]}
    )
    assert saved.status == 200 and "Your preferences have been saved." in saved.text
    person = desk.newsletter.person("lies@example.nl")
    assert (person.subscriber.locale, person.subscriber.topics) == ("en", ("columns",))
    asked = desk.post(f"{BASE}/preferences", {"token": token, "action": "data"})
    assert asked.status == 200
    (_, data_mail) = desk.mails(2)
    data = desk.server.request("GET", link_in(data_mail, "data"))
    assert data.status == 200 and "lies@example.nl" in data.text and "form:hosted" in data.text
    desk.clock.advance(hours=25)
    assert desk.server.request("GET", link_in(data_mail, "data")).status == 400
    left = desk.post(f"{BASE}/preferences", {"token": token, "action": "leave"})
    assert left.status == 200 and desk.status("lies@example.nl") == "unsubscribed"


def confirm(desk: Desk, email: str, **fields: object) -> None:
    """Sign up and confirm, as a reader does."""
    desk.sign_up(email, ip=f"192.0.2.{len(desk.smtp.messages) + 1}", **fields)
    token = parse_qs(urlsplit(link_in(desk.mails(len(desk.smtp.messages) + 1)[-1], "confirm")).query)[
        "token"
    ][0]
    assert desk.post(f"{BASE}/confirm", {"token": token}).status == 200


# -- the welcome email -----------------------------------------------------------------------------


def test_a_welcome_campaign_goes_once_to_each_reader_who_confirms_and_never_to_the_list(
    desk: Desk, run: Run
) -> None:
    source = desk.project / "campaigns" / "2026-12-schrijven.yaml"
    welcome = desk.project / "campaigns" / "welkom.yaml"
    welcome.write_text(source.read_text(encoding="utf-8") + "welcome: true\n", encoding="utf-8")
    write(desk.project / "l.csv", "email\noud@example.nl\n")
    assert run("audience", "import", str(desk.project / "l.csv"), "--consent", "beurs").exit_code == 0
    confirm(desk, "lies@example.nl")
    assert desk.signups.mailer.drain(30)
    confirmation, welcomed = desk.smtp.wait_for(2)
    assert welcomed.rcpt_tos == ["lies@example.nl"] and "List-Unsubscribe" in welcomed.message
    assert welcomed.message["Subject"].startswith("De kunst van het weglaten")
    with open_store(desk.newsletter.project) as store:
        assert store.send_counts("welkom")["sent"] == 1
    # A second confirmation of the same sign-up, and a real send, mail no one again.
    token = parse_qs(urlsplit(link_in(confirmation, "confirm")).query)["token"][0]
    assert "Je was al aangemeld" in desk.post(f"{BASE}/confirm", {"token": token}).text
    sent = desk.newsletter.send("welkom", transport=desk.newsletter_transport())
    assert sent.attempted == 0
    assert desk.signups.mailer.drain(10) and len(desk.smtp.messages) == 2


# -- the reader's rights ---------------------------------------------------------------------------


def test_an_import_that_adds_readers_needs_a_consent_statement(desk: Desk, run: Run) -> None:
    write(desk.project / "l.csv", "email\nnieuw@example.nl\n")
    refused = run("audience", "import", str(desk.project / "l.csv"))
    assert refused.exit_code == 2 and "--consent" in refused.output and "Traceback" not in refused.output
    assert desk.status("nieuw@example.nl") is None
    assert run("audience", "import", str(desk.project / "l.csv"), "--consent", "  ").exit_code == 2
    done = run(
        "audience", "import", str(desk.project / "l.csv"), "--consent", "papieren formulier, beurs 2026"
    )
    assert done.exit_code == 0, done.output
    # A file that only updates known readers needs none.
    write(desk.project / "m.csv", "email,name\nnieuw@example.nl,Nieuw\n")
    assert run("audience", "import", str(desk.project / "m.csv")).exit_code == 0
    shown = run("audience", "show", "Nieuw@example.nl")
    assert shown.exit_code == 0 and "papieren formulier, beurs 2026" in shown.output
    assert "import:l.csv" in shown.output
    data = json.loads(run("audience", "show", "nieuw@example.nl", "--format", "json").output)
    assert (
        data["subscriber"]["name"] == "Nieuw"
        and data["consents"][0]["text"] == "papieren formulier, beurs 2026"
    )
    assert run("audience", "show", "niemand@example.nl").exit_code == 2


def test_forget_erases_the_person_keeps_the_counts_and_refuses_a_reimport(desk: Desk, run: Run) -> None:
    confirm(desk, "lies@example.nl", name="Lies de Vries")
    desk.newsletter.send("2026-12-schrijven", transport=desk.newsletter_transport())
    forgotten = run("audience", "forget", "lies@example.nl", "--yes")
    assert forgotten.exit_code == 0, forgotten.output
    with open_store(desk.newsletter.project) as store:
        dump = "\n".join(
            str(row)
            for table in ("subscribers", "sends", "consents", "status_changes")
            for row in store.connection.execute(f"SELECT * FROM {table}")
        )
        assert store.send_counts("2026-12-schrijven")["sent"] == 1
    assert "lies" not in dump.lower() and "Vries" not in dump
    assert desk.status("lies@example.nl") is None
    write(desk.project / "l.csv", "email\nLIES@example.nl\n")
    again = run("audience", "import", str(desk.project / "l.csv"), "--consent", "oude lijst")
    assert again.exit_code == 0 and "1 kept suppressed" in again.output
    assert desk.status("lies@example.nl") is None
    desk.clock.advance(hours=1)  # one confirmation mail an address an hour
    confirm(desk, "lies@example.nl")  # a new double opt-in brings the reader back
    assert desk.status("lies@example.nl") == "active"
    assert run("audience", "forget", "niemand@example.nl", "--yes").exit_code == 2


def test_forgotten_addresses_need_the_secret_that_hashed_them(
    desk: Desk, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    confirm(desk, "lies@example.nl")
    assert run("audience", "forget", "lies@example.nl", "--yes").exit_code == 0
    monkeypatch.delenv("NEWSLETTER_UNSUBSCRIBE_SECRET")
    write(desk.project / "l.csv", "email\nlies@example.nl\n")
    refused = run("audience", "import", str(desk.project / "l.csv"), "--consent", "oude lijst")
    assert refused.exit_code == 2 and "NEWSLETTER_UNSUBSCRIBE_SECRET" in refused.output


# -- the form for the publisher's own site --------------------------------------------------------


def test_the_form_snippet_is_plain_html_posting_to_serve(desk: Desk, run: Run) -> None:
    printed = run("form", "--name", "winkel", "--redirect", "https://www.uitgeverijlindenhof.nl/bedankt")
    assert printed.exit_code == 0, printed.output
    html = printed.output
    assert f'action="https://www.uitgeverijlindenhof.nl{BASE}/nl"' in html
    assert "<script" not in html and 'name="website"' in html and 'value="boeken"' in html
    assert 'name="form" value="winkel"' in html
    assert "Ja, ik wil de nieuwsbrief van Uitgeverij Lindenhof" in html
    english = run("form", "--locale", "en").output
    assert "Email address" in english and f"{BASE}/en" in english
    assert run("form", "--redirect", "https://evil.example/").exit_code == 2
    assert run("form", "--name", "Bad Name").exit_code == 2


def test_without_a_signup_section_the_urls_are_not_there(run: Run, project: Path) -> None:
    assert run("form").exit_code == 2
    newsletter = open_project(project, secrets=Secrets(unsubscribe=SECRET))
    server = Server(newsletter.project)
    try:
        assert server.request("GET", BASE).status == 404
    finally:
        server.stop()


def test_signup_without_smtp_is_a_settings_error_every_command_names(project: Path, run: Run) -> None:
    settings = project / "newsletter.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + SIGNUP, encoding="utf-8")
    with pytest.raises(NewsletterError, match=r"\[smtp\]"):
        make_app(open_project(project, secrets=Secrets(unsubscribe=SECRET)))
    checked = run("check")
    assert checked.exit_code == 2 and "signup: needs an [smtp] section" in checked.output


def test_every_campaign_message_links_to_the_readers_own_preference_page(desk: Desk, run: Run) -> None:
    confirm(desk, "lies@example.nl", name="Lies")
    memory = Memory()
    dry = desk.newsletter.dry_run("2026-12-schrijven", transport=memory)
    assert dry.written == 1
    message = memory.messages[0].parsed()
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert ">Voorkeuren</a>" in html
    (link,) = re.findall(rf"Voorkeuren: (https://\S+{BASE}/preferences\?token=\S+)", text)
    page = desk.server.request("GET", urlsplit(link).path + "?" + urlsplit(link).query)
    assert page.status == 200 and "l•••@example.nl" in page.text
    review = (desk.newsletter.render("2026-12-schrijven")).html  # no reader: the sign-up page
    assert f'href="https://www.uitgeverijlindenhof.nl{BASE}"' in review


# -- what an attacker tried (a review of this feature) --------------------------------------------


def test_a_stranger_signing_up_the_same_address_cannot_change_what_the_reader_confirms(desk: Desk) -> None:
    desk.sign_up("lies@example.nl", name="Lies", topics=["boeken"])
    desk.sign_up("lies@example.nl", ip="198.51.100.66", name="Gratis boeken op evil.example", locale="en")
    (mail,) = desk.mails(1)  # one mail an hour to an address: the stranger's sign-up sent none
    token = parse_qs(urlsplit(link_in(mail, "confirm")).query)["token"][0]
    desk.post(f"{BASE}/confirm", {"token": token})
    reader = desk.subscriber("lies@example.nl")
    assert (reader.name, reader.locale, reader.topics) == ("Lies", "nl", ("boeken",))


def test_ipv4_clients_behind_a_dual_stack_proxy_count_apart(desk: Desk) -> None:
    answers = [desk.sign_up(f"l{n}@example.nl", ip=f"::ffff:198.51.100.{n}").status for n in range(5)]
    assert answers == [303] * 5
    for n in range(3):
        desk.sign_up(f"m{n}@example.nl", ip="::ffff:203.0.113.9")
    assert desk.sign_up("m3@example.nl", ip="203.0.113.9").status == 429  # one client, either way written


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example\uff0f.uitgeverijlindenhof.nl/",
        "https://www.uitgeverijlindenhof.nl/\r\nSet-Cookie: a=b",
        "https://www.uitgeverijlindenhof.nl/\x00",
        "https://www.uitgeverijlindenhof.nl/\u20ac",
        "https://\u0435vil.uitgeverijlindenhof.nl/",
        "https://u:p@www.uitgeverijlindenhof.nl/",
        "https://www.uitgeverijlindenhof.nl:8443/",
        "https://www.uitgeverijlindenhof.nl:99999/",
    ],
)
def test_a_strange_redirect_goes_to_the_hosted_page_and_never_fails(desk: Desk, target: str) -> None:
    answer = desk.sign_up("a@example.nl", redirect=target)
    assert answer.status == 303 and answer.headers["location"] == f"{BASE}/nl/ok"


def test_invisible_characters_are_taken_out_of_names(desk: Desk) -> None:
    desk.sign_up("lies@example.nl", name="\u202egnp.exe\u202c Lies\u200b\u2066")
    (mail,) = desk.mails(1)
    desk.post(f"{BASE}/confirm", {"token": parse_qs(urlsplit(link_in(mail, "confirm")).query)["token"][0]})
    assert desk.subscriber("lies@example.nl").name == "gnp.exe Lies"


def test_an_address_that_reported_spam_gets_no_confirmation_mail(desk: Desk, run: Run) -> None:
    write(desk.project / "l.csv", "email,status\nboos@example.nl,complained\n")
    assert run("audience", "import", str(desk.project / "l.csv"), "--consent", "oud").exit_code == 0
    assert desk.sign_up("boos@example.nl").status == 303
    desk.sign_up("ander@example.nl", ip="198.51.100.3")
    assert [m.rcpt_tos for m in desk.mails(1)] == [["ander@example.nl"]]
    assert desk.status("boos@example.nl") == "complained"


# -- what a newcomer tried ------------------------------------------------------------------------


def test_an_import_cannot_confirm_a_sign_up_for_the_reader(desk: Desk, run: Run) -> None:
    desk.sign_up("lies@example.nl")
    write(desk.project / "l.csv", "email\nlies@example.nl\n")
    result = run("audience", "import", str(desk.project / "l.csv"))  # no --consent: it adds nobody
    assert result.exit_code == 0 and "1 left waiting for their own confirmation" in result.output
    assert desk.status("lies@example.nl") == "unconfirmed"


def test_a_confirmation_mail_the_server_refused_does_not_count_against_the_address(desk: Desk) -> None:
    desk.smtp.fail_rcpt(None, code=550, times=1)
    desk.sign_up("lies@example.nl")
    assert desk.signups.mailer.drain(10) and desk.smtp.messages == []
    desk.sign_up("lies@example.nl", ip="198.51.100.2")  # at once: the first mail never went
    assert [m.rcpt_tos for m in desk.mails(1)] == [["lies@example.nl"]]


def test_a_topic_chosen_on_the_preference_page_is_kept_as_consent(desk: Desk) -> None:
    confirm(desk, "lies@example.nl", topics=["boeken"])
    url = urlsplit(desk.signups.preferences_url(desk.subscriber("lies@example.nl")))
    token = parse_qs(url.query)["token"][0]
    desk.post(f"{BASE}/preferences", {"token": token, "action": "save", "topics": ["boeken", "columns"]})
    consents = desk.newsletter.person("lies@example.nl").consents
    assert [(c.source, c.topics, c.confirmed_at is not None) for c in consents] == [
        ("form:hosted", ("boeken",), True),
        ("preferences", ("columns",), True),
    ]


def test_two_embedded_forms_on_one_page_have_ids_of_their_own(desk: Desk, run: Run) -> None:
    dutch, english = run("form").output, run("form", "--locale", "en").output
    ids = re.findall(r'id="([^"]+)"', dutch + english)
    assert len(ids) == len(set(ids)) and "website-en-signup-email" in ids


def test_a_server_that_starts_erases_the_sign_ups_nobody_confirmed_in_time(desk: Desk) -> None:
    desk.sign_up("lies@example.nl")
    desk.clock.advance(days=8)
    make_app(desk.newsletter, signups=desk.signups)  # a restart, with no sign-up since
    assert desk.status("lies@example.nl") is None

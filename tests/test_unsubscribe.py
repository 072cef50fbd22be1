"""One-click unsubscribe tokens: signed, checked without a lookup, and applied idempotently.

The token is what stands between a URL anyone can edit and someone else's subscription, so the tests try
to forge it (every single-character change, another secret, garbage) and check that the website's entry
point (`unsubscribe`) and the CLI (`unsubscribe verify`) refuse what is not genuine. Version 2 tokens
(what is sent now) name the subscriber by id and must not show the address; version 1 tokens (already in
inboxes) must keep working.
"""

from __future__ import annotations

import base64
import string
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.audience.importing import import_csv
from newsletter.audience.unsubscribe import (
    MIN_SECRET_CHARS,
    TEST_SUBSCRIBER,
    Token,
    fingerprint,
    make_token,
    make_v1_token,
    read_token,
    resolve,
    signing_key,
    unsubscribe,
    unsubscribe_url,
)
from newsletter.errors import NewsletterError
from newsletter.project.environment import UNSUBSCRIBE_SECRET as SECRET_ENV
from newsletter.project.environment import Secrets
from newsletter.project.settings import Project, open_project
from newsletter.store import open_store
from tests.conftest import Run, write
from tests.store_util import select

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("both_engines")

SECRET = b"a-test-secret-of-enough-length"
OTHER_SECRET = b"another-secret-of-enough-length"
CAMPAIGN = "2026-12-schrijven"
TOKEN_CHARS = string.ascii_letters + string.digits + "-_"


@pytest.fixture
def readers(project: Path) -> Project:
    """The sample project with two active readers and one who already left."""
    csv = write(
        project / "readers.csv",
        "email,name,locale,status\n"
        "jan@example.org,Jan de Vries,nl,\n"
        "els@example.org,Els,nl,\n"
        "weg@example.org,Weg,nl,unsubscribed\n",
    )
    opened = open_project(project, Secrets(unsubscribe=SECRET.decode()))
    with open_store(opened) as store:
        import_csv(store, csv, default_locale="nl", source="test", consent="testlijst")
    return opened


def status_of(project: Project) -> dict[str, str]:
    with open_store(project) as store:
        return {s.email: s.status for s in select(store, status=None)}


# -- tokens -------------------------------------------------------------------------------------


def test_a_v1_token_reads_back_as_its_address_and_campaign() -> None:
    token = make_v1_token("jan@example.org", CAMPAIGN, SECRET)
    assert read_token(token, SECRET) == Token(address="jan@example.org", campaign_id=CAMPAIGN)
    assert set(token) <= set(TOKEN_CHARS + "."), "the token must fit in a URL without escaping"


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(
    email=st.text(min_size=1).filter(lambda s: s.strip() == s and s != ""),
    campaign_id=st.from_regex(r"[a-z0-9_-]{1,40}", fullmatch=True),
)
def test_any_address_and_campaign_round_trip(email: str, campaign_id: str) -> None:
    """Unicode addresses (jörg@bücher.de) and newlines inside the address must not shift the fields."""
    assert read_token(make_v1_token(email, campaign_id, SECRET), SECRET) == Token(email, campaign_id)


def test_surrounding_whitespace_from_a_copied_url_is_forgiven() -> None:
    token = make_v1_token("jan@example.org", CAMPAIGN, SECRET)
    assert read_token(f"  {token}\n", SECRET).email == "jan@example.org"


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = make_v1_token("jan@example.org", CAMPAIGN, OTHER_SECRET)
    with pytest.raises(NewsletterError, match="signature does not match"):
        read_token(token, SECRET)


def test_swapping_in_another_readers_payload_is_refused() -> None:
    """The attack the signature exists for: keep a valid mac, change whom the token names."""
    mine = make_v1_token("jan@example.org", CAMPAIGN, SECRET)
    theirs = make_v1_token("els@example.org", CAMPAIGN, SECRET)
    forged = theirs.split(".")[0] + "." + mine.split(".")[1]
    with pytest.raises(NewsletterError, match="signature does not match"):
        read_token(forged, SECRET)


def test_every_single_character_change_is_refused_or_reads_the_same() -> None:
    """No edit of one character can name another address or campaign. (The last character of a base64
    segment carries a few padding bits that decoding ignores, so a change there can still read the same.)"""
    token = make_v1_token("jan@example.org", CAMPAIGN, SECRET)
    genuine = read_token(token, SECRET)
    refused = 0
    for index, char in enumerate(token):
        for replacement in {"A", "z", "0", "-", "_", "."} - {char}:
            tampered = token[:index] + replacement + token[index + 1 :]
            try:
                read = read_token(tampered, SECRET)
            except NewsletterError as error:
                assert error.message.startswith("invalid unsubscribe token: ")
                refused += 1
            else:
                assert read == genuine, f"{tampered} was accepted as {read}"
    assert refused > 5 * len(token) - 20  # nearly every edit is refused outright


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "not a token newsletter made"),
        ("no-dot-here", "not a token newsletter made"),
        (".", "not a token newsletter made"),
        ("abc.", "not a token newsletter made"),
        (".abc", "not a token newsletter made"),
        ("a.b", "not a token newsletter made"),
        ("%%%.$$$", "not a token newsletter made"),
        ("bm90IGEgdG9rZW4.AAAAAAAAAAAAAAAAAAAAAA", "signature does not match"),
    ],
)
def test_garbage_is_a_user_error_not_a_crash(token: str, reason: str) -> None:
    with pytest.raises(NewsletterError, match=reason) as caught:
        read_token(token, SECRET)
    assert caught.value.field == "token"


def test_a_token_cut_short_in_a_mail_client_is_refused() -> None:
    token = make_v1_token("jan@example.org", CAMPAIGN, SECRET)
    for length in range(len(token)):
        with pytest.raises(NewsletterError, match="invalid unsubscribe token"):
            read_token(token[:length], SECRET)


def test_unsubscribe_url_adds_the_token_as_a_query_parameter() -> None:
    token = make_v1_token("jan@example.org", CAMPAIGN, SECRET)
    assert unsubscribe_url("https://x.nl/afmelden", token) == f"https://x.nl/afmelden?token={token}"
    assert unsubscribe_url("https://x.nl/afmelden?lang=nl", token) == (
        f"https://x.nl/afmelden?lang=nl&token={token}"
    )


# -- the secret -----------------------------------------------------------------------------------


def test_the_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "  " + SECRET.decode() + "\n")
    assert signing_key(Secrets.from_environment()) == SECRET


def test_a_missing_secret_says_which_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with pytest.raises(NewsletterError, match=f"{SECRET_ENV} is not set") as caught:
        signing_key(Secrets.from_environment())
    assert caught.value.hint is not None and "openssl rand" in caught.value.hint


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_secret_counts_as_missing(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(SECRET_ENV, value)
    with pytest.raises(NewsletterError, match="is not set"):
        signing_key(Secrets.from_environment())


def test_a_short_secret_is_refused_with_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "x" * (MIN_SECRET_CHARS - 1))
    with pytest.raises(NewsletterError, match=f"too short: use at least {MIN_SECRET_CHARS}"):
        signing_key(Secrets.from_environment())
    monkeypatch.setenv(SECRET_ENV, "x" * MIN_SECRET_CHARS)
    assert signing_key(Secrets.from_environment()) == b"x" * MIN_SECRET_CHARS


# -- applying a token -----------------------------------------------------------------------------


def test_unsubscribe_flips_an_active_reader_once(readers: Project) -> None:
    token = make_v1_token("jan@example.org", CAMPAIGN, SECRET)
    first = unsubscribe(readers, token)
    assert first.changed
    assert first.token == Token("jan@example.org", CAMPAIGN)
    assert status_of(readers) == {
        "jan@example.org": "unsubscribed",
        "els@example.org": "active",
        "weg@example.org": "unsubscribed",
    }
    second = unsubscribe(readers, token)
    assert not second.changed, "a second click is reported as nothing new"
    assert status_of(readers)["jan@example.org"] == "unsubscribed"


def test_an_address_that_already_left_is_unchanged(readers: Project) -> None:
    done = unsubscribe(readers, make_v1_token("weg@example.org", CAMPAIGN, SECRET))
    assert not done.changed


def test_the_token_matches_the_subscriber_whatever_the_case(readers: Project) -> None:
    done = unsubscribe(readers, make_v1_token("Jan@Example.ORG", CAMPAIGN, SECRET))
    assert done.changed
    assert status_of(readers)["jan@example.org"] == "unsubscribed"


def test_an_unknown_address_is_added_as_unsubscribed_so_no_import_reactivates_it(readers: Project) -> None:
    done = unsubscribe(readers, make_v1_token("nieuw@example.org", CAMPAIGN, SECRET))
    assert done.changed
    assert status_of(readers)["nieuw@example.org"] == "unsubscribed"
    csv = write(readers.root / "old-list.csv", "email,name\nnieuw@example.org,Nieuw\n")
    with open_store(readers) as store:
        report = import_csv(store, csv, default_locale="nl", source="test", consent="testlijst")
    assert report.kept_suppressed == 1
    assert status_of(readers)["nieuw@example.org"] == "unsubscribed"


def test_the_secret_is_taken_from_the_environment_when_the_project_is_opened(
    readers: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    opened = open_project(readers.root)
    monkeypatch.delenv(SECRET_ENV)  # resolved once: a later change of the environment changes nothing
    assert unsubscribe(opened, make_v1_token("els@example.org", CAMPAIGN, SECRET)).changed
    with pytest.raises(NewsletterError, match="is not set"):
        unsubscribe(open_project(readers.root), make_v1_token("jan@example.org", CAMPAIGN, SECRET))


def test_a_forged_token_changes_nothing(readers: Project) -> None:
    with pytest.raises(NewsletterError):
        unsubscribe(readers, make_v1_token("jan@example.org", CAMPAIGN, OTHER_SECRET))
    assert status_of(readers)["jan@example.org"] == "active"


# -- the CLI ----------------------------------------------------------------------------------------


def test_cli_verify_names_the_address_and_changes_nothing(
    readers: Project, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    result = run("unsubscribe", "verify", make_v1_token("jan@example.org", CAMPAIGN, SECRET))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"valid token for jan@example.org, from campaign {CAMPAIGN}\n"
    assert status_of(readers)["jan@example.org"] == "active"


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        make_v1_token("jan@example.org", CAMPAIGN, OTHER_SECRET),
        make_v1_token("jan@example.org", CAMPAIGN, SECRET)[:-3],
    ],
    ids=["garbage", "other-secret", "cut-short"],
)
def test_cli_refuses_a_bad_token_in_one_line_with_exit_2(
    readers: Project, run: Run, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    for apply in ([], ["--apply"]):
        result = run("unsubscribe", "verify", token, *apply)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr.startswith("error: token: invalid unsubscribe token: ")
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert status_of(readers)["jan@example.org"] == "active"


def test_cli_without_the_secret_explains_what_to_set(
    readers: Project, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    result = run("unsubscribe", "verify", make_v1_token("jan@example.org", CAMPAIGN, SECRET))
    assert result.exit_code == 2
    assert f"error: {SECRET_ENV} is not set" in result.stderr


def test_cli_apply_unsubscribes_and_says_so_again_the_second_time(
    readers: Project, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    token = make_v1_token("jan@example.org", CAMPAIGN, SECRET)
    first = run("unsubscribe", "verify", token, "--apply")
    assert first.exit_code == 0, first.output
    assert first.stdout == f"jan@example.org: unsubscribed (campaign {CAMPAIGN})\n"
    assert status_of(readers)["jan@example.org"] == "unsubscribed"
    second = run("unsubscribe", "verify", token, "--apply")
    assert second.exit_code == 0
    assert second.stdout == f"jan@example.org: already unsubscribed (campaign {CAMPAIGN})\n"


def test_cli_apply_works_on_a_project_without_a_subscriber_database_yet(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A website may be set up before the first import: the unsubscribe must still be kept."""
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    result = run("unsubscribe", "verify", make_v1_token("vroeg@example.org", CAMPAIGN, SECRET), "--apply")
    assert result.exit_code == 0, result.output
    assert status_of(open_project(project)) == {"vroeg@example.org": "unsubscribed"}


# -- version 2: opaque tokens ---------------------------------------------------------------------


def ids_of(project: Project) -> dict[str, int]:
    with open_store(project) as store:
        return {s.email: s.id for s in select(store, status=None)}


def payload_of(token: str) -> bytes:
    encoded = token.split(".")[0]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


def test_a_v2_token_names_the_subscriber_and_campaign_but_not_the_address() -> None:
    token = make_token("jan@example.org", CAMPAIGN, SECRET, 7)
    read = read_token(token, SECRET)
    assert read == Token(None, CAMPAIGN, subscriber_id=7)
    assert read.version == 2 and read.email == "subscriber 7"
    assert read.fingerprint == fingerprint("jan@example.org", SECRET)
    payload = payload_of(token)
    assert payload[0] == 2
    assert b"jan" not in payload and b"example" not in payload and b"@" not in payload
    assert "jan" not in token and set(token) <= set(TOKEN_CHARS + ".")
    assert len(token) < len(make_v1_token("jan@example.org", CAMPAIGN, SECRET))


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(
    email=st.text(min_size=1),
    campaign_id=st.from_regex(r"[a-z0-9_-]{1,40}", fullmatch=True),
    subscriber_id=st.integers(min_value=0, max_value=2**64 - 1),
)
def test_any_v2_id_and_campaign_round_trip(email: str, campaign_id: str, subscriber_id: int) -> None:
    read = read_token(make_token(email, campaign_id, SECRET, subscriber_id), SECRET)
    assert (read.subscriber_id, read.campaign_id, read.address) == (subscriber_id, campaign_id, None)


def test_every_single_character_change_of_a_v2_token_is_refused_or_reads_the_same() -> None:
    token = make_token("jan@example.org", CAMPAIGN, SECRET, 12)
    genuine = read_token(token, SECRET)
    for index, char in enumerate(token):
        for replacement in {"A", "z", "0", "-", "_", "."} - {char}:
            tampered = token[:index] + replacement + token[index + 1 :]
            try:
                read = read_token(tampered, SECRET)
            except NewsletterError as error:
                assert error.message.startswith("invalid unsubscribe token: ")
            else:
                assert read == genuine and read.fingerprint == genuine.fingerprint
    for length in range(len(token)):
        with pytest.raises(NewsletterError, match="invalid unsubscribe token"):
            read_token(token[:length], SECRET)


def test_a_v2_token_with_another_secret_or_an_unknown_version_is_refused() -> None:
    with pytest.raises(NewsletterError, match="signature does not match"):
        read_token(make_token("jan@example.org", CAMPAIGN, OTHER_SECRET, 1), SECRET)
    from newsletter.audience.signing import signed as _signed

    with pytest.raises(NewsletterError, match="unknown token version"):
        read_token(_signed(b"\x03abcd\x01x", SECRET), SECRET)
    with pytest.raises(NewsletterError, match="damaged payload"):
        read_token(_signed(b"\x02abcd\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", SECRET), SECRET)
    with pytest.raises(NewsletterError, match="without a campaign"):
        read_token(_signed(b"\x02abcd\x01", SECRET), SECRET)


def test_unsubscribe_by_a_v2_token_finds_the_subscriber_by_id(readers: Project) -> None:
    ids = ids_of(readers)
    token = make_token("jan@example.org", CAMPAIGN, SECRET, ids["jan@example.org"])
    first = unsubscribe(readers, token)
    assert first.changed and first.token.address == "jan@example.org"
    assert status_of(readers)["jan@example.org"] == "unsubscribed"
    assert status_of(readers)["els@example.org"] == "active"
    assert not unsubscribe(readers, token).changed


def test_a_v2_token_whose_id_now_belongs_to_another_address_is_refused(readers: Project) -> None:
    """A database rebuilt from an export renumbers its readers: the token must not unsubscribe Els."""
    ids = ids_of(readers)
    token = make_token("jan@example.org", CAMPAIGN, SECRET, ids["els@example.org"])
    with pytest.raises(NewsletterError, match="now belongs to another address") as caught:
        unsubscribe(readers, token)
    assert caught.value.field == "token"
    assert status_of(readers)["els@example.org"] == "active"


def test_a_v2_token_for_a_subscriber_not_in_the_database_is_refused(readers: Project) -> None:
    token = make_token("jan@example.org", CAMPAIGN, SECRET, 999)
    with pytest.raises(NewsletterError, match="subscriber 999, who is not in the subscriber database"):
        unsubscribe(readers, token)
    with pytest.raises(NewsletterError, match="not in the subscriber database"):
        resolve(readers, read_token(token, SECRET), SECRET)


def test_a_test_sends_token_is_valid_but_unsubscribes_nobody(readers: Project) -> None:
    token = make_token("redactie@example.org", CAMPAIGN, SECRET, None)
    read = read_token(token, SECRET)
    assert read.subscriber_id == TEST_SUBSCRIBER and read.is_test and read.email == "a test address"
    before = status_of(readers)
    done = unsubscribe(readers, token)
    assert not done.changed and done.token.is_test
    assert status_of(readers) == before


def test_resolve_fills_in_the_address_without_changing_anything(readers: Project) -> None:
    ids = ids_of(readers)
    read = read_token(make_token("els@example.org", CAMPAIGN, SECRET, ids["els@example.org"]), SECRET)
    assert resolve(readers, read, SECRET).address == "els@example.org"
    assert status_of(readers)["els@example.org"] == "active"


def test_cli_verify_and_apply_take_v2_tokens(
    readers: Project, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    jan = ids_of(readers)["jan@example.org"]
    token = make_token("jan@example.org", CAMPAIGN, SECRET, jan)
    verified = run("unsubscribe", "verify", token)
    assert verified.exit_code == 0, verified.output
    assert verified.stdout == f"valid token for jan@example.org, from campaign {CAMPAIGN}\n"  # looked up
    assert status_of(readers)["jan@example.org"] == "active"
    applied = run("unsubscribe", "verify", token, "--apply")
    assert applied.exit_code == 0, applied.output
    assert applied.stdout == f"jan@example.org: unsubscribed (campaign {CAMPAIGN})\n"
    assert status_of(readers)["jan@example.org"] == "unsubscribed"
    forged = run("unsubscribe", "verify", make_token("jan@example.org", CAMPAIGN, OTHER_SECRET, jan))
    assert forged.exit_code == 2 and "invalid unsubscribe token" in forged.stderr


def test_an_address_that_starts_with_a_hash_is_unsubscribed_too(readers: Project) -> None:
    with open_store(readers) as store:
        store.add_subscriber(
            "#nieuws@example.org", name="", locale="nl", tags=(), status="active",
            source="test", stamp="2026-12-02T10:00:00Z",
        )  # fmt: skip
    subscriber = ids_of(readers)["#nieuws@example.org"]
    done = unsubscribe(readers, make_token("#nieuws@example.org", CAMPAIGN, SECRET, subscriber))
    assert done.changed and status_of(readers)["#nieuws@example.org"] == "unsubscribed"


# -- strict decoding --------------------------------------------------------------------------------


def with_inserted(token: str, where: str, extra: str = '"<>!') -> str:
    """The genuine token with characters outside base64url put in: at the start of the payload, in
    its middle, at the start of the signature or at the end."""
    dot = token.index(".")
    index = {"start": 0, "payload": dot // 2, "signature": dot + 1, "end": len(token)}[where]
    return token[:index] + extra + token[index:]


WHERE = ["start", "payload", "signature", "end"]


@pytest.mark.parametrize(
    ("where", "extra"),
    # "+/": standard base64's characters, which urlsafe_b64decode takes as well as "-_"
    [*((where, '"<>!') for where in WHERE), ("payload", "===="), ("signature", "+/+/")],
)
def test_cli_verify_refuses_a_genuine_token_with_other_characters_put_in(
    readers: Project, run: Run, monkeypatch: pytest.MonkeyPatch, where: str, extra: str
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    token = make_token("jan@example.org", CAMPAIGN, SECRET, ids_of(readers)["jan@example.org"])
    assert run("unsubscribe", "verify", token).exit_code == 0  # the token itself is genuine
    for apply in ([], ["--apply"]):
        result = run("unsubscribe", "verify", with_inserted(token, where, extra), *apply)
        assert result.exit_code == 2, result.output
        assert result.stderr == (
            "error: token: invalid unsubscribe token: it is not a token newsletter made "
            "(damaged or cut off?)\n"
        )
    assert status_of(readers)["jan@example.org"] == "active"


@pytest.mark.parametrize("where", WHERE)
def test_one_click_refuses_a_genuine_token_with_other_characters_put_in(readers: Project, where: str) -> None:
    from tests.test_web_app import FORM, ONE_CLICK, PATH, Server

    token = make_token("jan@example.org", CAMPAIGN, SECRET, ids_of(readers)["jan@example.org"])
    server = Server(readers)
    try:
        query = f"{PATH}?token={quote(with_inserted(token, where))}"
        answer = server.request("POST", query, ONE_CLICK, {"Content-Type": FORM})
        page = server.request("GET", query)
    finally:
        server.stop()
    assert answer.status == 400 and "Deze afmeldlink werkt niet" in answer.text
    assert page.status == 400
    assert status_of(readers)["jan@example.org"] == "active"

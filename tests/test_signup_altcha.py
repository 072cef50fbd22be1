"""newsletter.signup.altcha: challenges the vendored widget can solve, and answers checked as hostile input.

Challenges are solved here as the widget's worker solves them (SHA-256 of salt + number for 0, 1, …),
with a small max_number so that it takes milliseconds, and posted as the widget posts them. Every
refusal must be None, never an exception: the payload is whatever a client sent. The last test runs
the vendored widget itself in headless Chromium under a strict Content-Security-Policy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import threading
import time
import tomllib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatch
from importlib.resources import files
from typing import TYPE_CHECKING
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from newsletter.signup import altcha
from tests.conftest import REPO
from tests.test_review_pages import fixture_browser, fixture_chromium  # noqa: F401 - fixtures

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("both_engines")

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from playwright.sync_api import Browser

KEY = b"an-altcha-test-key-of-enough-length"
OTHER_KEY = b"another-altcha-key-of-enough-length"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
LIFETIME = timedelta(minutes=10)
MAX_NUMBER = 1000
STATIC = files("newsletter.web") / "static" / "altcha"


def challenge(key: bytes = KEY, now: datetime = NOW) -> dict[str, object]:
    return altcha.new_challenge(key, now=now, lifetime=LIFETIME, max_number=MAX_NUMBER)


def solve(made: dict[str, object]) -> int:
    """The number, found as the widget's worker finds it: SHA-256(salt + n) for n = 0, 1, …"""
    salt, wanted = str(made["salt"]), made["challenge"]
    for number in range(int(str(made["maxNumber"])) + 1):
        if hashlib.sha256(f"{salt}{number}".encode()).hexdigest() == wanted:
            return number
    raise AssertionError("no number up to maxNumber solves the challenge")


def encode(data: object) -> str:
    """Base64 of JSON, as the widget's btoa(JSON.stringify(...))."""
    return base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode("ascii")


def answer(made: dict[str, object], **changes: object) -> dict[str, object]:
    """The object the widget posts for a solved challenge, with some fields changed or (None) dropped."""
    fields: dict[str, object] = {
        "algorithm": made["algorithm"],
        "challenge": made["challenge"],
        "number": solve(made),
        "salt": made["salt"],
        "signature": made["signature"],
        "took": 37,
    }
    fields.update(changes)
    return {name: value for name, value in fields.items() if value is not None}


def signed(salt: str, number: int, key: bytes = KEY, algorithm: str = "sha256") -> dict[str, object]:
    """A challenge made by hand for any salt and number: what a forger with (or without) the key makes."""
    digest = hashlib.new(algorithm, f"{salt}{number}".encode()).hexdigest()
    signature = hmac.new(key, digest.encode(), algorithm).hexdigest()
    return {"challenge": digest, "number": number, "salt": salt, "signature": signature}


@pytest.fixture(name="made")
def fixture_made() -> dict[str, object]:
    return challenge()


# -- the challenge ----------------------------------------------------------------------------------------


def test_a_challenge_is_the_json_the_widget_reads(made: dict[str, object]) -> None:
    assert set(made) == {"algorithm", "challenge", "maxNumber", "salt", "signature"}
    assert made["algorithm"] == "SHA-256" and made["maxNumber"] == MAX_NUMBER
    expires = int((NOW + LIFETIME).timestamp())
    assert re.fullmatch(rf"[0-9a-f]{{24}}\?expires={expires}&", str(made["salt"]))
    assert re.fullmatch(r"[0-9a-f]{64}", str(made["challenge"]))
    assert made["signature"] == hmac.new(KEY, str(made["challenge"]).encode(), "sha256").hexdigest()
    assert json.loads(json.dumps(made)) == made
    assert challenge()["salt"] != made["salt"], "every challenge has its own salt"


@pytest.mark.parametrize(
    ("key", "now", "lifetime", "max_number"),
    [
        (b"", NOW, LIFETIME, MAX_NUMBER),
        ("", NOW, LIFETIME, MAX_NUMBER),
        (KEY, NOW.replace(tzinfo=None), LIFETIME, MAX_NUMBER),
        (KEY, NOW, timedelta(0), MAX_NUMBER),
        (KEY, NOW, timedelta(seconds=-5), MAX_NUMBER),
        (KEY, NOW, LIFETIME, 0),
        (KEY, NOW, LIFETIME, altcha.MAX_NUMBER + 1),
    ],
)
def test_a_challenge_from_bad_settings_is_a_value_error(
    key: bytes | str, now: datetime, lifetime: timedelta, max_number: int
) -> None:
    with pytest.raises(ValueError):
        altcha.new_challenge(key, now=now, lifetime=lifetime, max_number=max_number)


# -- genuine answers --------------------------------------------------------------------------------------


def test_a_solved_challenge_passes_with_its_signature_as_id(made: dict[str, object]) -> None:
    payload = encode(answer(made))
    assert altcha.check_solution(payload, KEY, now=NOW + timedelta(seconds=3)) == made["signature"]
    again = encode(answer(made, took=None))  # the same solution, posted again (without `took`)
    assert altcha.check_solution(again, KEY, now=NOW + timedelta(seconds=4)) == made["signature"], (
        "the id is stable, so that the caller can refuse a second use"
    )
    assert altcha.check_solution(encode(answer(made)), KEY.decode(), now=NOW) == made["signature"], "str key"
    other = challenge()
    assert (
        altcha.check_solution(encode(answer(other)), KEY, now=NOW) == other["signature"] != made["signature"]
    )


def test_a_float_took_passes(made: dict[str, object]) -> None:
    assert altcha.check_solution(encode(answer(made, took=12.5)), KEY, now=NOW) == made["signature"]


def test_a_challenge_passes_until_it_expires_and_not_after(made: dict[str, object]) -> None:
    payload = encode(answer(made))
    assert altcha.check_solution(payload, KEY, now=NOW + LIFETIME - timedelta(seconds=1)) is not None
    assert altcha.check_solution(payload, KEY, now=NOW + LIFETIME) is None
    assert altcha.check_solution(payload, KEY, now=NOW + timedelta(days=400)) is None


# -- forged and tampered answers --------------------------------------------------------------------------


def test_a_forged_signature_is_refused(made: dict[str, object]) -> None:
    signature = str(made["signature"])
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    assert altcha.check_solution(encode(answer(made, signature=flipped)), KEY, now=NOW) is None
    assert altcha.check_solution(encode(answer(made, signature="0" * 64)), KEY, now=NOW) is None
    assert altcha.check_solution(encode(answer(made, signature=signature.upper())), KEY, now=NOW) is None


def test_a_tampered_number_or_challenge_is_refused(made: dict[str, object]) -> None:
    number = solve(made)
    for wrong in {number + 1, max(number - 1, 0) if number else 1, 0 if number else 2}:
        assert altcha.check_solution(encode(answer(made, number=wrong)), KEY, now=NOW) is None, wrong
    other = str(challenge()["challenge"])
    assert altcha.check_solution(encode(answer(made, challenge=other)), KEY, now=NOW) is None


def test_a_longer_expiry_written_into_the_salt_is_refused(made: dict[str, object]) -> None:
    """Changing the expiry changes what is hashed: without the key, no signature fits it."""
    nonce = str(made["salt"]).split("?")[0]
    later = f"{nonce}?expires={int((NOW + timedelta(days=365)).timestamp())}&"
    forged = signed(later, 5, key=OTHER_KEY)  # solved and self-consistent, signed with another key
    for fields in (forged, forged | {"signature": made["signature"]}, {"salt": later}):
        payload = encode(answer(made, **fields))
        assert altcha.check_solution(payload, KEY, now=NOW + timedelta(days=30)) is None


def test_an_answer_checked_with_another_key_is_refused(made: dict[str, object]) -> None:
    assert altcha.check_solution(encode(answer(made)), OTHER_KEY, now=NOW) is None
    assert altcha.check_solution(encode(answer(made)), b"", now=NOW) is None
    theirs = challenge(OTHER_KEY)  # a challenge someone made with their own key
    assert altcha.check_solution(encode(answer(theirs)), KEY, now=NOW) is None


def test_only_sha_256_is_accepted_even_when_signed_with_the_key(made: dict[str, object]) -> None:
    salt = str(made["salt"])
    for algorithm, name in (("sha1", "SHA-1"), ("sha512", "SHA-512")):
        genuine = signed(salt, 7, algorithm=algorithm)
        assert altcha.check_solution(encode(answer(made, **genuine, algorithm=name)), KEY, now=NOW) is None
    assert altcha.check_solution(encode(answer(made, algorithm="sha-256")), KEY, now=NOW) is None


def test_a_salt_other_than_ours_is_refused_even_when_signed_with_the_key() -> None:
    """A signature over a salt of another shape (no expiry, two expiries, extra parameters) could
    only come from another use of the key; it is refused rather than interpreted."""
    expires = int((NOW + LIFETIME).timestamp())
    for salt in (
        "0123456789abcdef01234567&",
        "0123456789abcdef01234567",
        f"0123456789abcdef01234567?expires={expires}",
        f"0123456789abcdef01234567?expires=1&expires={expires}&",
        f"0123456789abcdef01234567?expires={expires}&x=1&",
        f"0123456789ABCDEF01234567?expires={expires}&",
        f"0123456789abcdef01234567?expires=-{expires}&",
    ):
        made = signed(salt, 3)
        fields = {"algorithm": "SHA-256", **made}
        assert altcha.check_solution(encode(fields), KEY, now=NOW) is None, salt


# -- what is not an answer at all -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "not base64!",
        "eyJhbGdvcml0aG0iOiJTSEEtMjU2In0",  # padding missing
        "eyJh bGdv",
        "eyJhbGdvcml0aG0iOiJTSEEtMjU2In0=\n",
        "ëyJhbGdvcml0aG0iOiJTSEEtMjU2In0=",
        base64.b64encode(b"\xff\xfe{}").decode(),  # not UTF-8
        base64.b64encode(b"{not json}").decode(),
        base64.b64encode(b'{"number": NaN}').decode(),
        encode(None),
        encode("a string"),
        encode(12),
        encode([]),
        encode({}),
    ],
)
def test_a_payload_that_is_not_base64_json_of_an_object_is_refused(payload: str) -> None:
    assert altcha.check_solution(payload, KEY, now=NOW) is None


def test_a_payload_of_another_type_is_refused(made: dict[str, object]) -> None:
    genuine = encode(answer(made))
    for payload in (genuine.encode(), None, 42, [genuine]):
        assert altcha.check_solution(payload, KEY, now=NOW) is None  # type: ignore[arg-type]


def test_a_number_of_another_type_or_range_is_refused(made: dict[str, object]) -> None:
    number = solve(made)
    for wrong in (str(number), float(number), number == 1, -1, altcha.MAX_NUMBER + 1, 10**30, None):
        assert altcha.check_solution(encode(answer(made, number=wrong)), KEY, now=NOW) is None, wrong


@pytest.mark.parametrize(
    "changes",
    [
        {"algorithm": None},
        {"challenge": None},
        {"salt": None},
        {"signature": None},
        {"algorithm": ["SHA-256"]},
        {"challenge": 1234},
        {"salt": {"expires": 1}},
        {"signature": False},
        {"took": "37"},
        {"took": True},
        {"test": True},
        {"verified": True},
        {"extra": "field"},
    ],
)
def test_an_object_with_wrong_fields_or_types_is_refused(
    made: dict[str, object], changes: dict[str, object]
) -> None:
    assert altcha.check_solution(encode(answer(made, **changes)), KEY, now=NOW) is None


def test_a_repeated_key_is_refused(made: dict[str, object]) -> None:
    text = json.dumps(answer(made))
    repeated = text[:-1] + f', "number": {solve(made)}}}'
    assert altcha.check_solution(base64.b64encode(repeated.encode()).decode(), KEY, now=NOW) is None


def test_a_huge_payload_is_refused_before_it_is_decoded(
    made: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = encode(answer(made, took=None) | {"padding": "x" * 10_000})
    genuine_size = len(encode(answer(made)))
    assert genuine_size < 400 < altcha.MAX_PAYLOAD_CHARS < len(huge)

    def no_decoding(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("decoded a payload over the size bound")

    monkeypatch.setattr(base64, "b64decode", no_decoding)
    assert altcha.check_solution(huge, KEY, now=NOW) is None
    assert altcha.check_solution("A" * (altcha.MAX_PAYLOAD_CHARS + 4), KEY, now=NOW) is None


def test_deeply_nested_json_is_refused_without_recursion() -> None:
    depth = 1400  # deeper than Python's recursion limit, and still under the size bound once encoded
    for text in ("[" * depth + "]" * depth, '{"algorithm": ' + "[" * depth + "]" * depth + "}"):
        with pytest.raises(RecursionError):
            json.loads(text)  # what the bracket check keeps the parser from seeing
        payload = base64.b64encode(text.encode()).decode()
        assert len(payload) <= altcha.MAX_PAYLOAD_CHARS
        assert altcha.check_solution(payload, KEY, now=NOW) is None
    objects = '{"":' * 600 + "1" + "}" * 600
    assert altcha.check_solution(base64.b64encode(objects.encode()).decode(), KEY, now=NOW) is None


def test_an_unexpected_error_is_a_logged_refusal(
    made: dict[str, object], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> tuple[bool, str | None]:
        raise RuntimeError("the library broke")

    monkeypatch.setattr(altcha, "verify_solution", broken)
    assert altcha.check_solution(encode(answer(made)), KEY, now=NOW) is None
    assert "ALTCHA payload refused on an unexpected error" in caplog.text


# -- the vendored widget ----------------------------------------------------------------------------------

VENDORED = ("altcha.min.js", "worker.js", "altcha.css", "LICENSE", "README.md")


def test_the_vendored_widget_is_there_as_its_readme_describes() -> None:
    readme = (STATIC / "README.md").read_text(encoding="utf-8")
    for name in VENDORED:
        assert (STATIC / name).is_file(), name
    hashes = dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", readme, flags=re.MULTILINE))
    assert set(hashes) == set(VENDORED) - {"README.md"}
    for name, digest in hashes.items():
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, f"{name} changed"
    script = (STATIC / "altcha.min.js").read_text(encoding="utf-8")
    shown = re.findall(r'"mounted",\s*"([0-9]+\.[0-9]+\.[0-9]+)"', script)
    assert len(shown) == 1 and f"**{shown[0]}**" in readme, "the README names the version in the file"
    package = re.search(r"npm pack altcha@([0-9.]+) && tar -xzf altcha-([0-9.]+)\.tgz", readme)
    assert package and package[1] == package[2] and f"**{package[1]}**" in readme
    assert "MIT License" in (STATIC / "LICENSE").read_text(encoding="utf-8")


def test_the_vendored_widget_is_the_build_for_a_strict_csp() -> None:
    """The default build injects a <style> element and starts workers from blob: URLs, which a
    `style-src 'self'` / `worker-src 'self'` policy blocks; the external build does neither."""
    script = (STATIC / "altcha.min.js").read_text(encoding="utf-8")
    assert 'createElement("style")' not in script and "createObjectURL" not in script
    assert '"./worker.js"' in script and "maxnumber" in script and "challengejson" in script
    assert "onmessage" in (STATIC / "worker.js").read_text(encoding="utf-8")


def test_the_vendored_widget_is_package_data() -> None:
    shipped = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["newsletter.web"]
    for name in VENDORED:
        assert any(fnmatch(f"static/altcha/{name}", glob) for glob in shipped), name


# -- the widget in a browser ------------------------------------------------------------------------------

STRICT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; worker-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)  # no connect-src: with `challengejson` the widget fetches nothing


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(name="form_server")
def fixture_form_server() -> Iterator[tuple[str, list[str]]]:
    """A sign-up page with the widget (challenge in the page, auto="onload"), the vendored files,
    and a POST /submit that records the `altcha` field; everything under STRICT_CSP."""
    posted: list[str] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        name = path.removeprefix("/static/altcha/")
        if path == "/":
            made = altcha.new_challenge(KEY, now=datetime.now(UTC), lifetime=LIFETIME, max_number=MAX_NUMBER)
            body = (
                '<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Aanmelden</title>'
                '<link rel="stylesheet" href="/static/altcha/altcha.css">'
                '<script src="/static/altcha/altcha.min.js" defer></script></head><body>'
                '<form method="post" action="/submit"><input name="email" value="lezer@example.org">'
                f'<altcha-widget challengejson="{html.escape(json.dumps(made))}" auto="onload" hidefooter>'
                '</altcha-widget><button type="submit">Aanmelden</button></form></body></html>'
            ).encode()
            kind = "text/html; charset=utf-8"
        elif path == "/submit":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            posted.extend(parse_qs(environ["wsgi.input"].read(size).decode()).get("altcha", []))
            body, kind = b"ok", "text/plain"
        elif name in {"altcha.min.js", "worker.js", "altcha.css"}:
            body = (STATIC / name).read_bytes()
            kind = "text/css" if name.endswith(".css") else "text/javascript"
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response("200 OK", [("Content-Type", kind), ("Content-Security-Policy", STRICT_CSP)])
        return [body]

    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", posted
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_the_widget_solves_on_load_under_a_strict_csp_and_the_answer_passes(
    browser: Browser, form_server: tuple[str, list[str]]
) -> None:
    url, posted = form_server
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(5000)
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
        page.goto(url)
        # Polled from here: page.wait_for_function evaluates a string in the page, which the CSP forbids.
        solved = "() => document.querySelector('input[name=altcha]')?.value || ''"
        deadline = time.monotonic() + 15
        while not page.evaluate(solved) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert page.evaluate(solved), (
            f"not solved; widget state {page.locator('.altcha').get_attribute('data-state')}"
        )
        assert page.locator(".altcha").evaluate("e => getComputedStyle(e).borderTopWidth") == "1px", (
            "altcha.css applies"
        )
        page.get_by_role("button", name="Aanmelden").click()
        page.wait_for_url("**/submit")
        assert problems == []
    finally:
        context.close()
    assert len(posted) == 1
    assert altcha.check_solution(posted[0], KEY, now=datetime.now(UTC)) is not None

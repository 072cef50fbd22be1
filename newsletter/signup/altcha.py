"""ALTCHA proof of work for the sign-up form: the server makes the challenge and checks the answer.

Why proof of work: a form that adds addresses to a list invites bots that sign strangers up by the
thousand (list bombing), and every confirmation email they trigger costs the sender's reputation. A
CAPTCHA service would tell a third party about every reader who signs up; ALTCHA needs no one else.
The server signs a challenge, the reader's browser spends a moment (max_number sets how long)
finding the number that solves it, and the server checks the answer with the same key: no cookie, no
session, no outside request, and nothing stored until an answer arrives.

The protocol is ALTCHA's first one ("v1"), the one the widget of the npm package `altcha` 2.x solves
(vendored in `static/altcha/`); the library's unprefixed API and the 3.x widget default to a newer
key-derivation protocol, though the 3.x widget still solves v1 challenges. The server picks a random
salt that carries its expiry, `<24 hex>?expires=<unix time>&`, and a secret random number
n ≤ max_number, and publishes challenge = SHA-256(salt + n) with signature = HMAC-SHA256(key,
challenge). The browser tries 0, 1, 2, … until SHA-256(salt + i) is the challenge, and posts
base64(JSON {algorithm, challenge, number, salt, signature, took}) in the form field `altcha`. The
key signs the challenge and the salt is inside what is hashed, so neither the expiry nor the number
can be changed without the key.

A solution stays valid until the salt's expiry, so it could be posted again and again: the caller
stores the id `check_solution` returns (the challenge's signature) until then and refuses it the
second time. That store is not this module's job.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from altcha.v1 import SHA256, ChallengeOptions, Payload, create_challenge, hash_hex, hmac_hex, verify_solution

# A genuine payload is about 330 characters; anything far bigger is refused before it is decoded.
MAX_PAYLOAD_CHARS = 4096
# The widget tries the numbers up to max_number at some tens of thousands a second per worker, so its
# default of a million is already seconds of work; more than this is never a sensible challenge, and
# no genuine answer holds a bigger number.
MAX_NUMBER = 10_000_000
# The library writes the expiry in whole seconds: a shorter lifetime could expire as it is made.
MIN_LIFETIME = timedelta(seconds=1)

ALGORITHM = SHA256  # "SHA-256": the only one our challenges use, so the only one accepted
FIELDS = frozenset({"algorithm", "challenge", "number", "salt", "signature"})
OPTIONAL_FIELDS = frozenset({"took"})  # the widget's solving time in milliseconds; not checked

_HEX_64 = re.compile(r"[0-9a-f]{64}")  # a SHA-256 digest or HMAC as the library writes it
# The salt exactly as `new_challenge` makes it: the library's 12 random bytes in hex, the expiry as a
# query parameter, and the "&" the library ends it with so that the number cannot be spliced into it.
_SALT = re.compile(r"[0-9a-f]{24}\?expires=(?P<expires>[0-9]{1,12})&")

log = logging.getLogger(__name__)


def new_challenge(
    key: bytes | str, *, now: datetime, lifetime: timedelta, max_number: int
) -> dict[str, object]:
    """The challenge for one form, as JSON for the widget: served at its `challengeurl`, or embedded
    in the page as its `challengejson`. Keys: `algorithm` ("SHA-256"), `challenge`, `maxNumber`,
    `salt` (with `expires` in it, which the widget also reads to refresh a stale challenge) and
    `signature`.

    `now` must be timezone-aware: the expiry is a Unix time, and a naive datetime would be read in
    the server's local zone. `max_number` sets the work: the browser needs max_number / 2 hashes on
    average. Every argument is the server's own, so a bad one is a ValueError (a bug), not a refusal.
    """
    if not key:
        raise ValueError("the ALTCHA key is empty: anyone could sign a challenge")
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware, such as datetime.now(UTC)")
    if lifetime < MIN_LIFETIME:
        raise ValueError(f"an ALTCHA challenge must live at least {MIN_LIFETIME} (got {lifetime})")
    if not 1 <= max_number <= MAX_NUMBER:
        raise ValueError(f"max_number must be from 1 to {MAX_NUMBER} (got {max_number})")
    options = ChallengeOptions(
        algorithm=ALGORITHM, max_number=max_number, hmac_key=key, expires=now + lifetime
    )
    return dict(create_challenge(options).to_dict())


def check_solution(payload: str, key: bytes | str, *, now: datetime) -> str | None:
    """The id of the challenge `payload` solves (its signature, 64 hex digits) when the payload is a
    genuine answer to one of our challenges that has not expired at `now`; None for anything else.

    The payload is whatever a client posted in the field `altcha`, so it is treated as hostile: it
    is refused before decoding when it is over MAX_PAYLOAD_CHARS, and after decoding unless it is one
    flat JSON object with exactly the widget's fields and types. Digests are compared in constant
    time. Nothing raises: an unexpected error is logged and refused, so a bad payload can never turn
    a sign-up into a 500 page. The id is the same however often the challenge is solved, which is
    what lets the caller refuse a second use of it.
    """
    try:
        fields = _fields(payload)
        if fields is None or not key:
            return None
        return _verified(fields, key, now)
    except Exception:  # every check above is meant to leave nothing to raise; a refusal either way
        log.warning("ALTCHA payload refused on an unexpected error", exc_info=True)
        return None


@dataclass(frozen=True)
class _Fields:
    """A payload's fields once their types and shapes are known to be those of a genuine one."""

    challenge: str
    number: int
    salt: str
    expires: int
    signature: str


def _fields(payload: object) -> _Fields | None:
    """The payload's fields, or None unless it is base64 of one flat JSON object of the right shape."""
    if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD_CHARS:
        return None
    try:
        text = base64.b64decode(payload.encode("ascii"), validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error):
        return None
    # A genuine payload is one object whose strings hold no brackets or braces. Refusing anything
    # else before parsing keeps a deeply nested document away from the recursive JSON parser.
    if text.count("{") != 1 or text.count("}") != 1 or "[" in text:
        return None
    try:
        data = json.loads(text, object_pairs_hook=_without_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # json.JSONDecodeError is a ValueError
        return None
    if not isinstance(data, dict) or not FIELDS <= data.keys() <= FIELDS | OPTIONAL_FIELDS:
        return None
    algorithm, challenge, number = data["algorithm"], data["challenge"], data["number"]
    salt, signature, took = data["salt"], data["signature"], data.get("took", 0)
    if algorithm != ALGORITHM or not _is_int(number) or not 0 <= number <= MAX_NUMBER:
        return None
    if not (isinstance(took, float) or _is_int(took)):
        return None
    if not (isinstance(challenge, str) and _HEX_64.fullmatch(challenge)):
        return None
    if not (isinstance(signature, str) and _HEX_64.fullmatch(signature)):
        return None
    salted = _SALT.fullmatch(salt) if isinstance(salt, str) else None
    if salted is None:
        return None
    return _Fields(challenge, number, salt, int(salted["expires"]), signature)


def _verified(fields: _Fields, key: bytes | str, now: datetime) -> str | None:
    """The signature when the fields answer a challenge signed with `key` that is live at `now`.

    The digests are recomputed with the library's own functions and compared with
    `hmac.compare_digest` (the library compares with `==`, whose timing could tell a forger how much
    of a signature is right). The library's `verify_solution` must then agree, so that a change in
    how it hashes shows as a refused genuine answer in the tests rather than as a silent divergence.
    """
    if now.timestamp() >= fields.expires:
        return None
    challenge = hash_hex(ALGORITHM, f"{fields.salt}{fields.number}".encode())
    signature = hmac_hex(ALGORITHM, challenge.encode(), key)
    solved = hmac.compare_digest(challenge, fields.challenge)
    signed = hmac.compare_digest(signature, fields.signature)
    if not (solved and signed):
        return None
    payload = Payload(ALGORITHM, fields.challenge, fields.number, fields.salt, fields.signature)
    verified, _error = verify_solution(payload, key, check_expires=False)  # expiry checked above, at `now`
    return fields.signature if verified else None


def _is_int(value: object) -> bool:
    """An int that is not a bool (JSON `true` parses as True, which is an int to Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _without_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object's members, refused when a key repeats (which value a parser keeps varies)."""
    data = dict(pairs)
    if len(data) != len(pairs):
        raise ValueError("a key repeats")
    return data


def _no_constant(name: str) -> object:
    """Refuses NaN and Infinity, which Python's json accepts but JSON has not."""
    raise ValueError(f"{name} is not JSON")

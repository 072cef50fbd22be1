"""The signed tokens of the links in a reader's email: `base64url(payload).base64url(mac)`.

The mac is the first 16 bytes of HMAC-SHA256(key, payload): 128 bits cannot be forged, and keep the
URL short. Numbers in a payload are unsigned LEB128 varints. The unsubscribe token (unsubscribe.py)
and the sign-up's links (reader_links.py) are both made this way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

MAC_BYTES = 16
MAX_VARINT_BYTES = 10  # a 64-bit number
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")  # what `b64` writes: no padding, no other character


def varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def read_varint(data: bytes, start: int) -> tuple[int, int]:
    number = 0
    for index, byte in enumerate(data[start : start + MAX_VARINT_BYTES]):
        number |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return number, start + index + 1
    raise ValueError("unterminated varint")


def signed(payload: bytes, secret: bytes) -> str:
    return f"{b64(payload)}.{b64(mac(payload, secret))}"


def mac(payload: bytes, secret: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()[:MAC_BYTES]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    """Strictly what `b64` writes. `urlsafe_b64decode` skips every character outside its alphabet
    (and takes `+` and `/` too), so a token with `"<>!` put in anywhere would still be accepted:
    a token is the same string that went out, or it is not ours."""
    if not _BASE64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)

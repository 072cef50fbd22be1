"""What every answer of `newsletter serve` shares: the status, the body and the security headers.

The headers are the same on every answer, errors included, because the unsubscribe URL holds a
token: no referrer may carry it to another site (`Referrer-Policy`), no cache may keep a page made
for one reader (`Cache-Control`), and no browser may guess a type other than the one given
(`nosniff`). That includes the answers waitress makes itself, before the app sees the request (a
body over its limit, a broken chunked body): `newsletter serve` adds `security_headers()` to those
(cli/web.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
# For build/site/ (web versions of emails, the archive): their own inline styles and images from
# the publisher's https site, but no script, plugin, framing by others or form posts anywhere.
SITE_CSP = (
    "default-src 'self'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'"
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)


def security_headers(csp: str = STRICT_CSP, cache: str = "no-store") -> list[tuple[str, str]]:
    """Every header of an answer but its type and length."""
    return [("Content-Security-Policy", csp), ("Cache-Control", cache), *SECURITY_HEADERS]


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = HTML
    csp: str = STRICT_CSP
    cache: str = "no-store"
    headers: list[tuple[str, str]] = field(default_factory=list)

    def status_line(self) -> str:
        return f"{self.status} {HTTPStatus(self.status).phrase}"

    def all_headers(self) -> list[tuple[str, str]]:
        return [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.body))),
            *security_headers(self.csp, self.cache),
            *self.headers,
        ]


class HttpError(Exception):
    """A request the app answers with an error page: `key` names its text in the pages' TEXTS."""

    def __init__(self, status: int, key: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(f"{status} {key}")
        self.status = status
        self.key = key
        self.headers = headers or []


def not_found() -> HttpError:
    return HttpError(404, "not_found")


def not_allowed(*methods: str) -> HttpError:
    return HttpError(405, "not_allowed", [("Allow", ", ".join(methods))])

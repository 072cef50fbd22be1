"""The parts of a WSGI request the app reads, decoded once and bounded."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast
from urllib.parse import parse_qs

from newsletter.project.validation import printable
from newsletter.web.responses import HttpError

if TYPE_CHECKING:
    from wsgiref.types import WSGIEnvironment


class Request:
    """The parts of a WSGI environ the app reads, decoded once."""

    def __init__(self, environ: WSGIEnvironment) -> None:
        self.environ = environ
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        raw = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", "")) or "/"
        try:  # WSGI hands the path over as bytes in latin-1 clothing
            self.path = raw.encode("latin-1").decode("utf-8")
        except UnicodeError:
            self.path = "/\x00"  # no route and no file: a 404

    @property
    def shown(self) -> str:
        """The method and path as a log line shows them: a path may hold `%0d%0a`, which WSGI hands
        over decoded, and must not start a forged line."""
        return printable(f"{self.method} {self.path}")

    @property
    def query_string(self) -> str:
        return str(self.environ.get("QUERY_STRING", ""))

    def query(self, name: str) -> str:
        return _fields(self.query_string).get(name, "")

    def form(self, limit: int) -> dict[str, str]:
        """The url-encoded form fields; any other body (multipart, empty) has none."""
        body = self.body(limit)
        if not str(self.environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
            return {}
        return _fields(body.decode("utf-8", "replace"))

    def form_lists(self, limit: int, *, fields: int = 40) -> dict[str, list[str]]:
        """Every value of each url-encoded field (a form's checkboxes share a name); any other
        body has none. More than `fields` fields is nobody's form (400)."""
        body = self.body(limit)
        if not str(self.environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
            return {}
        try:
            return parse_qs(body.decode("utf-8", "replace"), max_num_fields=fields)
        except ValueError:
            raise HttpError(400, "not_allowed") from None

    @property
    def remote_address(self) -> str:
        return str(self.environ.get("REMOTE_ADDR", ""))

    def body(self, limit: int) -> bytes:
        try:
            length = int(str(self.environ.get("CONTENT_LENGTH") or 0))
        except ValueError:
            raise HttpError(400, "not_allowed") from None
        if length > limit:
            raise HttpError(413, "too_large")
        if length <= 0:
            return b""
        data = self.environ["wsgi.input"].read(length)
        return cast(bytes, data)[:limit]

    def headers(self) -> dict[str, str]:
        """Request headers by lower-case name, as `webhooks.handle` takes them."""
        found = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in self.environ.items()
            if key.startswith("HTTP_")
        }
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if self.environ.get(key):
                found[key.replace("_", "-").lower()] = str(self.environ[key])
        return found


def _fields(encoded: str) -> dict[str, str]:
    """The first value of each field; a query with hundreds of fields is nobody's link (400)."""
    try:
        parsed = parse_qs(encoded, max_num_fields=20)
    except ValueError:
        raise HttpError(400, "not_allowed") from None
    return {name: values[0] for name, values in parsed.items()}

"""User errors: the one exception type the CLI turns into a message instead of a traceback.

A user error always says where (file, line when the source has one, field) and what is expected, so
that a marketing editor can fix a campaign without reading Python. Anything that is not a
`NewsletterError` is a bug in the tool.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path


class NewsletterError(Exception):
    """A problem in the user's files or settings, reported as `path:line: field: message (hint)`."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.field = field
        self.hint = hint

    def format(self, root: Path | None = None) -> str:
        """One paragraph; paths are shown relative to `root` (the project) when they lie inside it."""
        where = ""
        if self.path is not None:
            where = display_path(self.path, root)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        field = f"{self.field}: " if self.field else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{field}{self.message}{hint}"

    def __str__(self) -> str:
        return self.format()

    def to_json(self, root: Path | None = None) -> dict[str, str | int | None]:
        """The error as `check --format json` reports it, for tools that read the output."""
        return {
            "file": display_path(self.path, root) if self.path is not None else None,
            "line": self.line,
            "field": self.field,
            "message": self.message,
            "hint": self.hint,
            "text": self.format(root),
        }


class NewsletterErrors(NewsletterError):
    """Several user errors found in one pass, so that one run reports every problem at once."""

    def __init__(self, errors: Iterable[NewsletterError]) -> None:
        self.errors: list[NewsletterError] = list(flatten(errors))
        super().__init__(f"{len(self.errors)} problem(s)")

    def format(self, root: Path | None = None) -> str:
        return "\n".join(error.format(root) for error in self.errors)


def flatten(errors: Iterable[NewsletterError]) -> Iterator[NewsletterError]:
    for error in errors:
        if isinstance(error, NewsletterErrors):
            yield from error.errors
        else:
            yield error


def unique(errors: Iterable[NewsletterError]) -> list[NewsletterError]:
    """A broken book or template shared by several campaigns is one problem, reported once."""
    seen: set[str] = set()
    kept: list[NewsletterError] = []
    for error in flatten(errors):
        key = error.format()
        if key not in seen:
            seen.add(key)
            kept.append(error)
    return kept


def display_path(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)


def did_you_mean(name: str, options: Iterable[str]) -> str | None:
    """A hint naming the closest known option, or None when nothing is close."""
    found = closest(name, options)
    return f"did you mean '{found}'?" if found else None


def closest(name: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return close[0] if close else None


# A URL's password, in its user part (`scheme://user:password@host`, up to the last `@` before the
# host: an unencoded `@` or space in it still counts), or as a `password=` parameter of its query or
# of libpq's `key=value` form (quoted or not): what no message may show.
_URL_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^/?#]*)@(?=[^@/?#]*(?:[/?#]|$))"
)
_PARAMETER_PASSWORD = re.compile(
    r"(?i)(?P<head>(?:^|[?&\s])pass(?:word|%77ord)\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|[^&\s]*)"
)


def without_passwords(text: str) -> str:
    """The text with every URL password in it shown as `***`."""
    return _PARAMETER_PASSWORD.sub(r"\g<head>***", _URL_PASSWORD.sub(r"\g<head>***@", text))


def password_of(url: str) -> str:
    """The password a URL holds ("" without one), found as `without_passwords` finds it."""
    found = _URL_PASSWORD.search(url) or _PARAMETER_PASSWORD.search(url)
    return found.group("secret") if found else ""

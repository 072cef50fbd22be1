"""Where returned mail and notifications come from: each PATH of `bounces import`, whatever it is.

A PATH may be a Maildir (a folder with `cur/` or `new/`; the messages in both), an mbox file (it
starts with a `From ` line), a single message (`.eml` or any file that starts with a header line),
a JSON file of webhook notifications (an object, or a list of them), or a plain folder of such
files. What a PATH is, is read from its content, not its name, because mail tools save messages
under all sorts of names.

A PATH that does not exist or is none of these is a user error before anything is imported; inside
a Maildir, an mbox or a folder, a message that turns out to be garbage is just a message nobody
understands, reported with the others.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from newsletter.errors import NewsletterError

Kind = Literal["maildir", "folder", "mbox", "message", "json"]
_SNIFF_BYTES = 4096
_HEADER_LINE = re.compile(rb"[!-9;-~]{1,80}:")  # an RFC 5322 field name and its colon
_HINT = "give a Maildir, an mbox file, .eml files or webhook JSON files"


@dataclass(frozen=True)
class Item:
    """One message or one JSON document, with where it came from (`file` or `file#n` in an mbox)."""

    label: str
    data: bytes
    kind: Literal["message", "json"]


def kinds(paths: Sequence[Path]) -> list[tuple[Path, Kind]]:
    """What each path is; a NewsletterError for the first one that is not mail, before any is read."""
    found: list[tuple[Path, Kind]] = []
    for path in paths:
        if path.is_dir():
            found.append(
                (path, "maildir" if (path / "cur").is_dir() or (path / "new").is_dir() else "folder")
            )
            continue
        if not path.exists():
            raise NewsletterError("no such file or folder", path=path, hint=_HINT)
        kind = sniff(_head(path))
        if kind is None:
            raise NewsletterError(
                "not mail: neither a message, an mbox, a Maildir nor webhook JSON", path=path, hint=_HINT
            )
        found.append((path, kind))
    return found


def sniff(head: bytes) -> Literal["mbox", "message", "json"] | None:
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if start[:1] in (b"{", b"["):
        return "json"
    if head.startswith(b"From "):
        return "mbox"
    if _HEADER_LINE.match(head):
        return "message"
    return None


def items(path: Path, kind: Kind) -> Iterator[Item]:
    """The messages and documents of one path, in a stable order (file names sorted)."""
    if kind == "maildir":
        for folder in ("new", "cur"):
            for file in _files(path / folder):
                yield Item(str(file), _read(file), "message")
    elif kind == "folder":
        for file in _files(path):
            sniffed = sniff(_head(file))
            if sniffed == "mbox":
                yield from _mbox(file)
            else:
                yield Item(str(file), _read(file), "json" if sniffed == "json" else "message")
    elif kind == "mbox":
        yield from _mbox(path)
    else:
        yield Item(str(path), _read(path), kind)


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(file for file in folder.iterdir() if file.is_file() and not file.name.startswith("."))


def _mbox(path: Path) -> Iterator[Item]:
    try:
        box = mailbox.mbox(path, create=False)
        for number, key in enumerate(box.keys(), start=1):
            yield Item(f"{path}#{number}", box.get_bytes(key), "message")
    except (OSError, mailbox.Error) as exc:
        raise NewsletterError(f"cannot read this mbox: {exc}", path=path) from None


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(_SNIFF_BYTES)
    except OSError as exc:
        raise NewsletterError(f"cannot read it: {exc.strerror or exc}", path=path) from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise NewsletterError(f"cannot read it: {exc.strerror or exc}", path=path) from None

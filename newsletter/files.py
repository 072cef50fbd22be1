"""Writing files so that a crash leaves the old file or the new one, never half of one; reading the
user's files so that a bad byte is an error at its line, not a traceback."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from newsletter.errors import NewsletterError


def atomic_write(path: Path, data: str | bytes, mode: int = 0o644, *, what: str = "file") -> None:
    """Write next to the target, flush to disk, then rename over it (rename is atomic on POSIX).

    A place that cannot be written (a read-only disk, a file where a folder should be, `--out`
    under /proc) is the user's to fix: an error naming the path, not a traceback.
    """
    try:
        _write_and_rename(path, data.encode("utf-8") if isinstance(data, str) else data, mode)
    except OSError as exc:
        raise NewsletterError(
            f"cannot write the {what}: {exc.strerror or exc}",
            path=path,
            hint="check that the folder exists or can be made, and that you may write there",
        ) from None


def _write_and_rename(path: Path, raw: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(raw)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def read_user_text(
    path: Path,
    *,
    what: str = "file",
    missing_hint: str | None = None,
    encoding_hint: str = "save the file as UTF-8",
) -> str:
    """A file the user wrote, as UTF-8 text with or without a BOM, line endings made "\\n".

    Editors fix a file by going to a line, so bytes that are not UTF-8 are one error naming the line
    they are on (Windows editors still save Latin-1 or cp1252 now and then). `what` names the file in
    the messages ("column file not found", "settings file is not UTF-8 text").
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NewsletterError(f"{what} not found", path=path, hint=missing_hint) from None
    except OSError as exc:
        raise NewsletterError(f"cannot read {what}: {exc.strerror or exc}", path=path) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NewsletterError(
            f"{what} is not UTF-8 text", path=path, line=_line_at(data, exc.start), hint=encoding_hint
        ) from None
    # What Path.read_text does too: "\r\n" and a lone "\r" (old Mac files) both end a line.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _line_at(data: bytes, offset: int) -> int:
    """The 1-based line of a byte offset, counting "\\r\\n", "\\r" and "\\n" as one line end each."""
    before = data[:offset]
    return before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1


def modified_day(path: Path) -> str | None:
    """The day (ISO, local time) a file was last changed; None when it cannot be told."""
    from datetime import date

    try:
        return date.fromtimestamp(path.stat().st_mtime).isoformat()
    except OSError:
        return None


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Orders as people read: `issue-2` before `issue-10`, and an id before its extensions
    (`2027-01-social` before `2027-01-social-b`), where plain text order would not."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


def yaml_files(folder: Path) -> list[Path]:
    """The .yaml and .yml files of a folder, in the natural order of their names without suffix."""
    return sorted(
        [*folder.glob("*.yaml"), *folder.glob("*.yml")],
        key=lambda path: (natural_key(path.stem), path.suffix),
    )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert_cell(cell: str) -> str:
    """A cell of a CSV file we write: one starting with = + - @ is a formula to Excel and
    LibreOffice (CSV injection; names come from sign-up forms, addresses from Stripe), so it gets
    a leading apostrophe, which `audience import` takes off again. A spreadsheet that splits on `;`
    (Excel in a Dutch locale) would start a cell after each `;` too: a formula there is defused
    the same way."""
    cell = _AFTER_SEMICOLON.sub(r"\1'\2", cell)
    return "'" + cell if cell[:1] in FORMULA_STARTS else cell


_AFTER_SEMICOLON = re.compile(r"(;\s*)([=+\-@])")

"""Subscriber lists as files: importing a CSV file, suppressing the addresses in a file (exporting
CSV is audience_export.py).

Spreadsheets write what they like: a BOM or not, `,` `;` tab or `|` (guessed from the header row),
Dutch or English column names in any case. A row that cannot be read (a bad address, an unknown
locale) is reported with its line and left out; a file that cannot be read as a whole (not UTF-8, no
header, no email column, quoting that swallows rows) is one error, and nothing of it is imported.

An import streams: the rows are parsed in batches into a temporary table of the store, merged there
with earlier rows for the same address, and only when the whole file has been read are they applied
to the subscribers, a batch per transaction (store/imports.py). A list of a million rows so takes no
more memory than one of a thousand, and a file that turns out to be broken on its last line leaves
the store as it was.

An export defuses cells that a spreadsheet would run as a formula; an import takes that defusing off.
An import never makes a suppressed address active again (it counts as "kept suppressed"); a status it
does change is recorded in the status history with source `import` and the list's source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path

from newsletter.audience.csv_files import (
    cell_tags,
    file_addresses,
    header_columns,
    line_addresses,
    no_email_column,
    streamed_rows,
    unused_columns,
)
from newsletter.audience.export import EXPORT_COLUMNS as EXPORT_COLUMNS
from newsletter.audience.export import export_csv as export_csv
from newsletter.audience.export import revert_inert as _revert_inert
from newsletter.errors import NewsletterError
from newsletter.project.validation import CONTROL_CHARACTERS
from newsletter.store import (
    BadRow,
    ImportConsent,
    ImportReport,
    ImportRow,
    Location,
    Store,
    SuppressReport,
    normalise_address,
    timestamp,
    using,
)
from newsletter.vocabulary import IMPORTABLE, LOCALES, SUPPRESSED

_NO_TAGS: frozenset[str] = frozenset()


def _name(cells: list[str], cell: Callable[[list[str], str], str]) -> str:
    """The name column, or the name put together from first name, tussenvoegsel and last name
    columns ("Piet", "de", "Vries" → "Piet de Vries") where a list splits it."""
    whole = cell(cells, "name").strip()
    if whole:
        return whole
    parts = (cell(cells, name).strip() for name in ("first_name", "infix", "last_name"))
    return " ".join(part for part in parts if part)


def _locale(cell: str) -> str | None:
    """'nl', 'NL', 'nl-BE' and 'en_GB' are fine; empty means the default."""
    if cell in LOCALES:  # as the file mostly says it
        return cell
    text = cell.strip().lower().replace("_", "-")
    if not text:
        return None
    language = text.split("-", 1)[0]
    if language not in LOCALES:
        raise ValueError(f"unknown locale {cell.strip()!r} (expected nl or en)")
    return language


def _status(cell: str) -> str:
    text = cell.strip().lower() or "active"
    if text not in IMPORTABLE:
        raise ValueError(f"unknown status {cell.strip()!r} (expected one of {', '.join(IMPORTABLE)})")
    return text


# -- reading rows ------------------------------------------------------------------------------


def _columns(records: Iterator[tuple[int, list[str]]], path: Path, unused: list[str]) -> dict[str, int]:
    """The header row's columns; a file without a header or an email column is not a list. The
    columns not read go to `unused`."""
    first = next(records, None)
    if first is None or not any(cell.strip() for cell in first[1]):
        raise NewsletterError("no header row", path=path, line=1, hint="the first row names the columns")
    columns = header_columns(first[1])
    if "email" not in columns:
        raise no_email_column(first[1], path)
    unused += unused_columns(first[1])
    return columns


def _address(cell: str) -> str:
    return normalise_address(_revert_inert(cell.strip()))


_CHECKED = (("email", _address), ("locale", _locale), ("status", _status))  # in the order of the reasons


def _parse(
    records: Iterator[tuple[int, list[str]]], columns: dict[str, int], bad: list[BadRow]
) -> Iterator[tuple[int, ImportRow]]:
    """The readable rows after the header, with their lines; the others go to `bad`."""

    def cell(cells: list[str], name: str) -> str:
        index = columns.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    def reasons(cells: list[str]) -> str:
        found: list[str] = []
        for name, parse in _CHECKED:
            try:
                parse(cell(cells, name))
            except ValueError as exc:
                found.append(str(exc))
        return "; ".join(found)

    email_at, locale_at, status_at = (columns.get(name, -1) for name, _ in _CHECKED)
    name_at, tags_at = columns.get("name", -1), columns.get("tags", -1)
    for line, cells in records:
        if not "".join(cells).strip():  # no cell holds more than white space
            continue
        width = len(cells)
        try:
            address = _address(cells[email_at] if 0 <= email_at < width else "")
            locale = _locale(cells[locale_at] if 0 <= locale_at < width else "")
            status = _status(cells[status_at] if 0 <= status_at < width else "")
        except ValueError:
            bad.append(BadRow(line, reasons(cells)))
            continue
        name = cells[name_at].strip() if 0 <= name_at < width else ""
        if not name:
            name = _name(cells, cell)
        tags = cells[tags_at] if 0 <= tags_at < width else ""
        yield (
            line,
            ImportRow(
                email=address,
                name=_revert_inert(" ".join(CONTROL_CHARACTERS.sub(" ", name).split())),
                locale=locale,
                tags=cell_tags(_revert_inert(tags)) if tags else _NO_TAGS,
                status=status,
            ),
        )


# -- importing ---------------------------------------------------------------------------------


def import_csv(
    audience: Store | Location,
    path: Path,
    *,
    default_locale: str,
    source: str,
    now: datetime | None = None,
    consent: str | None = None,
    forgotten: Callable[[str], str] | None = None,
) -> ImportReport:
    """Import a subscriber list. Bad rows are reported, not imported; the good rows are applied once the
    whole file has been read, a batch per transaction.

    `consent` states what the readers the file adds agreed to (their proof of consent, store/consent.py);
    `forgotten` hashes an address's key as `audience forget` did, so a forgotten address stays out.

    A file-level problem (not UTF-8, no header, no email column), or a file that adds readers without
    `consent` (ConsentMissing), raises NewsletterError and imports nothing.
    """
    if default_locale not in LOCALES:
        raise ValueError(f"default_locale must be one of {LOCALES}")
    stamp = timestamp(now)
    report = ImportReport(path=path)
    with streamed_rows(path) as records:
        good = _parse(records, _columns(records, path, report.unused_columns), report.bad)
        with using(audience) as store:
            store.import_rows(
                good,
                report,
                default_locale=default_locale,
                source=source,
                stamp=stamp,
                consent=ImportConsent(consent, forgotten),
            )
    return report


# -- suppressing -------------------------------------------------------------------------------


def suppress(
    audience: Store | Location,
    source: Path | Iterable[str],
    *,
    status: str = "unsubscribed",
    default_locale: str = "nl",
    now: datetime | None = None,
    change_source: str = "suppress",
    detail: str | None = None,
) -> SuppressReport:
    """Mark addresses unsubscribed, bounced or complained; unknown ones are added that way.

    `source` is a file (one address per line, or a CSV with an email column) or the lines themselves.
    Blank lines and lines starting with '#' are skipped. The status history says `change_source`
    (one-click, mailto, ...) and `detail` (default: the file's name).
    """
    if status not in SUPPRESSED:
        raise ValueError(f"status must be one of {sorted(SUPPRESSED)}")
    stamp = timestamp(now)
    bad: list[BadRow] = []
    addresses = file_addresses(source, bad) if isinstance(source, Path) else line_addresses(source, bad)
    if detail is None:
        detail = source.name if isinstance(source, Path) else ""
    with using(audience) as store:
        report = store.suppress_all(
            addresses,
            status=status,
            default_locale=default_locale,
            stamp=stamp,
            source=change_source,
            detail=detail,
        )
    report.bad = bad
    return report

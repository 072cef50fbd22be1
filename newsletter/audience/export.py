"""Exporting subscribers as CSV that `audience import` reads back, safe to open in a spreadsheet.

An export defuses cells that a spreadsheet would run as a formula (CSV injection); `revert_inert`
takes that defusing off again when the file is imported.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from newsletter.files import FORMULA_STARTS, atomic_write, inert_cell
from newsletter.store import Location, Store, using

EXPORT_COLUMNS = ("email", "name", "locale", "tags", "status", "source", "created_at", "updated_at")


# -- exporting ---------------------------------------------------------------------------------


def revert_inert(cell: str) -> str:
    return cell[1:] if cell[:1] == "'" and cell[1:2] in FORMULA_STARTS else cell


def export_csv(
    audience: Store | Location,
    out: Path | TextIO | None = None,
    *,
    locale: str | None = None,
    tags: Sequence[str] = (),
    status: str | None = None,
) -> int:
    """Write subscribers as UTF-8 CSV (every status by default, so an export is a backup that
    `import_csv` reads back). A Path is written atomically; None means stdout. Returns the row count."""
    with using(audience) as store:
        subscribers = store.select(locale=locale, tags=tags, status=status)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for s in subscribers:
        writer.writerow(
            [
                inert_cell(s.email),  # `=cmd|...@example.nl` is a valid address
                inert_cell(s.name),
                s.locale,
                inert_cell(";".join(s.tags)),
                s.status,
                inert_cell(s.source),
                s.created_at,
                s.updated_at,
            ]
        )
    if isinstance(out, Path):
        atomic_write(out, buffer.getvalue(), mode=0o600, what="export")  # personal data: owner only
    else:
        (out or sys.stdout).write(buffer.getvalue())
    return len(subscribers)

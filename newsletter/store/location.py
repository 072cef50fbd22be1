"""Where the store lives: an SQLite file (a `Path`) or a PostgreSQL database (a `PostgresDatabase`).

`[audience] database` in newsletter.toml names either. A `postgresql://` URL there may not hold a
password: newsletter.toml is shared with colleagues and kept in version control. libpq finds the
password itself (`PGPASSWORD`, `~/.pgpass`, a service file), or the whole URL comes from the
environment (NEWSLETTER_DATABASE_URL, which then wins over the setting). The URL is shown only with
its password masked, so no message, log or file ever holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.errors import NewsletterError, without_passwords

SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class PostgresDatabase:
    """A PostgreSQL database by its libpq URL (conninfo). `str()` masks a password in it."""

    url: str = field(repr=False)

    def __str__(self) -> str:
        return masked(self.url)

    def __repr__(self) -> str:
        return f"PostgresDatabase({masked(self.url)!r})"


Location = Path | PostgresDatabase


def is_postgres_url(value: str) -> bool:
    """A `postgresql://` URL, or libpq's `key=value` form (`host=db dbname=nieuwsbrief`)."""
    text = value.strip()
    return text.lower().startswith(SCHEMES) or _CONNINFO.match(text) is not None


_CONNINFO = re.compile(r"[A-Za-z_]+\s*=")


def masked(url: str) -> str:
    """The URL as it may be shown: a password, if any, becomes `***` (also in a URL too broken to
    parse, which libpq will refuse)."""
    return without_passwords(url)


def locate(setting: str, root: Path, environment_url: str = "") -> Location:
    """The store a project's setting (and NEWSLETTER_DATABASE_URL, when given) points at."""
    if environment_url:
        if not is_postgres_url(environment_url):
            raise NewsletterError(
                "NEWSLETTER_DATABASE_URL is not a PostgreSQL URL",
                hint="give postgresql://USER:PASSWORD@HOST/DATABASE, or unset it to use "
                "[audience] database in newsletter.toml",
            )
        return PostgresDatabase(environment_url.strip())
    if is_postgres_url(setting):
        return PostgresDatabase(setting.strip())
    return root / setting

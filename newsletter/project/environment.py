"""Everything the tool takes from the environment, read here and nowhere else.

Secrets (the Stripe key and its webhook signing secret, the SMTP password, the unsubscribe and
webhook secrets, a PostgreSQL store's URL with its password) never live in `newsletter.toml`, which
is committed with the campaigns. They are resolved once, when a project is opened
(`Secrets.from_environment`), or passed in by a caller of the Python API, and travel with the project
from there: no module below reads the environment, and a test sets a secret by passing it.

A `Secrets` never shows its values: its repr names which are set, so a traceback or a log line
that prints a project cannot leak one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

UNSUBSCRIBE_SECRET = "NEWSLETTER_UNSUBSCRIBE_SECRET"
SMTP_PASSWORD = "NEWSLETTER_SMTP_PASSWORD"
WEBHOOK_SECRET = "NEWSLETTER_WEBHOOK_SECRET"
STRIPE_API_KEY = "STRIPE_API_KEY"
STRIPE_API_BASE = "STRIPE_API_BASE"
STRIPE_WEBHOOK_SECRET = "STRIPE_WEBHOOK_SECRET"
DATABASE_URL = "NEWSLETTER_DATABASE_URL"
PROJECT_DIR = "NEWSLETTER_PROJECT"
CHROMIUM = "NEWSLETTER_CHROMIUM"  # read by click, as the default of `screenshot --chromium`


@dataclass(frozen=True, repr=False)
class Secrets:
    """The values a project needs that must not be written down; empty where not given."""

    unsubscribe: str = ""  # signs the unsubscribe links (NEWSLETTER_UNSUBSCRIBE_SECRET)
    smtp_password: str = ""  # for [smtp] user (NEWSLETTER_SMTP_PASSWORD)
    webhook: str = ""  # what the email services' webhooks must present (NEWSLETTER_WEBHOOK_SECRET)
    stripe_api_key: str = ""  # STRIPE_API_KEY
    # Not a secret, but it goes with the key: where Stripe is, for a test server (STRIPE_API_BASE).
    stripe_api_base: str = ""
    stripe_webhook: str = ""  # the signing secret of the Stripe webhook endpoint (STRIPE_WEBHOOK_SECRET)
    # A PostgreSQL store's whole URL, password and all, which wins over `[audience] database`
    # (NEWSLETTER_DATABASE_URL).
    database_url: str = ""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Secrets:
        env = os.environ if environ is None else environ
        return cls(
            unsubscribe=env.get(UNSUBSCRIBE_SECRET, "").strip(),
            smtp_password=env.get(SMTP_PASSWORD, ""),
            webhook=env.get(WEBHOOK_SECRET, "").strip(),
            stripe_api_key=env.get(STRIPE_API_KEY, "").strip(),
            stripe_api_base=env.get(STRIPE_API_BASE, "").strip(),
            stripe_webhook=env.get(STRIPE_WEBHOOK_SECRET, "").strip(),
            database_url=env.get(DATABASE_URL, "").strip(),
        )

    def __repr__(self) -> str:
        given = [field.name for field in fields(self) if getattr(self, field.name)]
        return f"Secrets(set: {', '.join(given) or 'none'})"


def project_dir() -> Path | None:
    """NEWSLETTER_PROJECT: where a WSGI server finds the project (`newsletter.wsgi:app`)."""
    value = os.environ.get(PROJECT_DIR, "").strip()
    return Path(value) if value else None

"""The subscriber store's schema: one script per version of `PRAGMA user_version`.

`audience.connect` runs the scripts a file has not had yet, in order, each in its own transaction, so
a file made by any earlier version is brought up to date on open. A script is never edited once
released: a change is a new script at the end.
"""

from __future__ import annotations

from newsletter.mail import bounce_store, status_history
from newsletter.vocabulary import LOCALES, SEND_STATES, STATUSES, sql_in

SCHEMA_VERSION = 5

MIGRATIONS: tuple[str, ...] = (
    # 1: subscribers.
    f"""
    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        email_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL DEFAULT '',
        locale TEXT NOT NULL CHECK ({sql_in("locale", LOCALES)}),
        tags TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL DEFAULT 'active'
            CHECK ({sql_in("status", STATUSES)}),
        source TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX subscribers_status_locale ON subscribers (status, locale);
    """,
    # 2: the send log, one row per (campaign, subscriber); see sendlog.py for what each state means.
    f"""
    CREATE TABLE sends (
        campaign TEXT NOT NULL,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
        email TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK ({sql_in("state", SEND_STATES)}),
        attempts INTEGER NOT NULL DEFAULT 0,
        smtp_code INTEGER,
        smtp_response TEXT NOT NULL DEFAULT '',
        message_id TEXT,
        retry_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        sent_at TEXT,
        PRIMARY KEY (campaign, subscriber_id)
    );
    CREATE INDEX sends_campaign_state ON sends (campaign, state);
    """,
    # 3: email_key was casefold(), which made fuß.de and fuss.de one address; now it is lower()
    # (`email_key`, registered on every connection). Keys stay unique: equal lower() implies
    # equal casefold().
    "UPDATE subscribers SET email_key = email_key(email)",
    # 4: every change of status, with its source; the subscribers so far get their current status.
    status_history.SCHEMA
    + "INSERT INTO status_changes (subscriber_id, old_status, new_status, source, detail, at)"
    " SELECT id, NULL, status, 'other', 'status before the history began', updated_at FROM subscribers",
    # 5: the reports the bounce import applied, and the soft bounces it counted.
    bounce_store.SCHEMA,
)
assert len(MIGRATIONS) == SCHEMA_VERSION

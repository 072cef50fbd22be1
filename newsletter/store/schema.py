"""The store's schema, every table of it: one script per version of `PRAGMA user_version`.

`database.connect` runs the scripts a file has not had yet, in order, each in its own transaction,
so a file made by any earlier version is brought up to date on open. A script is never edited once
released: a change is a new script at the end.
"""

from __future__ import annotations

from pathlib import Path

from newsletter.errors import NewsletterError
from newsletter.vocabulary import LOCALES, SEND_STATES, STATUSES, sql_in

SCHEMA_VERSION = 10

# Every change of a subscriber's status (history.py). A writer that does not record its change (an
# UPDATE added somewhere later, a tool outside this package) is still caught: the trigger records it
# with source `other`, when no row for exactly that change was written first.
_STATUS_CHANGES_TABLE = """
CREATE TABLE status_changes (
    id INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
    old_status TEXT,
    new_status TEXT NOT NULL,
    source TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE INDEX status_changes_subscriber ON status_changes (subscriber_id, id);
"""
_HISTORY_TRIGGER = """
CREATE TRIGGER status_changes_unrecorded AFTER UPDATE OF status ON subscribers
WHEN OLD.status IS NOT NEW.status AND NOT EXISTS (
    SELECT 1 FROM status_changes WHERE subscriber_id = NEW.id AND old_status IS OLD.status
        AND new_status = NEW.status AND at = NEW.updated_at
)
BEGIN
    INSERT INTO status_changes (subscriber_id, old_status, new_status, source, detail, at)
    VALUES (NEW.id, OLD.status, NEW.status, 'other', 'not recorded by the code that changed it',
            NEW.updated_at);
END;
"""
_STATUS_CHANGES = _STATUS_CHANGES_TABLE + _HISTORY_TRIGGER

# What the bounce import remembers between runs (bounce_records.py).
_BOUNCE_RECORDS = """
CREATE TABLE bounce_reports (
    key TEXT PRIMARY KEY,
    origin TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE soft_bounces (
    email_key TEXT NOT NULL,
    report_key TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL,
    PRIMARY KEY (email_key, report_key)
);
"""

# 7: the statuses `unconfirmed` (a sign-up waiting for its confirmation) and `forgotten` (what
# `audience forget` leaves), and the topics a reader chose. A CHECK constraint cannot be altered in
# SQLite, so the table is made anew and renamed, as SQLite's documentation prescribes (foreign keys
# are off while migrations run: database.py); its indexes and the history's trigger come back with it.
_SUBSCRIBERS_7 = f"""
CREATE TABLE subscribers_7 (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    email_key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    locale TEXT NOT NULL CHECK ({sql_in("locale", LOCALES)}),
    tags TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'active' CHECK ({sql_in("status", STATUSES)}),
    source TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    topics TEXT NOT NULL DEFAULT '[]'
);
INSERT INTO subscribers_7 (id, email, email_key, name, locale, tags, status, source, created_at, updated_at)
    SELECT id, email, email_key, name, locale, tags, status, source, created_at, updated_at FROM subscribers;
DROP TABLE subscribers;
ALTER TABLE subscribers_7 RENAME TO subscribers;
CREATE INDEX subscribers_status_locale ON subscribers (status, locale);
CREATE INDEX subscribers_unconfirmed ON subscribers (updated_at) WHERE status = 'unconfirmed';
{_HISTORY_TRIGGER}
"""

# 7 as well: proof of consent, the forgotten, and the sign-up's limits (consent.py, signups.py).
_CONSENT = """
CREATE TABLE consent_texts (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    first_used TEXT NOT NULL
);
CREATE TABLE consents (
    id INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
    source TEXT NOT NULL,
    text_id INTEGER NOT NULL REFERENCES consent_texts (id),
    topics TEXT NOT NULL DEFAULT '[]',
    name TEXT NOT NULL DEFAULT '',
    locale TEXT,
    given_at TEXT NOT NULL,
    ip TEXT NOT NULL DEFAULT '',
    confirmed_at TEXT,
    confirmation_message_id TEXT
);
CREATE INDEX consents_subscriber ON consents (subscriber_id, id);
CREATE TABLE forgotten (
    digest TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE signup_events (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX signup_events_key ON signup_events (kind, key, at);
CREATE TABLE used_challenges (
    id TEXT PRIMARY KEY,
    expires TEXT NOT NULL
);
"""

# 8: the orders paid through the campaigns' Payment Links, as Stripe's webhooks and `orders sync`
# report them (orders.py): one row per Checkout Session, the refunds by payment intent (a refund may
# arrive before its order), and the events applied, by id, so that each is applied once.
_ORDERS = """
CREATE TABLE orders (
    session TEXT PRIMARY KEY,
    mode TEXT NOT NULL,
    payment_link TEXT,
    campaign TEXT,
    sku TEXT,
    subscriber_id INTEGER REFERENCES subscribers (id),
    reference TEXT NOT NULL DEFAULT '',
    unit_amount INTEGER,
    quantity INTEGER NOT NULL DEFAULT 0,
    amount INTEGER NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT 'eur',
    payment_status TEXT NOT NULL,
    payment_intent TEXT,
    email TEXT NOT NULL DEFAULT '',
    shipping_name TEXT NOT NULL DEFAULT '',
    shipping_address TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    event_at INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    forgotten INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX orders_campaign ON orders (campaign, payment_status);
CREATE INDEX orders_payment_intent ON orders (payment_intent);
CREATE INDEX orders_subscriber ON orders (subscriber_id);
CREATE TABLE refunds (
    payment_intent TEXT PRIMARY KEY,
    amount_refunded INTEGER NOT NULL,
    event_at INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE stripe_events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    at TEXT NOT NULL
);
"""

# 10: the senders' leases. `host` is the machine (its name and boot id), `pid` and `process_start`
# the process on it: a sender on the same machine is known dead at once, one elsewhere when its
# heartbeat is older than the lease.
_SENDERS = """
ALTER TABLE sends ADD COLUMN sender TEXT;
CREATE INDEX sends_campaign_sender ON sends (campaign, sender, subscriber_id);
CREATE TABLE senders (
    id TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    process_start TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);
CREATE INDEX senders_campaign ON senders (campaign);
"""

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
    _STATUS_CHANGES + "INSERT INTO status_changes (subscriber_id, old_status, new_status, source, detail, at)"
    " SELECT id, NULL, status, 'other', 'status before the history began', updated_at FROM subscribers",
    # 5: the reports the bounce import applied, and the soft bounces it counted.
    _BOUNCE_RECORDS,
    # 6: a returned message is matched to the message it answers: by the token of its VERP envelope
    # sender (return_token, recorded with the Message-ID), or by the Message-ID itself.
    """
    ALTER TABLE sends ADD COLUMN return_token TEXT;
    CREATE UNIQUE INDEX sends_return_token ON sends (return_token);
    CREATE INDEX sends_message_id ON sends (message_id);
    """,
    _SUBSCRIBERS_7 + _CONSENT,
    _ORDERS,
    # 9: A/B tests (ab_tests.py): the variant each row was sent with, whether it was part of the
    # test share, and each test's share and winner.
    """
    ALTER TABLE sends ADD COLUMN variant TEXT NOT NULL DEFAULT '';
    ALTER TABLE sends ADD COLUMN in_test INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE ab_tests (
        campaign TEXT PRIMARY KEY,
        share REAL NOT NULL,
        started_at TEXT NOT NULL,
        winner TEXT,
        decided_at TEXT
    );
    """,
    # 10: several senders share a campaign (leases.py): each holds a lease it renews, and each row
    # in flight names the sender that claimed it, so a row `sending` is known to be in flight (its
    # sender's lease is live) or left by a sender that died.
    _SENDERS,
)
assert len(MIGRATIONS) == SCHEMA_VERSION


def newer_schema(version: int, where: str, path: Path | None = None) -> NewsletterError:
    """A database made by a newer version of newsletter: refused, so that nothing of it is lost."""
    return NewsletterError(
        f"the subscriber database {'' if path else where + ' '}has schema version {version}; this "
        f"newsletter knows up to {SCHEMA_VERSION}",
        path=path,
        hint="upgrade newsletter",
    )

"""The words the tool's stages share: locales, subscriber statuses and send states.

Each is spelled once here. The type checker's Literals, the CLI's choices and the database's CHECK
constraints are all made from these tuples, so adding a locale or a state is one edit, and a test
(tests/test_vocabulary.py) fails if a Literal and its tuple drift apart.
"""

from __future__ import annotations

from typing import Literal

Locale = Literal["nl", "en"]
LOCALES: tuple[Locale, ...] = ("nl", "en")  # the first is the default

Status = Literal["active", "unconfirmed", "unsubscribed", "bounced", "complained", "forgotten"]
STATUSES: tuple[Status, ...] = ("active", "unconfirmed", "unsubscribed", "bounced", "complained", "forgotten")
SUPPRESSED: tuple[Status, ...] = ("unsubscribed", "bounced", "complained")  # never mailed again
# What a list file may say of a reader: `unconfirmed` is a sign-up waiting for its confirmation (only
# the reader's click makes it active) and `forgotten` what `audience forget` leaves of a person.
IMPORTABLE: tuple[Status, ...] = ("active", *SUPPRESSED)

# One row of the send log per reader and campaign: pending -> sending -> sent | failed | deferred | unknown.
SendState = Literal["pending", "sending", "sent", "failed", "deferred", "unknown"]
SEND_STATES: tuple[SendState, ...] = ("pending", "sending", "sent", "failed", "deferred", "unknown")
OPEN_STATES: tuple[SendState, ...] = ("pending", "deferred", "sending")  # the campaign is not finished


def sql_in(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint's condition: `status IN ('active', ...)`. The values are our own constants."""
    return f"{column} IN ({', '.join(repr(value) for value in values)})"

"""The store: the one room that owns every SQL statement, its schema and its migrations.

Open it with `open_store(project)` (or `connect(path)`); its methods take and return plain data.
"""

from newsletter.store.ab_tests import ABTest, VariantResult
from newsletter.store.addresses import email_key, normalise_address
from newsletter.store.base import timestamp
from newsletter.store.consent import Consent, SentTo
from newsletter.store.database import Store, connect, database_location, open_existing, open_store, using
from newsletter.store.funnel import Funnel
from newsletter.store.history import StatusChange
from newsletter.store.imports import ConsentMissing, ImportConsent, ImportReport, ImportRow
from newsletter.store.leases import INTERRUPTED, Lease
from newsletter.store.location import Location, PostgresDatabase
from newsletter.store.orders import Order
from newsletter.store.published import first_sends
from newsletter.store.sendlog import TAKEN, Entry, Result, Row, SentMessage
from newsletter.store.signups import SignedUp
from newsletter.store.subscribers import BadRow, Subscriber, SuppressReport

__all__ = [
    "INTERRUPTED",
    "TAKEN",
    "ABTest",
    "BadRow",
    "Consent",
    "ConsentMissing",
    "Entry",
    "Funnel",
    "ImportConsent",
    "ImportReport",
    "ImportRow",
    "Lease",
    "Location",
    "Order",
    "PostgresDatabase",
    "Result",
    "Row",
    "SentMessage",
    "SentTo",
    "SignedUp",
    "StatusChange",
    "Store",
    "Subscriber",
    "SuppressReport",
    "VariantResult",
    "connect",
    "database_location",
    "email_key",
    "first_sends",
    "normalise_address",
    "open_existing",
    "open_store",
    "timestamp",
    "using",
]

"""What an address is to the store: validated and normalised once, compared case-insensitively.

Addresses are validated with email-validator (no DNS lookups) and stored in its normalised form:
the domain lower-cased and IDNA-normalised (`Jörg@BÜCHER.de` -> `Jörg@bücher.de`), the local part as
the subscriber typed it, because a mail server may treat it case-sensitively. Two addresses are the
same subscriber when they differ only in case (`email_key`, the lower-cased address, is unique), so
`Jan@x.nl` unsubscribed also keeps `jan@x.nl` from being mailed.
"""

from __future__ import annotations

import re


def normalise_address(cell: str) -> str:
    """The normalised address, or ValueError with the reason a user can act on."""
    text = cell.strip()
    if not text:
        raise ValueError("empty address")
    if len([part for part in re.split(r"[\s,;|]+", text) if "@" in part]) > 1:
        raise ValueError(f"two addresses in one cell: {text!r}")
    from email_validator import EmailNotValidError, validate_email

    try:
        normalized = validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"invalid address {text!r}: {exc}") from None
    local, _, domain = normalized.rpartition("@")
    return f"{local}@{domain.lower()}"


def email_key(email: str) -> str:
    """Case-insensitive, and nothing more: casefold() would make fuß.de and fuss.de one address."""
    return email.lower()

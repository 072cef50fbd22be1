"""What an address is to the store: validated and normalised once, compared case-insensitively.

Addresses are validated with email-validator (no DNS lookups) and stored in its normalised form:
the domain lower-cased and IDNA-normalised (`Jörg@BÜCHER.de` -> `Jörg@bücher.de`), the local part as
the subscriber typed it, because a mail server may treat it case-sensitively. Two addresses are the
same subscriber when they differ only in case (`email_key`, the lower-cased address, is unique), so
`Jan@x.nl` unsubscribed also keeps `jan@x.nl` from being mailed.

An ordinary address (ASCII letters, digits and the usual punctuation before the `@`, ASCII labels and
a letters-only top-level domain after it, within the length limits) takes a fast path that gives
what email-validator gives it, at a tenth of the cost: a list import checks a million of them.
Anything else (Unicode, quoting, Punycode, `--` in a label, a reserved domain, a role mailbox such as
`Postmaster` that email-validator lower-cases, the limits) goes to email-validator itself, which also
gives every refusal its reason. tests/test_store_addresses.py holds the two to the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

_SEPARATORS = re.compile(r"[\s,;|]+")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{}~-]"  # RFC 5322 atext, less `|` (a separator of two addresses)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ORDINARY = re.compile(rf"({_ATEXT}+(?:\.{_ATEXT}+)*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_LOCAL_LIMIT = 64  # email-validator allows more unless strict; longer ones go to it
_ADDRESS_LIMIT = 254


@cache
def _validator() -> tuple[Callable[[str], str], type[Exception], frozenset[str] | None, frozenset[str]]:
    """email-validator, imported on first use: its check, its error, its reserved domains (each a
    top-level domain: one under it is reserved too; None if it ever names others) and the mailbox
    names it lower-cases."""
    from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
    from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

    def normalised(text: str) -> str:
        return validate_email(text, check_deliverability=False).normalized

    reserved = frozenset(SPECIAL_USE_DOMAIN_NAMES)
    return (
        normalised,
        EmailNotValidError,
        None if any("." in name for name in reserved) else reserved,  # top-level domains, or None
        frozenset(CASE_INSENSITIVE_MAILBOX_NAMES),
    )


def _ordinary(text: str) -> str | None:
    """The normalised address when `text` is ordinary (see the module's note), else None."""
    match = _ORDINARY.fullmatch(text)
    if match is None or len(text) > _ADDRESS_LIMIT:
        return None
    local, domain = match.groups()
    if len(local) > _LOCAL_LIMIT or "--" in domain:
        return None
    domain = domain.lower()
    _, _, reserved, role_mailboxes = _validator()
    if local.lower() in role_mailboxes:
        return None
    if reserved is None or domain.rpartition(".")[2] in reserved:
        return None
    return f"{local}@{domain}"


def normalise_address(cell: str) -> str:
    """The normalised address, or ValueError with the reason a user can act on."""
    text = cell.strip()
    if not text:
        raise ValueError("empty address")
    fast = _ordinary(text)  # one `@` and no separator: never two addresses
    if fast is not None:
        return fast
    if len([part for part in _SEPARATORS.split(text) if "@" in part]) > 1:
        raise ValueError(f"two addresses in one cell: {text!r}")
    validate, not_valid, _, _ = _validator()
    try:
        normalized = validate(text)
    except not_valid as exc:
        raise ValueError(f"invalid address {text!r}: {exc}") from None
    local, _, domain = normalized.rpartition("@")
    return f"{local}@{domain.lower()}"


def email_key(email: str) -> str:
    """Case-insensitive, and nothing more: casefold() would make fuß.de and fuss.de one address."""
    return email.lower()

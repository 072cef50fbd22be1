"""Who is posting, and whether they may: the client's address behind a proxy, what a consent keeps of
it, and the limits that keep the sign-up form from being turned against someone's inbox.

"Subscription bombing" signs a victim up at hundreds of forms at once, so that the confirmation
mails bury a mail that matters. Against it: a honeypot field, a minimum time to fill the form, a
proof-of-work challenge (altcha.py), at most `per_ip_per_hour` sign-ups from one address (fewer
without the challenge), and at most one confirmation mail per address an hour. The counts are rows
in the database (store/signups.py), so that every `serve` process holds the same limits.

The client address is the peer's (REMOTE_ADDR), unless the peer is one of `trusted_proxies`: then
the last address of X-Forwarded-For that is not itself a trusted proxy. Taking the first address
would believe whatever the client wrote into the header.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Sequence

from newsletter.project.settings import SignupSettings

MAIL_INTERVAL_HOURS = 1  # at most one confirmation mail per address in this time


def client_address(remote: str, forwarded: str, trusted: Sequence[str]) -> str:
    """The address that made the request, as far as the proxies we trust say; an IPv4 address in
    IPv6 clothing (`::ffff:192.0.2.1`, from a dual-stack listener) as the IPv4 address it is."""
    remote = _unmapped(remote)
    if not _is_trusted(remote, trusted):
        return remote
    hops = [_unmapped(hop.strip()) for hop in forwarded.split(",")[-20:] if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop if _is_address(hop) else remote
    return remote


def ip_record(address: str, settings: SignupSettings, secret: bytes) -> str:
    """What a consent keeps of the address: the address, a keyed hash, or nothing."""
    if settings.ip == "store":
        return address
    if settings.ip == "hash":
        return "hmac-sha256:" + limit_key(address, secret)[:32]
    return ""


def limit_key(value: str, secret: bytes) -> str:
    """How the limits' table names an IP or an address: keyed, so the table holds no personal data."""
    return hmac.new(secret, b"limit\n" + value.encode("utf-8"), hashlib.sha256).hexdigest()


def network(address: str) -> str:
    """One IPv6 user gets a /64 to pick addresses from: the limit counts the network."""
    try:
        ip = ipaddress.ip_address(_unmapped(address))
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _unmapped(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return str(mapped) if mapped is not None else address


def _is_trusted(address: str, trusted: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in trusted:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True

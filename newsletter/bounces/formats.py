"""What a returned or received message says: which addresses bounced, complained or unsubscribed.

One message, one `Report`, in this order of trust:

1. An ARF feedback report (RFC 5965, `multipart/report; report-type=feedback-report`): the reader
   marked the newsletter as spam. The reader is the one our List-Unsubscribe token in the returned
   message names (signed, and mailbox providers redact addresses but leave our header), else the
   report's Original-Rcpt-To, else the To of the returned message.
2. A bounce, as Mailman's flufl.bounce reads it: RFC 3464 DSNs and the non-standard formats of
   Exchange, Yahoo, Gmail, qmail, Postfix, Exim and more, without regexes of our own. flufl's
   `all_failures` gives the temporary and permanent failures; a DSN whose recipient block has a
   4.x.x Status (a full mailbox the server gave up on) is transient here whatever its Action says,
   because the next campaign may well arrive.
3. A mailed unsubscribe: the subject `unsubscribe <token>` that the List-Unsubscribe mailto: puts
   in, or just the word (`unsubscribe`, or `afmelden` as the Dutch pages ask for). A token that
   checks out names the reader. Without a valid one, the request still counts for its From address
   when it was sent to our unsubscribe address: a reader who writes "unsubscribe" wants out, and
   honouring a forged From costs its owner only a newsletter (the history says which way it was
   decided).

Anything else (an out-of-office reply, a message no detector understands) is not understood, with
the reason. Nothing here raises on a broken message.

Anyone can mail the bounce mailbox, so what a bounce or complaint says is not taken on its word: the
report also carries its `Evidence`, whatever in it can tie it to a message we sent — the token of the
VERP envelope sender it was returned to (`[bounces] address`), the Message-IDs of the returned message,
the unsubscribe tokens in its List-Unsubscribe headers. bounces/apply.py checks them against the send
log before it changes anyone's status.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses, parseaddr
from typing import Literal
from urllib.parse import unquote

Kind = Literal["bounce", "soft", "complaint", "unsubscribe"]
# The words the pages and the List-Unsubscribe mailto: ask readers to write, in English and Dutch
# (web/unsubscribe_pages.py: "stuur een e-mail met als onderwerp 'afmelden'"), and their variants.
UNSUBSCRIBE_WORDS = ("unsubscribe", "afmelden", "uitschrijven")
_UNSUBSCRIBE_SUBJECT = re.compile(
    rf"^\s*(?:(?:re|fwd?|aw|antw|wg)\s*:\s*)*(?:{'|'.join(UNSUBSCRIBE_WORDS)})\b\s*(\S*)", re.IGNORECASE
)
_TOKEN_IN_URL = re.compile(r"[?&]token=([A-Za-z0-9_.%-]+)")
_RECIPIENT_HEADERS = ("to", "cc", "delivered-to", "x-original-to", "envelope-to")
_QUOTED_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(<[^<>\s]{1,250}>)", re.IGNORECASE | re.MULTILINE)
_QUOTED_UNSUBSCRIBE = re.compile(rb"^list-unsubscribe:[^\n]*?[?&]token=([A-Za-z0-9_.%-]{1,200})", re.I | re.M)
_EVIDENCE_LIMIT = 20  # references of each kind read from one message: a real bounce has one or two
# flufl.bounce logs a detector's exception with its traceback before re-raising it; `classify`
# reports that failure itself, so the library's log must not reach a terminal through logging's
# last-resort handler. A NullHandler does exactly that and leaves an application's own logging alone.
logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Finding:
    kind: Kind
    address: str
    detail: str
    source: str


@dataclass(frozen=True)
class Evidence:
    """What in a returned message can tie it to a message we sent, each checked against the send log."""

    return_tokens: tuple[str, ...] = ()  # from the VERP address it was returned to
    message_ids: tuple[str, ...] = ()  # of the returned message
    unsubscribe_tokens: tuple[str, ...] = ()  # in the returned message's List-Unsubscribe


@dataclass
class Report:
    """What one message or notification said. `findings` empty and `problem` set: not understood;
    both empty: understood, nothing to do (`ignored` says why). `trusted`: it came authenticated (a
    webhook of the email service), so its findings need no `evidence`."""

    key: str
    findings: list[Finding] = field(default_factory=list)
    problem: str = ""
    ignored: str = ""
    evidence: Evidence = field(default_factory=Evidence)
    trusted: bool = False


# Reads a token: the address it names, None for one that unsubscribes nobody (a test send's), or
# ValueError with the reason it is not valid.
TokenReader = Callable[[str], str | None]


def parse(data: bytes) -> Message:
    """compat32: the message model flufl.bounce's detectors expect."""
    return email.message_from_bytes(data, policy=email.policy.compat32)


def report_key(message: Message, data: bytes) -> str:
    """The Message-ID when there is one, else a hash of the bytes: the same report read twice, from
    whichever file, gets the same key."""
    message_id = _header(message, "message-id").strip().strip("<>").strip()
    return f"message-id:{message_id}" if message_id else "sha256:" + hashlib.sha256(data).hexdigest()


def read_message(
    data: bytes, *, unsubscribe_to: Iterable[str], read: TokenReader, return_address: str | None = None
) -> Report:
    """`classify` the message in these bytes; one too deeply nested to parse is not understood."""
    try:
        message = parse(data)
    except RecursionError:
        return Report("sha256:" + hashlib.sha256(data).hexdigest(), problem="nested too deeply to read")
    return classify(message, data, unsubscribe_to=unsubscribe_to, read=read, return_address=return_address)


def classify(
    message: Message,
    data: bytes,
    *,
    unsubscribe_to: Iterable[str],
    read: TokenReader,
    return_address: str | None = None,
) -> Report:
    report = Report(report_key(message, data), evidence=evidence(message, data, return_address))
    if not message.keys():
        report.problem = "not an email message: it has no header lines"
        return report
    try:
        if _is_report(message, "feedback-report"):
            report.findings, report.problem = _complaint(message, read)
        elif (found := _bounce(message)) is not None:
            report.findings = found
            report.ignored = "" if found else "a delivery status report without failures (delivered, relayed)"
        elif _UNSUBSCRIBE_SUBJECT.match(_subject(message)):
            report.findings, report.problem, report.ignored = _unsubscribe(message, unsubscribe_to, read)
        else:
            report.problem = "no bounce, complaint or unsubscribe request found"
    except Exception as exc:  # a detector tripping over a broken message: report it, never crash
        report.findings, report.problem = [], f"the bounce detectors could not read it ({type(exc).__name__})"
    return report


def evidence(message: Message, data: bytes, return_address: str | None) -> Evidence:
    """The references in a returned message to a message of ours. The Message-IDs and List-Unsubscribe
    headers are looked for in the whole message, not only in a message/rfc822 part: qmail, Yahoo and
    Gmail quote the returned headers as plain text."""
    own = _header(message, "message-id").strip()
    message_ids = [found.decode("ascii", "replace") for found in _QUOTED_MESSAGE_ID.findall(data)]
    tokens = [unquote(found.decode("ascii")) for found in _QUOTED_UNSUBSCRIBE.findall(data)]
    return Evidence(
        return_tokens=_return_tokens(message, return_address),
        message_ids=tuple(dict.fromkeys(m for m in message_ids if m != own))[:_EVIDENCE_LIMIT],
        unsubscribe_tokens=tuple(dict.fromkeys(tokens))[:_EVIDENCE_LIMIT],
    )


def _return_tokens(message: Message, return_address: str | None) -> tuple[str, ...]:
    """The tokens of the VERP addresses (`local+token@domain` of `[bounces] address`) the message was
    delivered to, as its recipient headers say."""
    if return_address is None:
        return ()
    local, _, domain = return_address.lower().rpartition("@")
    pattern = re.compile(rf"{re.escape(local)}\+([0-9a-f]{{8,32}})@{re.escape(domain)}")
    found = [
        match.group(1)
        for name in _RECIPIENT_HEADERS
        for _, address in getaddresses(message.get_all(name, []))
        if (match := pattern.fullmatch(address.lower()))
    ]
    return tuple(dict.fromkeys(found))[:_EVIDENCE_LIMIT]


# -- complaints ----------------------------------------------------------------------------------


def _complaint(message: Message, read: TokenReader) -> tuple[list[Finding], str]:
    feedback = _first_part(message, "message/feedback-report")
    fields = _block(feedback) if feedback is not None else Message()
    feedback_type = _header(fields, "feedback-type") or "abuse"
    if feedback_type.lower() not in {"abuse", "fraud", "other", "virus"}:
        return [], f"a feedback report of type {feedback_type!r}, not a complaint"
    original = _returned_headers(message)
    reporter = _header(fields, "user-agent") or parseaddr(_header(message, "from"))[1]
    detail = f"ARF {feedback_type} report" + (f" by {reporter}" if reporter else "")
    token = _token(_header(original, "list-unsubscribe")) if original is not None else ""
    named = _read_quietly(read, token) if token else None
    addresses = [named] if named else []
    if not addresses:
        addresses = [a for _, a in getaddresses(fields.get_all("original-rcpt-to", [])) if "@" in a]
    if not addresses and original is not None:
        addresses = [a for _, a in getaddresses(original.get_all("to", [])) if "@" in a]
    if not addresses:
        return [], "a complaint that names no recipient (redacted, and no token of ours in it)"
    return [Finding("complaint", a, detail, "complaint") for a in addresses], ""


def _returned_headers(message: Message) -> Message | None:
    """The complained-about message's headers: a message/rfc822 part, or text/rfc822-headers."""
    part = _first_part(message, "message/rfc822")
    if part is not None:
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return inner[0]
    part = _first_part(message, "text/rfc822-headers")
    if part is not None:
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            return parse(payload)
    return None


# -- bounces -------------------------------------------------------------------------------------


def _bounce(message: Message) -> list[Finding] | None:
    """None: not a bounce flufl.bounce recognises; else its findings (maybe none)."""
    from flufl.bounce import all_failures

    if not _header(message, "from").strip():
        return None  # every bounce has a From; flufl's Yale detector fails on a message without one
    temporary, permanent = all_failures(message)
    if not temporary and not permanent:
        return None if not _is_report(message, "delivery-status") else []
    statuses = _dsn_statuses(message)
    findings: list[Finding] = []
    for raw in sorted(temporary | permanent):
        address = raw.decode("ascii", "replace")
        status = statuses.get(address.lower(), "")
        transient = (raw in temporary and raw not in permanent) or status.startswith("4")
        detail = f"{'transient' if transient else 'permanent'} failure" + (
            f", status {status}" if status else ""
        )
        findings.append(Finding("soft" if transient else "bounce", address, detail, "bounce"))
    return findings


def _dsn_statuses(message: Message) -> dict[str, str]:
    """Each recipient's Status code in the message/delivery-status parts, by lower-cased address."""
    statuses: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        for block in part.get_payload():
            if not isinstance(block, Message):
                continue
            status = _header(block, "status").split(" ", 1)[0]
            for name in ("final-recipient", "original-recipient"):
                address = _header(block, name).rpartition(";")[2].strip().strip("<>")
                if address and status:
                    statuses.setdefault(address.lower(), status)
    return statuses


# -- mailed unsubscribes ---------------------------------------------------------------------------


def _unsubscribe(
    message: Message, unsubscribe_to: Iterable[str], read: TokenReader
) -> tuple[list[Finding], str, str]:
    match = _UNSUBSCRIBE_SUBJECT.match(_subject(message))
    token = match.group(1) if match else ""
    reason = "no token in the subject"
    if token:
        try:
            address = read(token)
        except ValueError as exc:
            reason = str(exc)
        else:
            if address is None:
                return [], "", "the token of a test send: it unsubscribes nobody"
            return [Finding("unsubscribe", address, "mailed unsubscribe, token checked", "mailto")], "", ""
    wanted = {address.lower() for address in unsubscribe_to}
    recipients = {
        a.lower() for name in _RECIPIENT_HEADERS for _, a in getaddresses(message.get_all(name, []))
    }
    sender = parseaddr(_header(message, "from"))[1]
    if not wanted & recipients:
        return [], f"an unsubscribe request not sent to {', '.join(sorted(wanted))} ({reason})", ""
    if "@" not in sender:
        return [], f"an unsubscribe request without a From address ({reason})", ""
    detail = f"mailed unsubscribe from the From address; {reason}"
    return [Finding("unsubscribe", sender, detail, "mailto")], "", ""


def _token(list_unsubscribe: str) -> str:
    found = _TOKEN_IN_URL.search(list_unsubscribe)
    return unquote(found.group(1)) if found else ""


def _read_quietly(read: TokenReader, token: str) -> str | None:
    try:
        return read(token)
    except ValueError:
        return None


# -- message helpers -------------------------------------------------------------------------------


def _is_report(message: Message, report_type: str) -> bool:
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "")).lower() == report_type
    )


def _first_part(message: Message, content_type: str) -> Message | None:
    return next((part for part in message.walk() if part.get_content_type() == content_type), None)


def _block(part: Message) -> Message:
    """A message/feedback-report part's fields: the email package parses them as a sub-message."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    if isinstance(payload, str):
        return parse(payload.encode("utf-8", "replace"))
    return Message()


def _header(message: Message, name: str) -> str:
    value = message.get(name)
    return "" if value is None else str(value)


def _subject(message: Message) -> str:
    raw = _header(message, "subject")
    try:
        return str(email.header.make_header(email.header.decode_header(raw)))
    except (ValueError, LookupError, UnicodeError):
        return raw

"""The JSON that email services send about bounces and complaints, as the same `Report`s as mail.

- Amazon SES, through SNS: an SNS envelope (`Type: Notification`) whose `Message` is the SES
  notification as a JSON string, with `notificationType` (or, from a configuration set's event
  publishing, `eventType`) `Bounce` (`bounce.bounceType` Permanent, Transient or Undetermined, and
  `bouncedRecipients`) or `Complaint` (`complaint.complainedRecipients`). An SNS
  `SubscriptionConfirmation` is a `Confirmation`: the operator confirms it by opening its
  SubscribeURL (nothing here fetches it). SES JSON without the envelope (raw message delivery) is
  read too.
- Postmark: the bounce webhook (`RecordType: Bounce`, its `Type` mapped by `POSTMARK_TYPES`) and
  the spam complaint webhook (`RecordType: SpamComplaint`), each naming one `Email`.

A report's key is the service's id for the event, so the same notification delivered twice (a
retried webhook, a file imported again) is applied once. Its findings are `trusted`: a webhook is
authenticated by its secret, a file is one the operator exported from the service; mail, which
anyone can send, must match a message of ours instead (formats.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from newsletter.bounces.formats import Finding, Kind, Report
from newsletter.project.validation import printable

SERVICES = ("ses", "postmark")

# Postmark's bounce types (https://postmarkapp.com/developer/api/bounce-api#bounce-types): what each
# means for the address. Types not listed (auto-responders, address changes, challenge mails,
# blocks of the sending server, ...) say nothing about the reader and are ignored.
POSTMARK_TYPES: dict[str, Kind] = {
    "HardBounce": "bounce",
    "BadEmailAddress": "bounce",
    "SoftBounce": "soft",
    "Transient": "soft",
    "DnsError": "soft",
    "Unsubscribe": "unsubscribe",
    "SpamComplaint": "complaint",
}
# SES bounce types (https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html).
SES_BOUNCE_TYPES: dict[str, Kind] = {"Permanent": "bounce", "Transient": "soft", "Undetermined": "soft"}


@dataclass(frozen=True)
class Confirmation:
    """An SNS subscription (or unsubscription) to confirm by hand. Its topic and URL are logged and
    printed for the operator, so `_confirmation` makes one only of printable text."""

    kind: str
    topic: str
    url: str


def service_of(data: object) -> str | None:
    """Which service's JSON this is, or None."""
    if not isinstance(data, dict):
        return None
    if "RecordType" in data:
        return "postmark"
    if "TopicArn" in data or "notificationType" in data or "eventType" in data:
        return "ses"
    return None


def read(data: object, service: str) -> Report | Confirmation:
    """One notification (a JSON value already parsed) of `service`. One that cannot be read is a
    Report with its problem, never an exception, so that it does not stop the others of an import;
    RecursionError included: a value nested deeper than Python's stack, which writing it out (str)
    overflows."""
    if not isinstance(data, dict):
        return Report("", problem=f"not a {service} notification: a JSON object was expected")
    try:
        found = _ses(data) if service == "ses" else _postmark(data)
    except NotJson as exc:
        return Report("", problem=f"an SNS notification whose Message is not valid JSON: {exc}")
    except KeyError as exc:
        return Report("", problem=f"not the shape of a {service} notification: {exc} is missing")
    except (TypeError, ValueError, AttributeError, RecursionError):
        return Report(
            "", problem=f"not the shape of a {service} notification: a field holds the wrong kind of value"
        )
    if isinstance(found, Report):
        found.trusted = True
    return found


def _ses(envelope: dict[str, Any]) -> Report | Confirmation:
    kind = envelope.get("Type")
    if kind in {"SubscriptionConfirmation", "UnsubscribeConfirmation"}:
        return _confirmation(str(kind), envelope)
    if kind is not None and kind != "Notification":
        return Report("", problem=f"an SNS message of type {kind!r}")
    notice = _message(envelope["Message"]) if kind == "Notification" else envelope
    if not isinstance(notice, dict):
        return Report("", problem="an SNS notification whose Message is not an SES notification")
    what = notice.get("notificationType") or notice.get("eventType")
    fallback = envelope.get("MessageId") or notice.get("mail", {}).get("messageId") or ""
    if what == "Bounce":
        bounce = notice["bounce"]
        bounce_type = str(bounce.get("bounceType", ""))
        found = SES_BOUNCE_TYPES.get(bounce_type)
        if found is None:
            return Report("", problem=f"an SES bounce of unknown type {bounce_type!r}")
        findings = [
            _finding(found, recipient["emailAddress"], _ses_detail(bounce, recipient), "webhook:ses")
            for recipient in bounce["bouncedRecipients"]
        ]
        return _report(f"ses:{bounce.get('feedbackId') or fallback}", findings)
    if what == "Complaint":
        complaint = notice["complaint"]
        detail = f"SES complaint ({complaint.get('complaintFeedbackType') or 'no feedback type'})"
        findings = [
            _finding("complaint", recipient["emailAddress"], detail, "webhook:ses")
            for recipient in complaint["complainedRecipients"]
        ]
        return _report(f"ses:{complaint.get('feedbackId') or fallback}", findings)
    if what in {"Delivery", "Send", "Open", "Click", "Reject", "DeliveryDelay", "Rendering Failure"}:
        return Report(f"ses:{fallback}", ignored=f"an SES {what} notification: nothing to mark")
    return Report("", problem=f"an SES notification of type {what!r}")


class NotJson(ValueError):
    """An SNS Message that cannot be read as JSON; the text says why."""


def _message(text: object) -> object:
    """The SES notification that an SNS envelope carries as a JSON string. JSON nested deeper than
    Python's stack makes `json.loads` raise RecursionError, which is no ValueError: caught here, so
    that such a notification is one not understood, and the others of an import are still applied."""
    if not isinstance(text, str):
        raise TypeError("a Message that is not text")
    try:
        return json.loads(text)
    except RecursionError:
        raise NotJson("nested too deeply") from None
    except ValueError as exc:
        raise NotJson(str(exc)) from None


def _confirmation(kind: str, envelope: dict[str, Any]) -> Report | Confirmation:
    """SNS writes an ARN and an https URL; a line break or another control character in either is
    not from SNS, and would forge lines of the log and of `bounces import`'s output that show them."""
    topic, url = str(envelope.get("TopicArn", "")), str(envelope.get("SubscribeURL", ""))
    if printable(topic) != topic or printable(url) != url:
        return Report("", problem=f"an SNS {kind} whose TopicArn or SubscribeURL holds control characters")
    return Confirmation(kind, topic, url)


def _ses_detail(bounce: dict[str, Any], recipient: dict[str, Any]) -> str:
    parts = [f"SES {bounce.get('bounceType')}/{bounce.get('bounceSubType', '')}", recipient.get("status", "")]
    parts.append(recipient.get("diagnosticCode", ""))
    return ", ".join(str(part) for part in parts if part)


def _postmark(record: dict[str, Any]) -> Report:
    record_type = record["RecordType"]
    if record_type == "SpamComplaint":
        found: Kind | None = "complaint"
    elif record_type == "Bounce":
        found = POSTMARK_TYPES.get(str(record.get("Type", "")))
    else:
        return Report(f"postmark:{record.get('ID', '')}", ignored=f"a Postmark {record_type} record")
    key = f"postmark:{record['ID']}"
    if found is None:
        return Report(key, ignored=f"a Postmark {record.get('Type')} bounce: nothing to mark")
    detail = f"Postmark {record.get('Type')}: {record.get('Description') or record.get('Details') or ''}"
    return _report(key, [_finding(found, record["Email"], detail.rstrip(": "), "webhook:postmark")])


def _finding(kind: Kind, address: object, detail: str, source: str) -> Finding:
    if not isinstance(address, str):  # a list or null where the service writes one address
        raise TypeError("an address that is not text")
    return Finding(kind, parseaddr(address)[1] or address, detail, source)


def _report(key: str, findings: list[Finding]) -> Report:
    return Report(key, findings, problem="" if findings else "a notification that names no recipient")

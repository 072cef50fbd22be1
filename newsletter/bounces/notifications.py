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
    """An SNS subscription (or unsubscription) to confirm by hand."""

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
    """One notification (a JSON value already parsed) of `service`."""
    if not isinstance(data, dict):
        return Report("", problem=f"not a {service} notification: a JSON object was expected")
    try:
        found = _ses(data) if service == "ses" else _postmark(data)
    except KeyError as exc:
        return Report("", problem=f"not the shape of a {service} notification: {exc} is missing")
    except (TypeError, ValueError, AttributeError):
        return Report(
            "", problem=f"not the shape of a {service} notification: a field holds the wrong kind of value"
        )
    if isinstance(found, Report):
        found.trusted = True
    return found


def _ses(envelope: dict[str, Any]) -> Report | Confirmation:
    kind = envelope.get("Type")
    if kind in {"SubscriptionConfirmation", "UnsubscribeConfirmation"}:
        return Confirmation(
            str(kind), str(envelope.get("TopicArn", "")), str(envelope.get("SubscribeURL", ""))
        )
    if kind is not None and kind != "Notification":
        return Report("", problem=f"an SNS message of type {kind!r}")
    notice = json.loads(envelope["Message"]) if kind == "Notification" else envelope
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

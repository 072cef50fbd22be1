"""What the inbox shows before the email is opened (subject, preheader), and what the law and the
mailbox providers ask of the sender (postal address, sender domain, List-Unsubscribe target)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from newsletter.review.checks.document import Email, norm, visible_text
from newsletter.review.checks.registry import Finding, Rule, rule

SUBJECT_MAX_CHARS = 60  # about what desktop inboxes show; phones show less, so what matters goes first
# The narrowest common preview lines show 35-55 characters (Outlook for Windows 35, Yahoo apps 45-50,
# Outlook for iOS 55); a shorter preheader leaves room that the client fills with whatever text comes
# next in the email (Litmus, "The Ultimate Guide to Preview Text",
# https://www.litmus.com/blog/the-ultimate-guide-to-preview-text-support).
PREHEADER_MIN_CHARS = 40


@rule(
    {
        "subject-length": Rule("warning", "the subject has at most 60 characters"),
        "preheader-missing": Rule(
            "warning",
            "the preheader is set and is the email's first text (the template's first body element)",
        ),
        "preheader-same-as-subject": Rule("warning", "the preheader does not repeat the subject"),
        "preheader-short": (
            Rule(
                "warning",
                (
                    "the preheader has at least 40 characters: the narrowest previews show 35–55 "
                    "characters and fill what is left with the email's next text "
                    "([Litmus](https://www.litmus.com/blog/the-ultimate-guide-to-preview-text-support))"
                ),
            )
        ),
    }
)
def inbox(email: Email) -> Iterator[Finding]:
    subject = email.campaign.subject.strip()
    preheader = norm(email.campaign.preheader)
    if len(subject) > SUBJECT_MAX_CHARS:
        yield email.finding(
            "subject-length",
            "warning",
            "subject",
            f"the subject is {len(subject)} characters and inboxes cut it after about {SUBJECT_MAX_CHARS} "
            "(phones sooner); shorten it or put what matters first",
        )
    if not preheader:
        yield email.finding(
            "preheader-missing",
            "warning",
            "preheader",
            "the campaign has no preheader, so inboxes preview whatever text comes first; write one",
        )
        return
    if not norm(email.body.text_content()).startswith(preheader):
        yield email.finding(
            "preheader-missing",
            "warning",
            "email.html",
            "the email does not start with the preheader, so inboxes preview other text; "
            "keep {{ campaign.preheader }} in the hidden block the template's body starts with",
        )
    if preheader.casefold() == norm(subject).casefold():
        yield email.finding(
            "preheader-same-as-subject",
            "warning",
            "preheader",
            "the preheader repeats the subject, so the inbox shows it twice; use it to add to the subject",
        )
    elif len(preheader) < PREHEADER_MIN_CHARS:
        yield email.finding(
            "preheader-short",
            "warning",
            "preheader",
            f"the preheader is {len(preheader)} characters, so inboxes fill the rest of the preview line "
            f"with the email's first text; make it at least {PREHEADER_MIN_CHARS}",
        )


@rule(
    {
        "settings-postal-address": Rule(
            "error", "`publisher.postal_address` is in the visible HTML and in the text part"
        ),
        "settings-sender-domain": Rule(
            "warning", ("`sender.address` is on the site's domain or a subdomain (DMARC alignment)")
        ),
        "settings-list-unsubscribe": (
            Rule(
                "warning",
                (
                    "`unsubscribe_url` is `https://` on the site's own domain; it will be the "
                    "List-Unsubscribe target once sending exists, which the check cannot see yet"
                ),
            )
        ),
    }
)
def settings(email: Email) -> Iterator[Finding]:
    yield from _postal_address(email)
    yield from _sender_domain(email)
    yield from _list_unsubscribe(email)


def _postal_address(email: Email) -> Iterator[Finding]:
    address = norm(email.settings.publisher.postal_address)
    if address not in visible_text(email.body):
        yield email.finding(
            "settings-postal-address",
            "error",
            "email.html",
            f"the publisher's postal address ({address}) is not in the visible text of the email, and "
            "EU law requires it in commercial email; print {{ settings.publisher.postal_address }} in "
            "the footer",
        )
    if address not in norm(email.rendered.text):
        yield email.finding(
            "settings-postal-address",
            "error",
            "email.txt",
            f"the text part does not show the publisher's postal address ({address}); "
            "print {{ settings.publisher.postal_address }} in its footer",
        )


def _sender_domain(email: Email) -> Iterator[Finding]:
    domain = email.settings.sender.address.rsplit("@", 1)[-1].lower().rstrip(".")
    site = email.settings.site_host
    if not _same_organisation(domain, site):
        yield email.finding(
            "settings-sender-domain",
            "warning",
            "newsletter.toml",
            f"the sender address is on {domain}, not on the site's domain {site}, but DMARC alignment "
            "(which Gmail and Yahoo require of bulk senders) needs a From domain that you sign mail for; "
            f"send from an address @{site} or a subdomain",
        )


def _list_unsubscribe(email: Email) -> Iterator[Finding]:
    settings = email.settings
    unsubscribe = urlsplit(settings.unsubscribe_url)
    if unsubscribe.scheme != "https" or not settings.is_own_site(settings.unsubscribe_url):
        yield email.finding(
            "settings-list-unsubscribe",
            "warning",
            "newsletter.toml",
            f"unsubscribe_url is not an https:// page on {settings.site_host}, and sending will make it "
            "the List-Unsubscribe target, whose one-click POST (RFC 8058) you must be able to handle; "
            "point it at your own site (this check sees the URL only, not the header)",
        )


@rule(
    {
        "column-cleanup": Rule(
            "warning",
            "a teaser's column file needed no cleaning up: no page chrome copied from a blog (site "
            "name, menu, link questions) had to be dropped above its title",
        )
    }
)
def column_cleanup(email: Email) -> Iterator[Finding]:
    for number, teaser in enumerate(email.campaign.teasers, start=1):
        for warning in teaser.warnings:
            yield email.finding("column-cleanup", "warning", f"teaser-{number}", warning)


def _same_organisation(domain: str, site: str) -> bool:
    """Relaxed DMARC alignment compares organisational domains; without the public suffix list, a
    domain and its subdomains (either way round) stand in for one organisation."""
    return domain == site or domain.endswith("." + site) or site.endswith("." + domain)

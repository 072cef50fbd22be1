"""The lint rules of `newsletter check`: what to fix before a rendered campaign is sent.

Every rule looks at one `Rendered` campaign (its HTML, text part and link inventory) and the project
settings, and returns findings: a stable rule id, a severity, where in the email, and one sentence on
what is wrong and what to do. The rules read no campaign files, write nothing and use no network, so
the preview server can run them on every reload; `check_project` loads and renders campaigns for the
command the way `build` does.

Severities: an *error* is an email that is broken, unlawful or loses money for some readers (a link
that goes nowhere, no unsubscribe link or postal address, a shop fallback in a live campaign, text on
a button most readers cannot make out, an image without alt text); a *warning* is a worse inbox
experience or a deliverability risk that a person should weigh. `RULES` lists every rule for the docs
and for consumers of `newsletter check --format json`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from newsletter.errors import NewsletterError
from newsletter.payments.lock import sells_through_stripe
from newsletter.render.links import Link, LinkKind
from newsletter.render.renderer import GMAIL_CLIP_BYTES
from newsletter.review.client_support import FEATURES, Feature

if TYPE_CHECKING:
    from newsletter.project.campaign import Campaign
    from newsletter.project.settings import Project, Settings
    from newsletter.render.renderer import Rendered

Severity = Literal["error", "warning"]

SIZE_WARNING_BYTES = 80 * 1024  # leaves room for what the sending platform adds (tracking, merge fields)
SIZE_ERROR_BYTES = GMAIL_CLIP_BYTES  # Gmail hides everything after 102 KB, the footer included
SUBJECT_MAX_CHARS = 60  # about what desktop inboxes show; phones show less, so what matters goes first
# The narrowest common preview lines show 35-55 characters (Outlook for Windows 35, Yahoo apps 45-50,
# Outlook for iOS 55); a shorter preheader leaves room that the client fills with whatever text comes
# next in the email (Litmus, "The Ultimate Guide to Preview Text",
# https://www.litmus.com/blog/the-ultimate-guide-to-preview-text-support).
PREHEADER_MIN_CHARS = 40
CONTRAST_AA = 4.5  # WCAG 2 success criterion 1.4.3, normal text
CONTRAST_AA_LARGE = 3.0  # large text: at least 18pt, or 14pt bold
UTM_REQUIRED = ("utm_source", "utm_medium", "utm_campaign")
PLACEHOLDER_DOMAINS = ("example.com", "example.org", "example.net")  # RFC 2606
PLACEHOLDER_TLDS = (".example", ".invalid", ".test", ".localhost")  # RFC 2606 / RFC 6761
ORDER_KINDS = (LinkKind.ORDER_SHOP, LinkKind.ORDER_STRIPE_TEST, LinkKind.ORDER_STRIPE_LIVE)

RULES: dict[str, str] = {
    "html-size": "HTML above 80 KB is a warning; above 102 KB, where Gmail clips the message, an error",
    "img-alt": 'every <img> has alt text; alt="" only on an unlinked image with role="presentation"',
    "img-src": "every <img> src is an absolute https:// URL",
    "img-width": "every <img> has a width attribute in pixels (Outlook for Windows needs it)",
    "book-cover-missing": "every book's cover_url appears as an <img src> (warning)",
    "link-https": "every link is an absolute https:// URL (mailto: and tel: are allowed)",
    "link-placeholder": "no empty, '#', TODO or example.com/.org/.net link",
    "link-utm": "own-site links carry utm_source, utm_medium and utm_campaign (warning; off when [utm] is)",
    "unsubscribe-missing": "the unsubscribe link is in the HTML and its URL in the text part",
    "order-link-fallback": (
        "in a project that sells through Stripe, no order button falls back to the shop page "
        "(warning; error in a live project)"
    ),
    "order-link-test-mode": "a live project has no Stripe test-mode link",
    "subject-length": "the subject is at most 60 characters (warning)",
    "preheader-missing": "the preheader is set and is the first text of the email (warning)",
    "preheader-same-as-subject": "the preheader adds to the subject instead of repeating it (warning)",
    "preheader-short": "the preheader has at least 40 characters to fill the inbox preview line (warning)",
    "settings-postal-address": "publisher.postal_address appears in the HTML and in the text part",
    "settings-sender-domain": "sender.address is on the site's domain or a subdomain: DMARC (warning)",
    "settings-list-unsubscribe": (
        "unsubscribe_url, the future List-Unsubscribe target, is https on the site's own domain (warning)"
    ),
    "html-lang": "<html lang> is set to the campaign's locale (warning)",
    "button-contrast": (
        "order button text against its background: below 4.5:1 (WCAG AA; 3:1 for large text) "
        "is a warning, below 3:1 an error"
    ),
    "heading-order": "headings h1-h6 never skip a level on the way down, e.g. h2 then h4 (warning)",
    "css-unsupported": "no CSS that major clients drop, per caniemail.com (client_support.py) (warning)",
}


@dataclass(frozen=True)
class Finding:
    rule: str  # a key of RULES
    severity: Severity
    campaign: str  # campaign id
    where: str  # block, element or line: "book-1", "<img> #2 (src=...)", "email.txt", "newsletter.toml"
    message: str  # one sentence: what is wrong and what to do


def check_campaign(rendered: Rendered, project: Project) -> list[Finding]:
    """All rules over one rendered campaign; errors first, then by rule and where."""
    email = _Email(rendered, project, _parse(rendered.html))
    findings = {finding for rule in _RULE_FUNCTIONS for finding in rule(email)}
    return sorted(findings, key=_order)


def _order(finding: Finding) -> tuple[Any, ...]:
    natural = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", finding.where)]
    return (finding.severity != "error", finding.rule, natural, finding.message)


# -- a whole project, for the command ------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """The findings of one campaign."""

    campaign: str
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")


def check_project(project: Project, ids: Sequence[str] = ()) -> tuple[list[Checked], list[NewsletterError]]:
    """Load and render the named campaigns (all when none are named) as `build` would, without writing,
    and check each. A campaign that cannot be loaded or rendered is a user error, not a finding."""
    from newsletter.pipeline import render_campaigns

    rendered, errors = render_campaigns(project, ids)
    return [Checked(one.campaign.id, tuple(check_campaign(one, project))) for one in rendered], errors


def to_json(checked: Iterable[Checked]) -> dict[str, Any]:
    """The stable `--format json` document (version 1)."""
    return {
        "version": 1,
        "campaigns": [
            {
                "id": c.campaign,
                "errors": c.errors,
                "warnings": c.warnings,
                "findings": [
                    {"rule": f.rule, "severity": f.severity, "where": f.where, "message": f.message}
                    for f in c.findings
                ],
            }
            for c in checked
        ],
    }


# -- what every rule looks at --------------------------------------------------------------------


def _parse(html: str) -> Any:
    from lxml import html as lxml_html  # lxml is loaded by premailer anyway; not for `--help`

    return lxml_html.document_fromstring(html)


class _Email:
    """One rendered campaign with its parsed HTML. Conditional comments (MRML's Outlook tables) are
    comments to the parser, so no rule ever looks inside them."""

    def __init__(self, rendered: Rendered, project: Project, root: Any) -> None:
        self.rendered = rendered
        self.project = project
        self.root = root
        body = root.find("body")
        self.body = body if body is not None else root

    @property
    def campaign(self) -> Campaign:
        return self.rendered.campaign

    @property
    def settings(self) -> Settings:
        return self.project.settings

    @property
    def live(self) -> bool:
        stripe = self.settings.stripe
        return stripe is not None and stripe.live

    def finding(self, rule: str, severity: Severity, where: str, message: str) -> Finding:
        assert rule in RULES, rule
        return Finding(rule=rule, severity=severity, campaign=self.campaign.id, where=where, message=message)

    def links(self) -> list[Link]:
        seen: set[tuple[str, str]] = set()
        kept = []
        for link in self.rendered.links:
            if (link.block, link.url) not in seen:
                seen.add((link.block, link.url))
                kept.append(link)
        return kept

    def book_sku(self, block: str) -> str:
        number = block.removeprefix("book-")
        books = self.campaign.books
        return books[int(number) - 1].sku if number.isdigit() and 0 < int(number) <= len(books) else block


Rule = Callable[[_Email], Iterator[Finding]]


def _norm(text: str) -> str:
    return " ".join(text.split())


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_element(node: Any) -> bool:
    return isinstance(node.tag, str)  # comments and processing instructions have a function as tag


def _declarations(style: str) -> list[tuple[str, str]]:
    """`color: #fff; background:#000 !important` -> [("color", "#fff"), ("background", "#000")]."""
    pairs = []
    for part in re.sub(r"/\*.*?\*/", "", style, flags=re.DOTALL).split(";"):
        name, colon, value = part.partition(":")
        if colon and name.strip():
            value = re.sub(r"\s*!important\s*$", "", value.strip(), flags=re.I)
            pairs.append((name.strip().lower(), value))
    return pairs


def _style(element: Any) -> dict[str, str]:
    return dict(_declarations(element.get("style") or ""))  # the last declaration wins, as in CSS


def _hidden(element: Any) -> bool:
    return element.tag in ("style", "script", "head", "title") or re.sub(
        r"\s", "", _style(element).get("display", "")
    ).lower().startswith("none")


def _visible_text(element: Any) -> str:
    """The text a reader sees: no hidden preheader, no style blocks."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if not _hidden(node):
            parts.append(node.text or "")
            for child in node:
                if _is_element(child):
                    walk(child)
                parts.append(child.tail or "")

    walk(element)
    return _norm(" ".join(parts))


def _where_element(element: Any, number: int) -> str:
    """`<p> #12 (class=price)`, or `<div> #3 ("its text…")` for an element without a class."""
    css_class = _norm(element.get("class") or "")
    text = _norm(element.text_content()) if element.tag not in ("html", "body", "head") else ""
    detail = f"class={_short(css_class, 40)}" if css_class else (f'"{_short(text, 30)}"' if text else "")
    return f"<{element.tag}> #{number}" + (f" ({detail})" if detail else "")


# -- size ------------------------------------------------------------------------------------------


def _html_size(email: _Email) -> Iterator[Finding]:
    size = email.rendered.html_bytes
    if size > SIZE_ERROR_BYTES:
        yield email.finding(
            "html-size",
            "error",
            "email.html",
            f"the HTML is {size / 1024:.1f} KB: Gmail clips messages above 102 KB and hides the rest, "
            "unsubscribe link included; shorten excerpts or send fewer teasers or books",
        )
    elif size > SIZE_WARNING_BYTES:
        yield email.finding(
            "html-size",
            "warning",
            "email.html",
            f"the HTML is {size / 1024:.1f} KB, close to Gmail's 102 KB clipping limit once the sending "
            "platform adds its tracking; shorten excerpts to stay under 80 KB",
        )


# -- images ----------------------------------------------------------------------------------------


def _images(email: _Email) -> Iterator[Finding]:
    for number, img in enumerate(email.body.iter("img"), start=1):
        src = (img.get("src") or "").strip()
        where = f"<img> #{number} (src={_short(src)})"
        yield from _image_alt(email, img, where)
        parts = urlsplit(src)
        if parts.scheme.lower() != "https" or not parts.hostname:
            yield email.finding(
                "img-src",
                "error",
                where,
                "the image is not an absolute https:// URL, so mail clients cannot load it or warn "
                "about it; use the full https:// address",
            )
        if not re.fullmatch(r"\s*\d+\s*(px)?\s*", img.get("width") or ""):
            yield email.finding(
                "img-width",
                "warning",
                where,
                "the image has no width attribute in pixels, so Outlook for Windows shows it at the size "
                'of the file; give it a width (mj-image width="...px")',
            )


def _image_alt(email: _Email, img: Any, where: str) -> Iterator[Finding]:
    """alt="" is right for a purely decorative image, but only when the image says so itself with
    role="presentation" (or role="none"): an empty alt on a linked image leaves the link without a
    name, and an empty alt by accident is indistinguishable from one by intent otherwise."""
    alt = img.get("alt")
    if alt is None:
        yield email.finding(
            "img-alt",
            "error",
            where,
            "the image has no alt attribute, so screen readers read out its file name and clients that "
            "block images show nothing; describe the image in alt",
        )
        return
    if alt.strip():
        return
    linked = any(a.tag == "a" and a.get("href") for a in img.iterancestors())
    decorative = (img.get("role") or "").strip().lower() in ("presentation", "none")
    if linked:
        yield email.finding(
            "img-alt",
            "error",
            where,
            "the image is a link with empty alt text, so the link has no name for screen readers; "
            "describe where the link goes in alt",
        )
    elif not decorative:
        yield email.finding(
            "img-alt",
            "error",
            where,
            "the image has empty alt text: describe it, or mark a purely decorative image "
            'with role="presentation"',
        )


def _book_covers(email: _Email) -> Iterator[Finding]:
    sources = {(img.get("src") or "").strip() for img in email.body.iter("img")}
    for number, book in enumerate(email.campaign.books, start=1):
        if book.cover_url not in sources:
            yield email.finding(
                "book-cover-missing",
                "warning",
                f"book-{number}",
                f"the cover of {book.sku} ({book.cover_url}) is not in the email; "
                "the book template should show {{ book.cover_url }} as an image",
            )


# -- links -------------------------------------------------------------------------------------------


def _placeholder(url: str) -> str | None:
    """Why `url` is a placeholder rather than an address, or None."""
    if not url:
        return "the link is empty"
    if url == "#":
        return "the link is only '#'"
    if "TODO" in url:
        return "the link contains TODO"
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if any(host == d or host.endswith("." + d) for d in PLACEHOLDER_DOMAINS) or host.endswith(
        PLACEHOLDER_TLDS
    ):
        return f"the link goes to {host}, a placeholder domain"
    return None


def _links(email: _Email) -> Iterator[Finding]:
    utm = email.settings.utm.enabled
    for link in email.links():
        url = link.url.strip()
        scheme = urlsplit(url).scheme.lower()
        problem = _placeholder(url)
        if problem:
            shown = f" ({_short(url)})" if url not in ("", "#") else ""
            yield email.finding(
                "link-placeholder",
                "error",
                link.block,
                f"{problem}{shown}; fill in the real https:// address",
            )
        elif scheme in ("mailto", "tel"):
            continue
        elif scheme != "https" or not urlsplit(url).hostname:
            reason = (
                "uses http://, which clients flag as unsafe"
                if scheme == "http"
                else "is not an absolute https:// URL, so it goes nowhere from an inbox"
            )
            yield email.finding(
                "link-https", "error", link.block, f"{_short(url)} {reason}; use the full https:// address"
            )
        elif utm and link.kind is LinkKind.SITE and email.settings.is_own_site(url):
            query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
            missing = [key for key in UTM_REQUIRED if not query.get(key)]
            if missing:
                yield email.finding(
                    "link-utm",
                    "warning",
                    link.block,
                    f"{_short(url)} goes to the site without {', '.join(missing)}, so visits from it are not "
                    "counted for this campaign; add them to the URL",
                )


def _unsubscribe(email: _Email) -> Iterator[Finding]:
    urls = [link.url for link in email.rendered.links if link.kind is LinkKind.UNSUBSCRIBE]
    urls = urls or [email.settings.unsubscribe_url]
    hrefs = {(a.get("href") or "").strip() for a in email.body.iter("a")}
    if not any(url in hrefs for url in urls):
        yield email.finding(
            "unsubscribe-missing",
            "error",
            "email.html",
            f"the HTML has no link to the unsubscribe page ({urls[0]}); the law and the mailbox providers "
            "require one in every newsletter: link {{ unsubscribe_url }} in the footer",
        )
    if not any(url in email.rendered.text for url in urls):
        yield email.finding(
            "unsubscribe-missing",
            "error",
            "email.txt",
            f"the text part does not show the unsubscribe address ({urls[0]}); "
            "write {{ unsubscribe_url }} in its footer",
        )


# -- order links -----------------------------------------------------------------------------------


def _order_links(email: _Email) -> Iterator[Finding]:
    """The shop page is a fine order button for a project that does not sell through Stripe; only a
    project with a [stripe] section or a lock file expects Payment Links (as `build` warns)."""
    if sells_through_stripe(email.project):
        severity: Severity = "error" if email.live else "warning"
        for link in email.links():
            if link.kind is LinkKind.ORDER_SHOP:
                yield email.finding(
                    "order-link-fallback",
                    severity,
                    link.block,
                    f"{email.book_sku(link.block)} has no Stripe Payment Link for this campaign, so its "
                    "order button goes to the shop page; run `newsletter links sync`"
                    + (" with the live key" if email.live else ""),
                )
    if email.live:
        for link in email.links():
            if link.kind is LinkKind.ORDER_STRIPE_TEST or _stripe_test_url(link.url):
                yield email.finding(
                    "order-link-test-mode",
                    "error",
                    link.block,
                    f"{_short(link.url)} is a Stripe test-mode link in a live campaign: nobody can pay with "
                    "it; run `newsletter links sync` with the live key",
                )


def _stripe_test_url(url: str) -> bool:
    parts = urlsplit(url)
    return (parts.hostname or "").lower() == "buy.stripe.com" and parts.path.startswith("/test_")


# -- the inbox -------------------------------------------------------------------------------------


def _inbox(email: _Email) -> Iterator[Finding]:
    subject = email.campaign.subject.strip()
    preheader = _norm(email.campaign.preheader)
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
    if not _norm(email.body.text_content()).startswith(preheader):
        yield email.finding(
            "preheader-missing",
            "warning",
            "email.html",
            "the email does not start with the preheader, so inboxes preview other text; "
            "keep <mj-preview>{{ campaign.preheader }}</mj-preview> in the template's head",
        )
    if preheader.casefold() == _norm(subject).casefold():
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


# -- settings --------------------------------------------------------------------------------------


def _settings(email: _Email) -> Iterator[Finding]:
    settings = email.settings
    address = _norm(settings.publisher.postal_address)
    if address not in _visible_text(email.body):
        yield email.finding(
            "settings-postal-address",
            "error",
            "email.html",
            f"the publisher's postal address ({address}) is not in the visible text of the email, and "
            "EU law requires it in commercial email; print {{ settings.publisher.postal_address }} in "
            "the footer",
        )
    if address not in _norm(email.rendered.text):
        yield email.finding(
            "settings-postal-address",
            "error",
            "email.txt",
            f"the text part does not show the publisher's postal address ({address}); "
            "print {{ settings.publisher.postal_address }} in its footer",
        )
    domain = settings.sender.address.rsplit("@", 1)[-1].lower().rstrip(".")
    site = settings.site_host
    if not _same_organisation(domain, site):
        yield email.finding(
            "settings-sender-domain",
            "warning",
            "newsletter.toml",
            f"the sender address is on {domain}, not on the site's domain {site}, but DMARC alignment "
            "(which Gmail and Yahoo require of bulk senders) needs a From domain that you sign mail for; "
            f"send from an address @{site} or a subdomain",
        )
    unsubscribe = urlsplit(settings.unsubscribe_url)
    if unsubscribe.scheme != "https" or not settings.is_own_site(settings.unsubscribe_url):
        yield email.finding(
            "settings-list-unsubscribe",
            "warning",
            "newsletter.toml",
            f"unsubscribe_url is not an https:// page on {site}, and sending will make it the "
            "List-Unsubscribe target, whose one-click POST (RFC 8058) you must be able to handle; "
            "point it at your own site (this check sees the URL only, not the header)",
        )


def _same_organisation(domain: str, site: str) -> bool:
    """Relaxed DMARC alignment compares organisational domains; without the public suffix list, a
    domain and its subdomains (either way round) stand in for one organisation."""
    return domain == site or domain.endswith("." + site) or site.endswith("." + domain)


# -- accessibility ---------------------------------------------------------------------------------


def _html_lang(email: _Email) -> Iterator[Finding]:
    lang = (email.root.get("lang") or "").strip()
    locale = email.campaign.locale
    if not lang or lang.lower() == "und":
        yield email.finding(
            "html-lang",
            "warning",
            "<html>",
            "the email declares no language, so screen readers may read it with the wrong voice; "
            f'set <mjml lang="{{{{ campaign.locale }}}}"> ({locale})',
        )
    elif lang.split("-")[0].lower() != locale:
        yield email.finding(
            "html-lang",
            "warning",
            "<html>",
            f'the email declares lang="{lang}" but the campaign is in "{locale}", so screen readers use the '
            'wrong voice; set <mjml lang="{{ campaign.locale }}">',
        )


def _heading_order(email: _Email) -> Iterator[Finding]:
    """Like axe-core's `heading-order`: the first heading may have any level, and each next heading
    may go deeper by one level at most (going back up any number of levels is fine)."""
    previous = 0
    counts: dict[str, int] = {}
    for heading in email.body.iter("h1", "h2", "h3", "h4", "h5", "h6"):
        level = int(heading.tag[1])
        counts[heading.tag] = counts.get(heading.tag, 0) + 1
        if previous and level > previous + 1:
            text = _short(_norm(heading.text_content()), 40)
            yield email.finding(
                "heading-order",
                "warning",
                f"<{heading.tag}> #{counts[heading.tag]} ({text})",
                f"an h{level} follows an h{previous}, so screen reader users miss a level; "
                f"use an h{previous + 1} here (style it as you like)",
            )
        previous = level


# Colours: enough CSS to read what MJML and templates write inline.
NAMED_COLOURS = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "green": (0, 128, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "silver": (192, 192, 192),
    "maroon": (128, 0, 0),
    "navy": (0, 0, 128),
    "purple": (128, 0, 128),
    "teal": (0, 128, 128),
    "olive": (128, 128, 0),
    "lime": (0, 255, 0),
    "aqua": (0, 255, 255),
    "fuchsia": (255, 0, 255),
    "orange": (255, 165, 0),
}
RGB = tuple[int, int, int]
COLOUR = re.compile(
    r"#[0-9a-f]{6}\b|#[0-9a-f]{3}\b|rgba?\([^)]*\)|\btransparent\b|\b(?:" + "|".join(NAMED_COLOURS) + r")\b",
    re.I,
)


def _colour(value: str) -> RGB | None:
    """The first colour in a CSS value (None for none, or for transparent)."""
    match = COLOUR.search(re.sub(r"url\([^)]*\)", "", value))
    if not match:
        return None
    token = match.group(0).lower()
    if token.startswith("#"):
        digits = token[1:] if len(token) == 7 else "".join(c * 2 for c in token[1:])
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    if token.startswith("rgb"):
        numbers = re.findall(r"[\d.]+%?", token)
        if len(numbers) < 3 or (len(numbers) > 3 and float(numbers[3].rstrip("%")) == 0):
            return None
        channels = [float(n[:-1]) * 2.55 if n.endswith("%") else float(n) for n in numbers[:3]]
        return (round(channels[0]), round(channels[1]), round(channels[2]))
    return NAMED_COLOURS.get(token)


def _text_colour(element: Any) -> RGB | None:
    for node in (element, *element.iterancestors()):
        colour = _colour(_style(node).get("color", ""))
        if colour:
            return colour
    return None


def _background_colour(element: Any) -> RGB | None:
    for node in (element, *element.iterancestors()):
        style = _style(node)
        for value in (style.get("background-color"), style.get("background"), node.get("bgcolor")):
            colour = _colour(value or "")
            if colour:
                return colour
    return None


def _luminance(rgb: RGB) -> float:
    """Relative luminance as WCAG 2 defines it (https://www.w3.org/TR/WCAG21/#dfn-relative-luminance)."""
    linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: RGB, b: RGB) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _large_text(element: Any) -> bool:
    """WCAG's large text: at least 18pt (24px), or 14pt (about 18.7px) when bold."""
    style = _style(element)
    size = re.fullmatch(r"\s*([\d.]+)\s*(px|pt)\s*", style.get("font-size", ""))
    if not size:
        return False
    points = float(size.group(1)) * (0.75 if size.group(2) == "px" else 1)
    weight = style.get("font-weight", "").strip().lower()
    bold = weight in ("bold", "bolder") or (weight.isdigit() and int(weight) >= 700)
    return points >= 18 or (bold and points >= 14)


def _button_contrast(email: _Email) -> Iterator[Finding]:
    """The order buttons: each link with text whose target is a book's order link. A button whose
    colours cannot be read from the inline styles is skipped, not guessed."""
    worst: dict[str, tuple[float, bool, RGB, RGB]] = {}
    orders = {link.url: link.block for link in email.links() if link.kind in ORDER_KINDS}
    for anchor in email.body.iter("a"):
        block = orders.get((anchor.get("href") or "").strip())
        if block is None or not _norm(anchor.text_content()):
            continue
        text, background = _text_colour(anchor), _background_colour(anchor)
        if text is None or background is None:
            continue
        ratio = contrast_ratio(text, background)
        if block not in worst or ratio < worst[block][0]:
            worst[block] = (ratio, _large_text(anchor), text, background)
    for block, (ratio, large, text, background) in worst.items():
        needed = CONTRAST_AA_LARGE if large else CONTRAST_AA
        if ratio >= needed:
            continue
        shown = math.floor(ratio * 100) / 100
        yield email.finding(
            "button-contrast",
            "error" if ratio < CONTRAST_AA_LARGE else "warning",
            block,
            f"the order button's text {_hex(text)} on {_hex(background)} has a contrast of {shown:.2f}:1, "
            f"below the {needed:g}:1 that WCAG AA asks for; change colours.button_text or colours.primary",
        )


def _hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


# -- client support --------------------------------------------------------------------------------


def _css_support(email: _Email) -> Iterator[Finding]:
    counts: dict[str, int] = {}
    for element in email.root.iter():
        if not _is_element(element):
            continue
        counts[element.tag] = counts.get(element.tag, 0) + 1
        if element.tag == "style":
            css = re.sub(r"/\*.*?\*/", "", element.text or "", flags=re.DOTALL)
            for block in re.findall(r"\{([^{}]*)\}", css):
                for feature in _unsupported(_declarations(block), has_bgcolor=False):
                    yield _css_finding(email, feature, f"<style> #{counts['style']}")
        elif element.get("style"):
            declarations = _declarations(element.get("style"))
            for feature in _unsupported(declarations, has_bgcolor=bool(element.get("bgcolor"))):
                yield _css_finding(email, feature, _where_element(element, counts[element.tag]))


def _unsupported(declarations: list[tuple[str, str]], *, has_bgcolor: bool) -> Iterator[Feature]:
    normalised = [f"{name}:{_norm(value).lower()}" for name, value in declarations]
    coloured = has_bgcolor or any(
        _colour(value) is not None
        for name, value in declarations
        if name in ("background", "background-color")
    )
    for feature in FEATURES:
        if feature.needs_background_colour and coloured:
            continue
        if any(feature.pattern.search(declaration) for declaration in normalised):
            yield feature


def _css_finding(email: _Email, feature: Feature, where: str) -> Finding:
    return email.finding(
        "css-unsupported",
        "warning",
        where,
        f"{feature.name} is dropped by {feature.dropped_by} ({feature.source}, tested {feature.tested}); "
        f"{feature.fix}",
    )


_RULE_FUNCTIONS: tuple[Rule, ...] = (
    _html_size,
    _images,
    _book_covers,
    _links,
    _unsubscribe,
    _order_links,
    _inbox,
    _settings,
    _html_lang,
    _button_contrast,
    _heading_order,
    _css_support,
)

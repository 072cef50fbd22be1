"""Links: every one goes somewhere real over https, the unsubscribe link is there, and the order
buttons take readers to a checkout that can take their money."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

from newsletter.payments.lock import sells_through_stripe
from newsletter.render.links import LinkKind
from newsletter.render.order_policy import OrderIssue, OrderLinkProblem, order_link_problems
from newsletter.review.checks.document import Email, short
from newsletter.review.checks.registry import Finding, Rule, rule

UTM_REQUIRED = ("utm_source", "utm_medium", "utm_campaign")
PLACEHOLDER_DOMAINS = ("example.com", "example.org", "example.net")  # RFC 2606
PLACEHOLDER_TLDS = (".example", ".invalid", ".test", ".localhost")  # RFC 2606 / RFC 6761
ORDER_KINDS = (LinkKind.ORDER_SHOP, LinkKind.ORDER_STRIPE_TEST, LinkKind.ORDER_STRIPE_LIVE)


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


@rule(
    {
        "link-https": Rule(
            "error", ("every link is an absolute `https://` URL; `mailto:` and `tel:` are fine")
        ),
        "link-placeholder": Rule(
            "error",
            ("no empty, `#`, `TODO` or example.com/.org/.net (or `.test`, `.example`, `.invalid`) link"),
        ),
        "link-utm": (
            Rule(
                "warning",
                (
                    "own-site links (kind `site`) have `utm_source`, `utm_medium`, `utm_campaign`; "
                    "off when `[utm] enabled = false`"
                ),
            )
        ),
    }
)
def links(email: Email) -> Iterator[Finding]:
    utm = email.settings.utm.enabled
    for link in email.links():
        url = link.url.strip()
        scheme = urlsplit(url).scheme.lower()
        problem = _placeholder(url)
        if problem:
            shown = f" ({short(url)})" if url not in ("", "#") else ""
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
                "link-https", "error", link.block, f"{short(url)} {reason}; use the full https:// address"
            )
        elif utm and link.kind is LinkKind.SITE and email.settings.is_own_site(url):
            query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
            missing = [key for key in UTM_REQUIRED if not query.get(key)]
            if missing:
                yield email.finding(
                    "link-utm",
                    "warning",
                    link.block,
                    f"{short(url)} goes to the site without {', '.join(missing)}, so visits from it are not "
                    "counted for this campaign; add them to the URL",
                )


@rule(
    {"unsubscribe-missing": Rule("error", "the unsubscribe link is in the HTML and its URL in the text part")}
)
def unsubscribe(email: Email) -> Iterator[Finding]:
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


@rule(
    {
        "order-link-fallback": (
            Rule(
                "warning, error when live",
                (
                    "in a project that sells through Stripe (`[stripe]` or a lock file), no order "
                    "button falls back to the shop page"
                ),
            )
        ),
        "order-link-test-mode": Rule(
            "error", "a live project (`[stripe] live = true`) has no Stripe test-mode link"
        ),
    }
)
def order_links(email: Email) -> Iterator[Finding]:
    """The findings of the order-link policy (render/order_policy.py), which `build` warns with and
    `send` refuses by: the three cannot disagree on which book is a problem."""
    problems = order_link_problems(
        email.rendered, sells_through_stripe=sells_through_stripe(email.project), live=email.live
    )
    seen: set[tuple[str, str, str]] = set()
    for problem in problems:
        key = (str(problem.issue), problem.block, problem.url)
        if problem.severity is None or key in seen:
            continue
        seen.add(key)
        yield email.finding(
            str(problem.issue), problem.severity, problem.block, _order_message(problem, email)
        )


def _order_message(problem: OrderLinkProblem, email: Email) -> str:
    if problem.issue is OrderIssue.SHOP_FALLBACK:
        return (
            f"{problem.sku or problem.block} has no Stripe Payment Link for this campaign, so its order "
            "button goes to the shop page; run `newsletter links sync`"
            + (" with the live key" if email.live else "")
        )
    return (
        f"{short(problem.url)} is a Stripe test-mode link in a live campaign: nobody can pay with it; "
        "run `newsletter links sync` with the live key"
    )

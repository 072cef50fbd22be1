"""The lock file (payments.lock.json): the Payment Links Stripe confirmed, and the order buttons they make.

A build reads only this file, never Stripe: the renderer's order buttons come from here, so a
rebuild is offline and makes no request. `newsletter links sync` (stripe_links.py) writes it, and a
real send marks the links that went out in it (`record_sent`).

Because whatever the file says ends up as the "BESTEL NU!" button of every email, it is not trusted
blindly: every entry must look exactly as a sync records what Stripe answered (Stripe's object ids,
a Payment Link URL on Stripe's own host in the entry's mode, order_policy.payment_link_mode).
A file with any other entry is an error for every command that reads it, naming the entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args
from urllib.parse import urlencode, urlsplit

from newsletter.errors import NewsletterError, NewsletterErrors
from newsletter.files import atomic_write
from newsletter.project.campaign import BOOK_SKU, Book, Campaign
from newsletter.project.models import CAMPAIGN_ID, MAX_PRICE_CENTS
from newsletter.project.settings import Project, StripeSettings
from newsletter.render.links import Link, LinkKind, OrderLinkProvider, shop_page_link
from newsletter.render.order_policy import PAYMENT_LINK_HOST, payment_link_mode

if TYPE_CHECKING:
    from newsletter.render.renderer import Rendered

LOCK_FILE = "payments.lock.json"
Mode = Literal["test", "live"]
# Why a link was switched off: a newer price took over, or changed settings (new terms), `links
# deactivate` (or Stripe said it is off), or the campaign's promotion ended. The last two switch the
# whole campaign off; the first two mean another link of the campaign sells the book now.
Off = Literal["new-price", "new-terms", "deactivated", "ended"]
CAMPAIGN_OFF: frozenset[Off] = frozenset({"deactivated", "ended"})
SUPERSEDED: frozenset[Off] = frozenset({"new-price", "new-terms"})
STRIPE_ORDER_KINDS = frozenset({LinkKind.ORDER_STRIPE_TEST, LinkKind.ORDER_STRIPE_LIVE})


@dataclass(frozen=True)
class LockedLink:
    """One Payment Link for one book in one campaign at one price and on one set of terms (the settings
    it was made with, `link_terms`), as Stripe confirmed it."""

    campaign: str
    sku: str
    amount: int  # cents
    currency: str
    mode: Mode
    product: str
    price: str
    payment_link: str
    url: str
    active: bool = True
    sent: bool = False  # a real send carried it: it stays on at its price until the promotion ends
    off: Off | None = None  # why it is switched off; None while active
    terms: str = ""  # what the settings made it with besides its price (link_terms); "": the defaults


@dataclass(frozen=True)
class Lock:
    links: tuple[LockedLink, ...] = ()

    def find(self, campaign: str, sku: str, amount: int, mode: Mode, terms: str = "") -> LockedLink | None:
        wanted = (campaign, sku, amount, mode, terms)
        return next((x for x in self.links if (x.campaign, x.sku, x.amount, x.mode, x.terms) == wanted), None)

    def by_id(self, payment_link: str) -> LockedLink | None:
        return next((link for link in self.links if link.payment_link == payment_link), None)

    def product_of(self, sku: str, mode: Mode) -> str | None:
        return next((link.product for link in self.links if (link.sku, link.mode) == (sku, mode)), None)

    def others(self, campaign: str, sku: str, amount: int, mode: Mode, terms: str = "") -> list[LockedLink]:
        """The campaign's earlier links for this book: at another price or terms, still switched on."""
        return [
            link
            for link in self.links
            if (link.campaign, link.sku, link.mode) == (campaign, sku, mode)
            and (link.amount, link.terms) != (amount, terms)
            and link.active
        ]

    def of_campaign(self, campaign: str, mode: Mode | None = None) -> list[LockedLink]:
        return [link for link in self.links if link.campaign == campaign and mode in (None, link.mode)]

    def switched_off(self, campaign: str, mode: Mode) -> bool:
        """Deactivated (or ended): a sync leaves such a campaign alone until `links activate`."""
        return any(link.off in CAMPAIGN_OFF for link in self.of_campaign(campaign, mode))

    def sells_at(self, price: str) -> bool:
        """Whether an email that went out still sells at this Price: then it must not be archived."""
        return any(link.active and link.sent and link.price == price for link in self.links)

    def put(self, *new: LockedLink) -> Lock:
        replaced = {link.payment_link for link in new}
        kept = [link for link in self.links if link.payment_link not in replaced]
        return Lock(tuple(sorted([*kept, *new], key=lambda x: (x.campaign, x.sku, x.mode, x.amount))))


def lock_path(project: Project) -> Path:
    return project.root / LOCK_FILE


def load_lock(project: Project) -> Lock:
    """The lock file as a sync wrote it; every entry that does not look so is an error, all at once."""
    path = lock_path(project)
    if not path.exists():
        return Lock()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data.get("links") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise TypeError('it has no "links" list')
    except (ValueError, TypeError) as exc:
        raise NewsletterError(
            f"the lock file cannot be read: {exc}",
            path=path,
            hint="restore it from version control, or delete it: `newsletter links sync` finds the links",
        ) from None
    links: list[LockedLink] = []
    errors: list[NewsletterError] = []
    for index, entry in enumerate(entries):
        problems = entry_problems(entry)
        if problems:
            errors += [_entry_error(path, index, entry, field, problem) for field, problem in problems]
        else:
            links.append(LockedLink(**entry))
    if errors:
        raise NewsletterErrors(errors)
    return Lock(tuple(links))


def save_lock(project: Project, lock: Lock) -> None:
    """The links as a sync found them; `terms` only where the settings are not the defaults, so a lock
    of a project with default settings reads as it always did."""
    entries = [{k: v for k, v in asdict(link).items() if k != "terms" or v} for link in lock.links]
    data = {"version": 1, "links": entries}
    atomic_write(lock_path(project), json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# -- what an entry must look like -----------------------------------------------------------------

_FIELDS = {field.name for field in fields(LockedLink)}
_REQUIRED = {"campaign", "sku", "amount", "currency", "mode", "product", "price", "payment_link", "url"}
_STRIPE_IDS = {"product": "prod_", "price": "price_", "payment_link": "plink_"}
_ID_BODY = re.compile(r"[A-Za-z0-9]+")


def entry_problems(entry: Any) -> list[tuple[str, str]]:
    """(field, problem) for every way `entry` differs from what a sync records after Stripe's answer."""
    if not isinstance(entry, dict):
        return [("", "is not an object with the fields a sync writes")]
    problems = [(key, "is not a field a sync writes") for key in sorted(set(entry) - _FIELDS)]
    problems += [(key, "is missing") for key in sorted(_REQUIRED - set(entry))]
    for key, check in _CHECKS.items():
        problem = check(entry[key]) if key in entry else None
        if problem:
            problems.append((key, problem))
    for key, prefix in _STRIPE_IDS.items():
        value = entry.get(key)
        if key in entry and not (isinstance(value, str) and _is_stripe_id(value, prefix)):
            problems.append((key, f"is not a Stripe id ({prefix}...) as Stripe returns it (got {value!r})"))
    if "url" in entry:
        problem = url_problem(entry["url"], entry.get("mode"))
        if problem:
            problems.append(("url", problem))
    return problems


def url_problem(url: Any, mode: Any) -> str | None:
    """Why `url` cannot be the order button of a `mode` Payment Link; None when it can."""
    found = payment_link_mode(url) if isinstance(url, str) else None
    if found is None:
        return (
            f"{url!r} is not a Stripe Payment Link (https://{PAYMENT_LINK_HOST}/test_... in test mode, "
            f"https://{PAYMENT_LINK_HOST}/... live), so no order button is made from it"
        )
    if mode in get_args(Mode) and found != mode:
        return f"{url} is a {found}-mode Payment Link, but the entry says {mode} mode"
    return None


def _entry_error(path: Path, index: int, entry: Any, field: str, problem: str) -> NewsletterError:
    """One paragraph naming the file, the entry (campaign and book) and what is wrong with it."""
    who = ""
    if isinstance(entry, dict):
        who = f"campaign {entry.get('campaign', '?')}, book {entry.get('sku', '?')}: "
    return NewsletterError(
        f"{who}{field or 'the entry'} {problem}",
        path=path,
        field=f"links[{index}]",
        hint=(
            "only `newsletter links sync` writes entries, from what Stripe confirmed: remove this entry, "
            "or the whole file, and run it again"
        ),
    )


def _currency(value: Any) -> str | None:
    return None if value == "eur" else f"must be 'eur' (got {value!r})"


def _mode(value: Any) -> str | None:
    return None if value in get_args(Mode) else f"must be 'test' or 'live' (got {value!r})"


def _off(value: Any) -> str | None:
    return None if value is None or value in get_args(Off) else f"is not a known reason (got {value!r})"


def _campaign_id(value: Any) -> str | None:
    ok = isinstance(value, str) and CAMPAIGN_ID.fullmatch(value)
    return None if ok else f"is not a campaign id (got {value!r})"


def _sku(value: Any) -> str | None:
    ok = isinstance(value, str) and BOOK_SKU.fullmatch(value)
    return None if ok else f"is not a book name (got {value!r})"


def _amount(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_PRICE_CENTS
    return None if ok else f"must be whole cents from 1 to {MAX_PRICE_CENTS} (got {value!r})"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false (got {value!r})"


def _terms(value: Any) -> str | None:
    ok = isinstance(value, str) and re.fullmatch(r"([0-9a-f]{12})?", value)
    return None if ok else f"is not what a sync records (got {value!r})"


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "campaign": _campaign_id,
    "sku": _sku,
    "amount": _amount,
    "currency": _currency,
    "mode": _mode,
    "active": _boolean,
    "sent": _boolean,
    "off": _off,
    "terms": _terms,
}


def _is_stripe_id(value: str, prefix: str) -> bool:
    return value.startswith(prefix) and bool(_ID_BODY.fullmatch(value.removeprefix(prefix)))


# -- what a send records ----------------------------------------------------------------------------


def record_sent(project: Project, rendered: Rendered) -> None:
    """Mark the Payment Links this email carries as sent; called by a real send before it starts.

    From then on a price change keeps them switched on at the price the readers were offered (a new
    price gets a link of its own), until the promotion's `ends:` date or `links deactivate`. The mark
    lives in the lock, which is committed with the campaigns, not in the subscriber database, which
    is not: a sync on another machine must know it as well.
    """
    urls = {link.url for link in rendered.links if link.kind in STRIPE_ORDER_KINDS}
    lock = load_lock(project)
    marked = [
        replace(link, sent=True)
        for link in lock.of_campaign(rendered.campaign.id)
        if link.url in urls and not link.sent
    ]
    if marked:
        save_lock(project, lock.put(*marked))


# -- order links for the renderer ------------------------------------------------------------


def cents(amount: Decimal) -> int:
    return int(amount * 100)


def link_terms(settings: StripeSettings | None, book: Book) -> str:
    """What the settings make a book's Payment Link with besides its price (stripe_links._create_link),
    in 12 hex digits; "" for the default settings (and for the links of a lock from before terms were
    recorded). A link is found in the lock only under the terms of the settings as they are: after a
    change of settings a book has no link until a sync makes one, as after a change of price."""
    shape = _link_shape(settings or StripeSettings(), book.format)
    if shape == _link_shape(StripeSettings(), "printed"):
        return ""
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:12]


def _link_shape(settings: StripeSettings, book_format: str) -> dict[str, Any]:
    printed = book_format == "printed"  # an e-book is not shipped
    tax_code = settings.tax_code if printed else settings.ebook_tax_code
    return {
        "format": book_format,
        "max_quantity": settings.max_quantity,
        "shipping_countries": list(settings.shipping_countries) if printed else None,
        "shipping_options": list(settings.shipping_options) if printed else None,
        "allow_promotion_codes": settings.allow_promotion_codes,
        "thank_you_url": settings.thank_you_url,
        "payment_method_types": list(settings.payment_method_types or []),
        "automatic_tax": settings.automatic_tax,
        "tax_code": tax_code if settings.automatic_tax else None,
        "invoice_creation": settings.invoice_creation,
    }


def order_link_provider(project: Project) -> OrderLinkProvider:
    """Order buttons go to the locked Payment Link of the project's mode while it is switched on;
    a book without one (none yet, or switched off) goes to its shop page, which the order policy
    reports (render/order_policy.py)."""
    lock = load_lock(project)
    mode: Mode = "live" if project.settings.stripe_live else "test"

    def order_link(campaign: Campaign, book: Book, block: str) -> Link:
        terms = link_terms(project.settings.stripe, book)
        locked = lock.find(campaign.id, book.sku, cents(book.price), mode, terms)
        if locked is None or not locked.active:
            return shop_page_link(campaign, book, block)
        kind = LinkKind.ORDER_STRIPE_LIVE if mode == "live" else LinkKind.ORDER_STRIPE_TEST
        return Link(url=locked.url, block=block, kind=kind, label=book.cta or "")

    return order_link


def sells_through_stripe(project: Project) -> bool:
    """A project with Stripe settings or a lock file expects Payment Links: a shop fallback is a warning."""
    return project.settings.stripe is not None or lock_path(project).exists()


def personalised_order_url(
    url: str, *, email: str, campaign_id: str, subscriber_id: str | int, key: bytes | None = None
) -> str:
    """The order link of one recipient: Stripe fills in the email and attributes the sale to the send.

    Payment Links take both as URL parameters; the reference allows letters, digits, '-' and '_', at
    most 200 characters. With `key` (the unsubscribe secret) a reader's reference is signed
    (`order_reference`), so that a buyer who edits the URL cannot credit another reader.
    """
    if key is not None and isinstance(subscriber_id, int):
        reference = order_reference(campaign_id, subscriber_id, key)
    else:
        reference = re.sub(r"[^A-Za-z0-9_-]", "-", f"{campaign_id}_{subscriber_id}")[:200]
    separator = "&" if urlsplit(url).query else "?"
    return url + separator + urlencode({"prefilled_email": email, "client_reference_id": reference})


REFERENCE_MAC_CHARS = 12  # 48 bits: each guess at a forgery costs the forger a real purchase


def order_reference(campaign_id: str, subscriber_id: int, key: bytes) -> str:
    """`<campaign>_<subscriber id>_<mac>`, the mac an HMAC of the two under a key derived from the
    unsubscribe secret; the campaign part shortened, never the rest, to fit Stripe's 200 characters."""
    campaign = re.sub(r"[^A-Za-z0-9_-]", "-", campaign_id)
    tail = f"_{subscriber_id}_{reference_mac(campaign, subscriber_id, key)}"
    return campaign[: 200 - len(tail)] + tail


def reference_mac(campaign: str, subscriber_id: int, key: bytes) -> str:
    derived = hmac.new(key, b"newsletter order reference", hashlib.sha256).digest()
    message = f"{campaign}\n{subscriber_id}".encode()
    return hmac.new(derived, message, hashlib.sha256).hexdigest()[:REFERENCE_MAC_CHARS]

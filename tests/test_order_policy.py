"""The order-button policy build, check and send share: which books cannot be paid through Stripe, and why."""

from __future__ import annotations

import pytest

from newsletter.project.campaign import Campaign, load_campaigns
from newsletter.project.settings import open_project
from newsletter.render.links import Link, LinkKind
from newsletter.render.order_policy import (
    OrderIssue,
    OrderLinkProblem,
    Severity,
    is_stripe_test_url,
    order_link_problems,
    payment_link_mode,
)
from newsletter.render.renderer import Rendered, warnings_for
from tests.conftest import REPO

SHOP = "https://www.uitgeverijlindenhof.nl/winkel/schrijven-is-schrappen"
TEST_URL = "https://buy.stripe.com/test_abc123"
LIVE_URL = "https://buy.stripe.com/abc123"
SKU = "schrijven-is-schrappen"


def campaign() -> Campaign:
    campaigns, errors = load_campaigns(open_project(REPO), ["2026-12-schrijven"])
    assert errors == []
    return campaigns[0]


def rendered(*links: Link) -> Rendered:
    return Rendered(campaign=campaign(), mjml="", html="", text="", links=links)


def order(kind: LinkKind, url: str, block: str = "book-1") -> Link:
    return Link(url=url, block=block, kind=kind, label="BESTEL NU!")


def problem(
    issue: OrderIssue, kind: LinkKind, url: str, severity: Severity | None, block: str = "book-1"
) -> OrderLinkProblem:
    sku = SKU if block == "book-1" else None
    return OrderLinkProblem(issue=issue, block=block, sku=sku, url=url, kind=kind, severity=severity)


FALLBACK, TEST_MODE = OrderIssue.SHOP_FALLBACK, OrderIssue.TEST_MODE
SHOP_LINK = order(LinkKind.ORDER_SHOP, SHOP)
TEST_LINK = order(LinkKind.ORDER_STRIPE_TEST, TEST_URL)
LIVE_LINK = order(LinkKind.ORDER_STRIPE_LIVE, LIVE_URL)
TEMPLATE_TEST_LINK = Link(url=TEST_URL, block="template", kind=LinkKind.EXTERNAL, label="")


@pytest.mark.parametrize(
    ("link", "sells", "live", "expected"),
    [
        pytest.param(SHOP_LINK, False, False, [], id="shop-page-without-stripe-is-fine"),
        pytest.param(
            SHOP_LINK,
            True,
            False,
            [problem(FALLBACK, LinkKind.ORDER_SHOP, SHOP, "warning")],
            id="shop-fallback-in-test-project-warns",
        ),
        pytest.param(
            SHOP_LINK,
            True,
            True,
            [problem(FALLBACK, LinkKind.ORDER_SHOP, SHOP, "error")],
            id="shop-fallback-in-live-project-is-an-error",
        ),
        pytest.param(
            TEST_LINK,
            True,
            False,
            [problem(TEST_MODE, LinkKind.ORDER_STRIPE_TEST, TEST_URL, None)],
            id="test-link-in-test-project-only-stops-a-send",
        ),
        pytest.param(
            TEST_LINK,
            True,
            True,
            [problem(TEST_MODE, LinkKind.ORDER_STRIPE_TEST, TEST_URL, "error")],
            id="test-link-in-live-project-is-an-error",
        ),
        pytest.param(
            TEMPLATE_TEST_LINK,
            True,
            True,
            [problem(TEST_MODE, LinkKind.EXTERNAL, TEST_URL, "error", block="template")],
            id="template-test-url-in-live-project-is-an-error",
        ),
        pytest.param(TEMPLATE_TEST_LINK, True, False, [], id="template-test-url-in-test-project-is-fine"),
        pytest.param(LIVE_LINK, True, True, [], id="live-link-in-live-project-is-fine"),
    ],
)
def test_order_link_problems_say_which_book_falls_back_and_why(
    link: Link, sells: bool, live: bool, expected: list[OrderLinkProblem]
) -> None:
    problems = order_link_problems(rendered(link), sells_through_stripe=sells, live=live)
    assert list(problems) == expected


def test_problems_come_in_the_order_of_the_links() -> None:
    second = order(LinkKind.ORDER_STRIPE_TEST, TEST_URL, block="book-2")
    problems = order_link_problems(rendered(SHOP_LINK, second), sells_through_stripe=True, live=False)
    assert [(p.block, p.issue, p.sku) for p in problems] == [
        ("book-1", FALLBACK, SKU),
        ("book-2", TEST_MODE, None),
    ]


def test_build_warns_about_exactly_the_shop_fallbacks() -> None:
    warnings = warnings_for(rendered(SHOP_LINK, TEST_LINK), expect_payment_links=True, live=True)
    assert warnings == (
        f"book-1 ({SKU}) has no active Stripe Payment Link: its order button goes to the shop page "
        "(run `newsletter links sync`, or `newsletter links activate` for a campaign switched off)",
    )
    assert warnings_for(rendered(SHOP_LINK), expect_payment_links=False) == ()


@pytest.mark.parametrize(
    ("url", "expected"),
    [(TEST_URL, True), ("https://BUY.stripe.com/test_x", True), (LIVE_URL, False), (SHOP, False)],
)
def test_stripe_test_urls_are_recognised_by_host_and_path(url: str, expected: bool) -> None:
    assert is_stripe_test_url(url) is expected


@pytest.mark.parametrize(
    ("url", "mode"),
    [
        (TEST_URL, "test"),
        (LIVE_URL, "live"),
        ("https://buy.stripe.com/test_4gw8A0bC1dEfGh", "test"),
        ("https://sangeekp-15t6ai--payment_links_ingress-mydev.dev.stripe.me/test_eVa16Q1Vd7yU1Ne8ww", None),
        ("https://pay.evil-phish.net/test_abc123", None),
        ("https://buy.stripe.com.evil-phish.net/test_abc123", None),
        ("https://buy.stripe.com@evil-phish.net/test_abc123", None),
        ("https://BUY.stripe.com/test_abc123", None),
        ("http://buy.stripe.com/test_abc123", None),
        ("https://buy.stripe.com/test_abc123?a=1", None),
        ("https://buy.stripe.com/test_abc123\n", None),
        ("https://buy.stripe.com/", None),
        ("javascript:alert(1)", None),
        (SHOP, None),
    ],
)
def test_only_stripes_own_payment_link_urls_have_a_mode(url: str, mode: str | None) -> None:
    """Stripe's example object (tests/fixtures/stripe/fixtures3.json) has a link on an internal Stripe host;
    accounts get https://buy.stripe.com/ links, `test_` in test mode, and only those are accepted."""
    assert payment_link_mode(url) == mode

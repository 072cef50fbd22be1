"""The local Stripe fake, driven through the official SDK exactly as the product drives it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import stripe
from stripe._http_client import HTTPClient
from stripe.params import PriceCreateParams, ProductSearchParams

from tests.stripe_fake import FakeStripe, decode_form, mask_key


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK sleeps at least HTTPClient.INITIAL_DELAY (0.5 s) between retries; tests need not wait."""
    monkeypatch.setattr(HTTPClient, "INITIAL_DELAY", 0.0)
    monkeypatch.setattr(HTTPClient, "MAX_DELAY", 0.0)
    # requests honours *_PROXY variables; the fake is always local.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as server:
        yield server


def client_for(fake: FakeStripe, key: str = "sk_test_123", retries: int = 0) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": fake.url}, max_network_retries=retries)


@pytest.fixture
def client(fake: FakeStripe) -> stripe.StripeClient:
    return client_for(fake)


def catalog(client: stripe.StripeClient, sku: str = "B1", amount: int = 1995) -> tuple[str, str, str]:
    """A product, its price and a payment link for it: (product id, price id, link id)."""
    product = client.v1.products.create(params={"name": f"Book {sku}", "metadata": {"sku": sku}})
    price = client.v1.prices.create(
        params={"product": product.id, "currency": "eur", "unit_amount": amount, "lookup_key": f"book-{sku}"}
    )
    link = client.v1.payment_links.create(
        params={"line_items": [{"price": price.id, "quantity": 1}], "metadata": {"sku": sku}}
    )
    return product.id, price.id, link.id


def raw(fake: FakeStripe, path: str, *, key: str | None = "sk_test_123") -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(fake.url + path)
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.load(error)


# -- server lifecycle and wire format -------------------------------------------------------------


def test_start_listens_on_a_free_local_port_and_stop_shuts_down() -> None:
    server = FakeStripe().start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        status, headers, body = raw(server, "/v1/products")
        assert status == 200
        assert headers["Request-Id"].startswith("req_")
        assert body == {"object": "list", "data": [], "has_more": False, "url": "/v1/products"}
    finally:
        server.stop()
    with pytest.raises(RuntimeError):
        _ = server.url


def test_form_decoding_nests_dicts_and_lists_and_keeps_strings() -> None:
    assert decode_form(
        "line_items[0][price]=p&line_items[0][quantity]=2&line_items[1][price]=q"
        "&metadata[sku]=B1&ids[]=a&ids[]=b&expand[0]=data.line_items&active=true&empty="
    ) == {
        "line_items": [{"price": "p", "quantity": "2"}, {"price": "q"}],
        "metadata": {"sku": "B1"},
        "ids": ["a", "b"],
        "expand": ["data.line_items"],
        "active": "true",
        "empty": "",
    }


def test_unknown_route_and_unknown_id_answer_like_stripe(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    status, _, body = raw(fake, "/v1/nothing_here")
    assert status == 404
    assert body["error"]["message"].startswith("Unrecognized request URL (GET: /v1/nothing_here).")
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_links.retrieve("plink_x")
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
    assert missing.value.param == "id"
    assert missing.value.user_message == "No such payment_link: 'plink_x'"


# -- products ---------------------------------------------------------------------------------------


def test_product_create_retrieve_update_list(fake: FakeStripe, client: stripe.StripeClient) -> None:
    product = client.v1.products.create(
        params={"name": "Het boek", "description": "Roman", "metadata": {"sku": "B1", "isbn": "978"}}
    )
    assert product.object == "product" and product.id.startswith("prod_")
    assert (product.name, product.description, product.active, product.livemode) == (
        "Het boek",
        "Roman",
        True,
        False,
    )
    assert product.default_price is None
    assert client.v1.products.retrieve(product.id).to_dict() == product.to_dict()

    updated = client.v1.products.update(
        product.id, params={"name": "Het boek (2e druk)", "metadata": {"isbn": "", "edition": "2"}}
    )
    assert updated.name == "Het boek (2e druk)"
    assert updated.metadata.to_dict() == {"sku": "B1", "edition": "2"}  # merged; "" deletes a key

    others = [client.v1.products.create(params={"name": f"P{i}"}).id for i in range(3)]
    client.v1.products.update(others[0], params={"active": False})
    listed = client.v1.products.list(params={"active": True})
    assert [p.id for p in listed.data] == [others[2], others[1], product.id]  # newest first
    page = client.v1.products.list(params={"limit": 2})
    assert page.has_more and [p.id for p in page.data] == [others[2], others[1]]
    rest = client.v1.products.list(params={"limit": 2, "starting_after": others[1]})
    assert [p.id for p in rest.data] == [others[0], product.id] and not rest.has_more
    assert [p.id for p in client.v1.products.list(params={"ids": [product.id, others[1]]}).data] == [
        others[1],
        product.id,
    ]
    assert len(list(client.v1.products.list(params={"limit": 1}).auto_paging_iter())) == 4
    assert fake.created_count("product") == 4


def test_product_search_by_sku_metadata(fake: FakeStripe, client: stripe.StripeClient) -> None:
    ids = {sku: client.v1.products.create(params={"name": sku, "metadata": {"sku": sku}}).id for sku in "ABC"}
    archived = client.v1.products.create(params={"name": "old B", "metadata": {"sku": "B"}, "active": False})
    found = client.v1.products.search(params={"query": "metadata['sku']:'B' AND active:'true'"})
    assert found.to_dict()["object"] == "search_result"
    assert [p.id for p in found.data] == [ids["B"]]
    assert not found.has_more and found.next_page is None
    both = client.v1.products.search(params={"query": 'metadata["sku"]:"B"', "limit": 1})
    assert both.has_more and both.next_page
    second = client.v1.products.search(params={"query": 'metadata["sku"]:"B"', "page": both.next_page})
    assert [both.data[0].id, second.data[0].id] == [archived.id, ids["B"]]
    with pytest.raises(stripe.InvalidRequestError) as bad:
        client.v1.products.search(params={"query": "colour:'red'"})
    assert bad.value.param == "query"


def test_search_can_lag_behind_writes_like_stripe(fake: FakeStripe, client: stripe.StripeClient) -> None:
    fake.search_lag = True
    client.v1.products.create(params={"name": "x", "metadata": {"sku": "S"}})
    query: ProductSearchParams = {"query": "metadata['sku']:'S'"}
    assert client.v1.products.search(params=query).data == []
    fake.flush_search_index()
    assert len(client.v1.products.search(params=query).data) == 1


# -- prices -----------------------------------------------------------------------------------------


def test_price_create_retrieve_update_list(fake: FakeStripe, client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Boek"})
    price = client.v1.prices.create(
        params={"product": product.id, "currency": "EUR", "unit_amount": 2450, "metadata": {"sku": "B1"}}
    )
    assert price.id.startswith("price_") and price.object == "price"
    assert price.product == product.id  # an id, not an object, unless expanded
    # The SDK turns decimal strings into Decimal.
    assert (price.currency, price.unit_amount, price.unit_amount_decimal) == ("eur", 2450, Decimal("2450"))
    assert (price.type, price.recurring, price.lookup_key, price.active) == ("one_time", None, None, True)
    expanded = client.v1.prices.retrieve(price.id, params={"expand": ["product"]})
    assert isinstance(expanded.product, stripe.Product) and expanded.product.name == "Boek"

    updated = client.v1.prices.update(
        price.id, params={"active": False, "nickname": "oud", "metadata": {"a": "1"}}
    )
    assert (updated.active, updated.nickname, updated.metadata.to_dict()) == (
        False,
        "oud",
        {"sku": "B1", "a": "1"},
    )
    newer = client.v1.prices.create(params={"product": product.id, "currency": "eur", "unit_amount": 2950})
    assert [p.id for p in client.v1.prices.list(params={"product": product.id}).data] == [newer.id, price.id]
    assert [p.id for p in client.v1.prices.list(params={"active": False}).data] == [price.id]

    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.prices.create(params={"product": product.id, "unit_amount": 1})  # type: ignore[typeddict-item]
    assert (missing.value.code, missing.value.param) == ("parameter_missing", "currency")
    with pytest.raises(stripe.InvalidRequestError) as no_product:
        client.v1.prices.create(params={"product": "prod_nope", "currency": "eur", "unit_amount": 1})
    assert (no_product.value.code, no_product.value.param) == ("resource_missing", "product")
    assert fake.created_count("price") == 2


def test_lookup_keys_are_unique_and_transfer_on_request(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Boek"})
    base: PriceCreateParams = {"product": product.id, "currency": "eur", "lookup_key": "boek-b1"}
    first = client.v1.prices.create(params={**base, "unit_amount": 1995})
    with pytest.raises(stripe.InvalidRequestError) as taken:
        client.v1.prices.create(params={**base, "unit_amount": 2495})
    assert taken.value.param == "lookup_key" and taken.value.http_status == 400

    second = client.v1.prices.create(params={**base, "unit_amount": 2495, "transfer_lookup_key": True})
    assert second.lookup_key == "boek-b1"
    assert client.v1.prices.retrieve(first.id).lookup_key is None
    found = client.v1.prices.list(params={"lookup_keys": ["boek-b1", "other"]})
    assert [p.id for p in found.data] == [second.id]

    back = client.v1.prices.update(first.id, params={"lookup_key": "boek-b1", "transfer_lookup_key": True})
    assert back.lookup_key == "boek-b1"
    assert client.v1.prices.retrieve(second.id).lookup_key is None


# -- payment links ----------------------------------------------------------------------------------


def test_payment_link_create_retrieve_update_list(fake: FakeStripe, client: stripe.StripeClient) -> None:
    _, price_id, _ = catalog(client)
    link = client.v1.payment_links.create(
        params={
            "line_items": [{"price": price_id, "quantity": 1}],
            "metadata": {"sku": "B1", "campaign": "2026-12"},
            "restrictions": {"completed_sessions": {"limit": 50}},
            "after_completion": {"type": "redirect", "redirect": {"url": "https://example.nl/dank"}},
        },
        options={"idempotency_key": "plink-B1"},
    )
    assert link.id.startswith("plink_") and link.url.startswith("https://buy.stripe.com/test_")
    assert (link.active, link.currency, link.livemode) == (True, "eur", False)
    assert "line_items" not in link  # Stripe includes line items only when expanded
    assert link.restrictions is not None
    assert link.restrictions.completed_sessions.to_dict() == {"count": 0, "limit": 50}
    assert link.after_completion.type == "redirect"
    assert link.after_completion.redirect is not None
    assert link.after_completion.redirect.url == "https://example.nl/dank"
    assert link.transfer_data is None and link.metadata.to_dict() == {"sku": "B1", "campaign": "2026-12"}
    assert client.v1.payment_links.retrieve(link.id).to_dict() == link.to_dict()

    closed = client.v1.payment_links.update(
        link.id, params={"active": False, "inactive_message": "Uitverkocht", "restrictions": ""}
    )
    assert (closed.active, closed.inactive_message, closed.restrictions) == (False, "Uitverkocht", None)
    assert [p.id for p in client.v1.payment_links.list(params={"active": False}).data] == [link.id]
    assert len(client.v1.payment_links.list().data) == 2
    assert [o["id"] for o in fake.objects("payment_link")][1] == link.id


def test_payment_link_line_items_carry_the_expanded_price(client: stripe.StripeClient) -> None:
    product_id, price_id, _ = catalog(client, amount=1250)
    link = client.v1.payment_links.create(
        params={"line_items": [{"price": price_id, "quantity": 2}]}, options={"idempotency_key": "li"}
    )
    items = client.v1.payment_links.line_items.list(link.id)
    assert items.to_dict()["object"] == "list" and items.url == f"/v1/payment_links/{link.id}/line_items"
    (item,) = items.data
    assert item.object == "item" and item.id.startswith("li_")
    assert isinstance(item.price, stripe.Price) and item.price.id == price_id
    assert item.price.product == product_id
    assert (item.quantity, item.amount_total, item.currency, item.description) == (2, 2500, "eur", "Book B1")
    expanded = client.v1.payment_links.retrieve(link.id, params={"expand": ["line_items"]})
    assert expanded.line_items is not None and expanded.line_items.data[0].id == item.id


def test_unknown_and_missing_parameters_are_rejected_with_their_name(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    _, price_id, _ = catalog(client)
    line_items = [{"price": price_id, "quantity": 1}]
    unknown_top: Any = {"line_items": line_items, "foo": "bar"}
    with pytest.raises(stripe.InvalidRequestError) as top:
        client.v1.payment_links.create(params=unknown_top)
    assert (top.value.code, top.value.param) == ("parameter_unknown", "foo")
    assert top.value.user_message == "Received unknown parameter: foo"

    unknown_nested: Any = {
        "line_items": line_items,
        "after_completion": {"type": "redirect", "redirect": {"uri": "https://example.nl"}},
    }
    with pytest.raises(stripe.InvalidRequestError) as nested:
        client.v1.payment_links.create(params=unknown_nested)
    assert (nested.value.code, nested.value.param) == ("parameter_unknown", "after_completion[redirect][uri]")

    no_items: Any = {"metadata": {"sku": "B1"}}
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_links.create(params=no_items)
    assert (missing.value.code, missing.value.param) == ("parameter_missing", "line_items")

    bad_number: Any = {"line_items": [{"price": price_id, "quantity": "twee"}]}
    with pytest.raises(stripe.InvalidRequestError) as invalid:
        client.v1.payment_links.create(params=bad_number)
    assert invalid.value.param == "line_items[0][quantity]"
    assert fake.created_count("payment_link") == 1  # only catalog()'s link


# -- idempotency, authentication, permissions -------------------------------------------------------


def test_idempotent_replay_returns_the_first_response_and_creates_once(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    params: Any = {"name": "Boek", "metadata": {"sku": "B1"}}
    first = client.v1.products.create(params=params, options={"idempotency_key": "product-B1"})
    again = client.v1.products.create(params=params, options={"idempotency_key": "product-B1"})
    assert again.id == first.id and again.to_dict() == first.to_dict()
    assert fake.created_count("product") == 1
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert [r.replayed for r in fake.requests] == [False, True]
    assert [r.idempotency_key for r in fake.requests] == ["product-B1", "product-B1"]

    with pytest.raises(stripe.IdempotencyError) as reused:
        client.v1.products.create(params={"name": "Ander boek"}, options={"idempotency_key": "product-B1"})
    assert "Try using a key other than 'product-B1'" in reused.value.user_message
    assert fake.created_count("product") == 1


def test_invalid_api_key_is_401_and_never_stored(fake: FakeStripe) -> None:
    with pytest.raises(stripe.AuthenticationError) as denied:
        client_for(fake, key="sk_live_abcdefgh1234").v1.products.list()
    assert denied.value.http_status == 401
    assert denied.value.user_message == "Invalid API Key provided: sk_live_****1234"
    assert fake.requests[-1].api_key == "sk_live_****1234"
    assert mask_key("rk_test_51Habcd") == "rk_test_****abcd"
    status, _, body = raw(fake, "/v1/products", key=None)
    assert status == 401 and "You did not provide an API key" in body["error"]["message"]


def test_restricted_key_without_permission_is_403(fake: FakeStripe) -> None:
    fake.restricted_denied = {"payment_links"}
    restricted = client_for(fake, key="rk_test_restricted9876")
    product = restricted.v1.products.create(params={"name": "Boek"})  # products are allowed
    price = restricted.v1.prices.create(params={"product": product.id, "currency": "eur", "unit_amount": 100})
    with pytest.raises(stripe.PermissionError) as denied:
        restricted.v1.payment_links.create(params={"line_items": [{"price": price.id, "quantity": 1}]})
    assert denied.value.http_status == 403
    message = denied.value.user_message or ""
    assert "The provided key 'rk_test_****9876' does not have the required permissions" in message
    assert "'rak_payment_link_write' permission" in message
    assert fake.created_count("payment_link") == 0
    assert client_for(fake).v1.payment_links.list().data == []  # a secret key may


# -- faults and retries -----------------------------------------------------------------------------


def test_429_is_not_retried_unless_stripe_says_so(fake: FakeStripe) -> None:
    client = client_for(fake, retries=2)
    fake.inject("429")
    with pytest.raises(stripe.RateLimitError) as limited:
        client.v1.products.create(params={"name": "Boek"})
    assert limited.value.http_status == 429
    assert limited.value.error is not None and limited.value.error.code == "rate_limit"
    assert len(fake.requests) == 1  # the SDK does not retry a plain 429

    fake.inject("429", should_retry=True)  # `Stripe-Should-Retry: true` makes it retry
    product = client.v1.products.create(params={"name": "Boek"})
    assert [r.status for r in fake.requests[1:]] == [429, 200]
    assert fake.requests[1].idempotency_key == fake.requests[2].idempotency_key
    assert fake.objects("product")[0]["id"] == product.id


def test_500_is_retried_with_the_same_idempotency_key(fake: FakeStripe) -> None:
    fake.inject("500", times=2)
    product = client_for(fake, retries=2).v1.products.create(params={"name": "Boek"})
    assert [r.status for r in fake.requests] == [500, 500, 200]
    assert len({r.idempotency_key for r in fake.requests}) == 1  # SDK-generated, reused on every retry
    assert fake.created_count("product") == 1 and fake.objects("product")[0]["id"] == product.id

    fake.inject("500")
    with pytest.raises(stripe.APIError) as failed:
        client_for(fake).v1.products.create(params={"name": "Boek"})
    assert failed.value.http_status == 500


def test_drop_after_processing_then_retry_replays_instead_of_duplicating(fake: FakeStripe) -> None:
    client = client_for(fake, retries=2)
    _, price_id, _ = catalog(client)
    fake.inject("drop_after", path_prefix="/v1/payment_links")
    link = client.v1.payment_links.create(params={"line_items": [{"price": price_id, "quantity": 1}]})
    first, retry = fake.requests[-2:]
    assert (first.fault, first.status, retry.replayed, retry.status) == ("drop_after", None, True, 200)
    assert first.idempotency_key == retry.idempotency_key
    assert fake.created_count("payment_link") == 2  # catalog()'s link and this one, created once
    assert fake.objects("payment_link")[-1]["id"] == link.id


def test_drop_after_without_retries_leaves_the_object_and_a_caller_retry_needs_the_same_key(
    fake: FakeStripe,
) -> None:
    client = client_for(fake)
    fake.inject("drop_after")
    with pytest.raises(stripe.APIConnectionError):
        client.v1.products.create(params={"name": "Boek"}, options={"idempotency_key": "boek"})
    assert fake.created_count("product") == 1  # created, though the caller never heard
    again = client.v1.products.create(params={"name": "Boek"}, options={"idempotency_key": "boek"})
    assert again.id == fake.objects("product")[0]["id"] and fake.created_count("product") == 1


def test_drop_before_then_success(fake: FakeStripe) -> None:
    fake.inject("drop_before", method="GET", path_prefix="/v1/products")
    fake.inject("drop_before")
    client = client_for(fake, retries=1)
    product = client.v1.products.create(params={"name": "Boek"})
    assert client.v1.products.list().data[0].id == product.id
    assert [(r.method, r.fault, r.status) for r in fake.requests] == [
        ("POST", "drop_before", None),
        ("POST", None, 200),
        ("GET", "drop_before", None),
        ("GET", None, 200),
    ]
    assert fake.created_count("product") == 1


# -- checkout sessions ------------------------------------------------------------------------------


def test_checkout_sessions_listed_per_link_with_line_items(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    _, price_id, link_id = catalog(client, sku="B1", amount=1995)
    _, _, other_link = catalog(client, sku="B2", amount=995)
    paid = fake.add_checkout_session(
        link_id, quantity=2, email="lezer@example.nl", client_reference_id="nl-1"
    )
    fake.add_checkout_session(link_id, status="expired")
    fake.add_checkout_session(other_link)
    assert paid["id"].startswith("cs_") and paid["amount_total"] == 3990 and paid["payment_status"] == "paid"

    sessions = client.v1.checkout.sessions.list(
        params={"payment_link": link_id, "status": "complete", "expand": ["data.line_items"]}
    )
    (session,) = sessions.data
    assert (session.id, session.amount_total, session.currency, session.payment_link) == (
        paid["id"],
        3990,
        "eur",
        link_id,
    )
    assert session.customer_details is not None and session.customer_details.email == "lezer@example.nl"
    assert session.client_reference_id == "nl-1" and session.metadata is not None
    assert session.metadata.to_dict() == {"sku": "B1"}
    assert session.line_items is not None
    (item,) = session.line_items.data
    assert (item.quantity, item.amount_total, item.price is not None and item.price.id) == (2, 3990, price_id)
    assert len(client.v1.checkout.sessions.list(params={"payment_link": link_id}).data) == 2
    assert "line_items" not in client.v1.checkout.sessions.list(params={"payment_link": other_link}).data[0]


def test_completed_sessions_limit_deactivates_the_link(fake: FakeStripe, client: stripe.StripeClient) -> None:
    _, price_id, _ = catalog(client)
    link = client.v1.payment_links.create(
        params={
            "line_items": [{"price": price_id, "quantity": 1}],
            "restrictions": {"completed_sessions": {"limit": 2}},
        }
    )
    fake.add_checkout_session(link.id)
    assert client.v1.payment_links.retrieve(link.id).active
    fake.add_checkout_session(link.id)
    closed = client.v1.payment_links.retrieve(link.id)
    assert not closed.active
    assert closed.restrictions is not None and closed.restrictions.completed_sessions.count == 2

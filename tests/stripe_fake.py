"""A local, stateful, Stripe-compatible HTTP server for tests: Products, Prices, Payment Links, Checkout
Sessions.

The official SDK talks to it unchanged::

    with FakeStripe() as fake:
        client = stripe.StripeClient("sk_test_123", base_addresses={"api": fake.url})
        client.v1.products.create(params={"name": "Book"})

Responses start from Stripe's own example objects (``tests/fixtures/stripe/fixtures3.json``, the data Stripe's
mock server answers with; MIT, see the README there) and get the fields the request decides. Request
parameters are checked against the parameter TypedDicts of the installed SDK (generated from the same OpenAPI
spec), so a parameter Stripe does not know is rejected here as it is there. Idempotency keys, API-key checks,
restricted keys, pagination, search and injected faults (500, 429, dropped connections) behave like the real
API, as far as this tool needs.

Standard library only; the ``stripe`` package is imported (lazily, via importlib) for its parameter types.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import importlib
import itertools
import json
import re
import secrets
import socket
import socketserver
import string
import threading
import time
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType, UnionType
from typing import Any, Literal, Union, cast, get_args, get_origin
from urllib.parse import parse_qsl, urlsplit

JSON = dict[str, Any]

FIXTURES_PATH = Path(__file__).resolve().parent / "fixtures" / "stripe" / "fixtures3.json"

KINDS = ("product", "price", "payment_link", "checkout.session")
FAULT_KINDS = ("500", "429", "drop_before", "drop_after")
DEFAULT_ACCOUNT = "acct_1FakeStripeLocal0"
MAX_UNIT_AMOUNT = 99_999_999  # Stripe's technical limit on amounts: eight digits

_ALNUM = string.ascii_letters + string.digits
_ID_LENGTH = {
    "prod_": 14,
    "price_": 24,
    "plink_": 24,
    "cs_test_": 58,
    "li_": 24,
    "req_": 14,
    "pi_": 24,
    "sub_": 24,
    "evt_": 24,
    "ch_": 24,
}
# Resource names (as used in `restricted_denied`) and the restricted-key permission each needs.
_PERMISSION = {
    "products": "product",
    "prices": "price",
    "payment_links": "payment_link",
    "checkout_sessions": "checkout_session",
}
_SEARCH_FIELDS = {
    "product": {"active", "created", "description", "metadata", "name", "shippable", "url"},
    "price": {"active", "created", "currency", "lookup_key", "metadata", "product", "type"},
}
_EXPANDABLE = {  # (object, field) -> kind of the object its id points at
    ("price", "product"): "product",
    ("product", "default_price"): "price",
    ("checkout.session", "payment_link"): "payment_link",
}
_VIRTUAL = {("payment_link", "line_items"), ("checkout.session", "line_items")}  # present only when expanded


def _token(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def _new_id(prefix: str) -> str:
    return prefix + _token(_ID_LENGTH[prefix])


def mask_key(key: str) -> str:
    """Mask an API key the way Stripe's error messages do: `sk_test_****abcd`."""
    match = re.match(r"^((?:sk|rk|pk)_(?:test|live)_)", key)
    prefix = match.group(1) if match else ""
    rest = key[len(prefix) :]
    return f"{prefix}****{rest[-4:] if len(rest) > 4 else ''}"


@functools.cache
def _fixtures(path: str) -> dict[str, JSON]:
    with open(path, encoding="utf-8") as handle:
        resources = cast(dict[str, JSON], json.load(handle)["resources"])
    missing = [kind for kind in (*KINDS, "item") if kind not in resources]
    if missing:
        raise RuntimeError(f"{path} has no example object for {', '.join(missing)}")
    return resources


# ------------------------------------------------------------------------------------------------
# Errors


class StripeFakeError(Exception):
    """An API error response. `store=False` marks errors Stripe does not save under an idempotency key
    (failed parameter validation, authentication): the endpoint never started executing."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        store: bool = True,
        log_url: bool = True,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.store = store
        self.log_url = log_url

    def body(self, request_id: str) -> JSON:
        error: JSON = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = "https://stripe.com/docs/error-codes/" + self.code.replace("_", "-")
        if self.param:
            error["param"] = self.param
        if self.log_url:
            error["request_log_url"] = (
                f"https://dashboard.stripe.com/test/logs/{request_id}?t={int(time.time())}"
            )
        return {"error": dict(sorted(error.items()))}


def _invalid(
    message: str, *, param: str | None = None, code: str | None = None, store: bool = True
) -> StripeFakeError:
    return StripeFakeError(400, message, param=param, code=code, store=store)


def _unknown(param: str) -> StripeFakeError:
    return _invalid(
        f"Received unknown parameter: {param}", param=param, code="parameter_unknown", store=False
    )


def _missing(param: str) -> StripeFakeError:
    return _invalid(f"Missing required param: {param}.", param=param, code="parameter_missing", store=False)


def _no_such(kind: str, object_id: str, param: str, status: int = 404) -> StripeFakeError:
    return StripeFakeError(status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


# ------------------------------------------------------------------------------------------------
# Form decoding: Stripe's `a[b][0][c]=v` / `a[]=v` encoding into nested dicts and lists (leaves stay strings)


def decode_form(raw: str) -> JSON:
    root: JSON = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))] if match else [key]
        _assign(root, parts, value)
    return cast(JSON, _listify(root))


def _assign(node: JSON | list[Any], parts: list[str], value: str) -> None:
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):  # head == "": append
        if not rest:
            node.append(value)
            return
        last = node[-1] if node else None
        if isinstance(last, dict) and rest[0] != "" and rest[0] not in last:
            child: JSON | list[Any] = last
        else:
            child = [] if rest[0] == "" else {}
            node.append(child)
        _assign(child, rest, value)
        return
    if not rest:
        node[head] = value
        return
    existing = node.get(head)
    if rest[0] == "":
        child = existing if isinstance(existing, list) else []
    else:
        child = existing if isinstance(existing, dict) else {}
    node[head] = child
    _assign(child, rest, value)


def _listify(value: Any) -> Any:
    """Dicts keyed exactly "0".."n-1" become lists (what `a[0][b]=v` means for an array parameter)."""
    if isinstance(value, list):
        return [_listify(item) for item in value]
    if isinstance(value, dict):
        converted = {key: _listify(item) for key, item in value.items()}
        keys = list(converted)
        if keys and all(key.isdigit() for key in keys):
            ordered = sorted(keys, key=int)
            if ordered == [str(index) for index in range(len(ordered))]:
                return [converted[key] for key in ordered]
        return converted
    return value


# ------------------------------------------------------------------------------------------------
# Parameter validation against the SDK's generated TypedDicts


@functools.cache
def _request_option_keys() -> frozenset[str]:
    module = importlib.import_module("stripe._request_options")
    return frozenset(module.RequestOptions.__annotations__)


@functools.cache
def _localns() -> JSON:
    # The params classes inherit RequestOptions, whose annotations name things imported only there
    # (Mapping) or only under TYPE_CHECKING (StripeContext); give get_type_hints both.
    namespace = dict(vars(importlib.import_module("stripe._request_options")))
    namespace["StripeContext"] = importlib.import_module("stripe._stripe_context").StripeContext
    return namespace


def load_params_class(spec: str) -> type:
    """`"_price_create_params.PriceCreateParams"` -> the class in `stripe.params`."""
    module_name, _, class_name = spec.rpartition(".")
    return cast(type, getattr(importlib.import_module(f"stripe.params.{module_name}"), class_name))


@functools.cache
def _hints(typed_dict: type) -> dict[str, Any]:
    return typing.get_type_hints(typed_dict, localns=_localns(), include_extras=False)


def _is_typed_dict(tp: object) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _alternatives(tp: object) -> list[object]:
    if get_origin(tp) in (Union, UnionType):
        return [alt for arg in get_args(tp) for alt in _alternatives(arg)]
    return [tp]


def _is_mapping(tp: object) -> bool:
    origin = get_origin(tp)
    return isinstance(origin, type) and issubclass(origin, (dict, Mapping))


def _is_list(tp: object) -> bool:
    return get_origin(tp) is list


def _coerce(value: Any, tp: object, name: str) -> Any:
    """Check `value` (decoded form data) against type `tp`, recursively; convert numbers and booleans."""
    alternatives = _alternatives(tp)
    typed_dicts = [alt for alt in alternatives if _is_typed_dict(alt)]
    mappings = [alt for alt in alternatives if _is_mapping(alt)]
    lists = [alt for alt in alternatives if _is_list(alt)]
    literal_values = [str(v) for alt in alternatives if get_origin(alt) is Literal for v in get_args(alt)]
    scalars = [alt for alt in alternatives if alt in (str, int, float, bool, Decimal)]
    if isinstance(value, list) and not lists and mappings:
        value = {str(index): item for index, item in enumerate(value)}
    if isinstance(value, dict):
        if typed_dicts:
            return _coerce_typed_dict(value, cast(type, typed_dicts[0]), name)
        if mappings:
            value_type = get_args(mappings[0])[-1]
            return {key: _coerce(item, value_type, f"{name}[{key}]") for key, item in value.items()}
        if lists and value and all(key.isdigit() for key in value):
            value = [value[key] for key in sorted(value, key=int)]
        else:
            raise _invalid(f"Invalid {_type_word(alternatives)}", param=name, store=False)
    if isinstance(value, list):
        if not lists:
            raise _invalid(f"Invalid {_type_word(alternatives)}", param=name, store=False)
        item_type = get_args(lists[0])[0]
        return [_coerce(item, item_type, f"{name}[{index}]") for index, item in enumerate(value)]
    text = str(value)
    if text == "" and ("" in literal_values or typed_dicts or mappings or lists):
        return None  # an empty string unsets the field
    if bool in scalars and text in ("true", "false"):
        return text == "true"
    if int in scalars and re.fullmatch(r"-?\d+", text):
        return int(text)
    if float in scalars and re.fullmatch(r"-?(\d+\.?\d*|\.\d+)", text):
        return float(text)
    if str in scalars or text in literal_values:
        return text
    if Decimal in scalars:
        try:
            Decimal(text)
        except InvalidOperation:
            raise _invalid(f"Invalid decimal: {text}", param=name, store=False) from None
        return text
    if not (scalars or literal_values or typed_dicts or mappings or lists):
        return text  # a type this fake does not model: accept as is
    word = _type_word(alternatives)
    code = "parameter_invalid_integer" if word == "integer" else None
    raise _invalid(f"Invalid {word}: {text}", param=name, code=code, store=False)


def _type_word(alternatives: list[object]) -> str:
    for alt, word in ((int, "integer"), (bool, "boolean"), (float, "decimal"), (str, "string")):
        if alt in alternatives:
            return word
    if any(_is_list(alt) for alt in alternatives):
        return "array"
    return "object"


def _coerce_typed_dict(value: JSON, typed_dict: type, prefix: str) -> JSON:
    hints = _hints(typed_dict)
    out: JSON = {}
    for key, item in value.items():
        name = f"{prefix}[{key}]"
        if key not in hints:
            raise _unknown(name)
        out[key] = _coerce(item, hints[key], name)
    for key in sorted(cast(frozenset[str], getattr(typed_dict, "__required_keys__", frozenset()))):
        if key not in value:
            raise _missing(f"{prefix}[{key}]")
    return out


def validate_params(params: JSON, schemas: tuple[type, ...]) -> JSON:
    """Top level: the union of the schemas' fields (Update and Modify variants), request options excluded."""
    options = _request_option_keys()
    hints: dict[str, Any] = {"expand": list[str]}
    required: set[str] | None = None
    for schema in schemas:
        hints.update({key: tp for key, tp in _hints(schema).items() if key not in options})
        keys = set(cast(frozenset[str], getattr(schema, "__required_keys__", frozenset()))) - options
        required = keys if required is None else required & keys
    out: JSON = {}
    for key, item in params.items():
        if key not in hints:
            raise _unknown(key)
        out[key] = _coerce(item, hints[key], key)
    for key in sorted(required or ()):
        if key not in params:
            raise _missing(key)
    return out


# ------------------------------------------------------------------------------------------------
# Search query language (the subset needed: field:'v', metadata['k']:'v', ~, <, >, negation, AND / OR)

_CLAUSE = re.compile(
    r"""\s*(?P<neg>-)?
    (?P<field>metadata\[(?:'(?P<mk1>[^']*)'|"(?P<mk2>[^"]*)")\]|[A-Za-z_][A-Za-z0-9_]*)
    \s*(?P<op>:|~|>=|<=|>|<)\s*
    (?:'(?P<sq>(?:[^'\\]|\\.)*)'|"(?P<dq>(?:[^"\\]|\\.)*)"|(?P<bare>[^\s'"]+))\s*""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Clause:
    negate: bool
    field: str
    metadata_key: str | None
    op: str
    value: str


def parse_search_query(query: str, kind: str) -> tuple[str, list[_Clause]]:
    clauses: list[_Clause] = []
    joins: set[str] = set()
    position = 0
    while True:
        match = _CLAUSE.match(query, position)
        if match is None:
            raise _invalid(f"Invalid search query near position {position}: {query!r}", param="query")
        metadata_key = match.group("mk1") if match.group("mk1") is not None else match.group("mk2")
        field_name = "metadata" if metadata_key is not None else match.group("field")
        if field_name not in _SEARCH_FIELDS[kind]:
            raise _invalid(
                f"Field `{field_name}` is an unsupported search field for resource `{kind}s`. See "
                f"http://stripe.com/docs/search#query-fields-for-{kind}s for a list of supported fields.",
                param="query",
            )
        raw = next(
            group
            for group in (match.group("sq"), match.group("dq"), match.group("bare"))
            if group is not None
        )
        value = re.sub(r"\\(.)", r"\1", raw)
        clauses.append(_Clause(bool(match.group("neg")), field_name, metadata_key, match.group("op"), value))
        position = match.end()
        if position >= len(query):
            break
        join = re.compile(r"(AND|OR)\b").match(query, position)
        if join is None:
            raise _invalid(f"Invalid search query near position {position}: {query!r}", param="query")
        joins.add(join.group(1))
        position = join.end()
    if len(joins) > 1:
        raise _invalid("Search queries cannot mix AND and OR.", param="query")
    return (joins.pop() if joins else "AND"), clauses


def _clause_matches(clause: _Clause, obj: JSON) -> bool:
    if clause.metadata_key is not None:
        actual: Any = (obj.get("metadata") or {}).get(clause.metadata_key)
    else:
        actual = obj.get(clause.field)
    if isinstance(actual, bool):
        text = "true" if actual else "false"
    elif actual is None:
        text = "null"
    else:
        text = str(actual)
    if clause.op == ":":
        result = text == clause.value
    elif clause.op == "~":
        result = clause.value.lower() in text.lower()
    else:
        try:
            left, right = float(text), float(clause.value)
        except ValueError:
            return False
        result = {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[clause.op]
    return result != clause.negate


# ------------------------------------------------------------------------------------------------
# Bookkeeping types


@dataclass
class Recorded:
    """One request as the fake saw it. `params` is the decoded form data (leaves are strings, as sent);
    `api_key` is masked (`sk_test_****abcd`), never the full key. `status` is None when the connection was
    dropped without an answer."""

    method: str
    path: str
    params: JSON
    idempotency_key: str | None
    api_key: str | None
    request_id: str
    status: int | None = None
    fault: str | None = None
    replayed: bool = False


@dataclass
class _Fault:
    kind: str
    method: str
    path_prefix: str
    remaining: int
    should_retry: bool | None


@dataclass
class _Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Idempotent:
    method: str
    path: str
    params: JSON
    response: _Response
    request_id: str


Handler = Callable[[JSON, str | None], JSON]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    schemas: tuple[type, ...]
    resource: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeStripe) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look the host name up (socket.getfqdn), which can be slow in sandboxes.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])


class _RequestHandler(BaseHTTPRequestHandler):
    server_version = "stripe-fake"
    sys_version = ""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        fake = cast(_Server, self.server).fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length > 0 else ""
        response = fake._handle(self.command, self.path, self.headers, body)
        if response is None:  # drop the connection without an answer
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)


def _deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = copy.deepcopy(base)
        for key, value in over.items():
            merged[key] = _deep_merge(merged.get(key), value)
        return merged
    return copy.deepcopy(over)


def _metadata(current: JSON | None, update: Any) -> JSON:
    """Stripe's metadata rules: keys merge; an empty value deletes a key; an empty `metadata` clears all."""
    if update is None:
        return {}
    merged = dict(current or {})
    for key, value in dict(update).items():
        if value in ("", None):
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


_PAYMENT_LINK_TEMPLATES: dict[str, JSON] = {
    "automatic_tax": {"enabled": False, "liability": None},
    "consent_collection": {
        "payment_method_reuse_agreement": None,
        "promotions": None,
        "terms_of_service": None,
    },
    "custom_text": {
        "after_submit": None,
        "shipping_address": None,
        "submit": None,
        "terms_of_service_acceptance": None,
    },
    "invoice_creation": {"enabled": False, "invoice_data": None},
    "name_collection": {"business": None, "individual": None},
    "payment_intent_data": {
        "capture_method": None,
        "description": None,
        "metadata": {},
        "setup_future_usage": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "transfer_group": None,
    },
    "phone_number_collection": {"enabled": False},
    "shipping_address_collection": {"allowed_countries": []},
    "subscription_data": {
        "description": None,
        "invoice_settings": {"issuer": {"type": "self"}},
        "metadata": {},
        "trial_period_days": None,
        "trial_settings": None,
    },
    "tax_id_collection": {"enabled": False, "required": "never"},
    "transfer_data": {"amount": None, "destination": None},
}


# ------------------------------------------------------------------------------------------------
# The server


class FakeStripe:
    """A Stripe-compatible API on 127.0.0.1 (a free port) for tests. See the module docstring."""

    def __init__(
        self,
        *,
        fixtures_path: Path | str = FIXTURES_PATH,
        account_id: str = DEFAULT_ACCOUNT,
        key_prefixes: tuple[str, ...] = ("sk_test_", "rk_test_"),
    ) -> None:
        self.account_id = account_id
        self.key_prefixes = key_prefixes
        # Resource names ("products", "prices", "payment_links", "checkout_sessions") an rk_ key may not use.
        self.restricted_denied: set[str] = set()
        # Stripe's search index lags writes (up to a minute). With search_lag=True, searches see the data as
        # of the last flush_search_index() call; by default (False) search is immediately consistent.
        self.search_lag = False
        self.requests: list[Recorded] = []
        self._fixtures = _fixtures(str(fixtures_path))
        self._lock = threading.RLock()
        self._store: dict[str, dict[str, JSON]] = {kind: {} for kind in KINDS}
        self._search_index: dict[str, dict[str, JSON]] = {"product": {}, "price": {}}
        self._seq: dict[str, int] = {}
        self._counter = itertools.count()
        self._link_items: dict[str, list[JSON]] = {}
        self._session_items: dict[str, list[JSON]] = {}
        self._idempotency: dict[str, _Idempotent] = {}
        self._faults: list[_Fault] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._routes = self._build_routes()

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeStripe:
        """Bind a free port and serve in a daemon thread; returns once the socket listens."""
        if self._server is not None:
            raise RuntimeError("FakeStripe is already running")
        server = _Server(self)  # bound and listening before the thread starts
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, name="FakeStripe", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeStripe is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- test controls and introspection ----------------------------------------------------------

    def inject(
        self,
        kind: str,
        *,
        method: str = "POST",
        path_prefix: str = "/v1/",
        times: int = 1,
        should_retry: bool | None = None,
    ) -> None:
        """Make the next `times` requests matching `method` ("*" for any) and `path_prefix` fail:
        "500" (api_error), "429" (rate_limit), "drop_before" (close the connection unanswered, nothing done),
        "drop_after" (do the request fully, then close the connection unanswered). `should_retry` sets the
        `Stripe-Should-Retry` header on 500/429 answers (the SDK retries a 429 only when it says true)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        with self._lock:
            self._faults.append(_Fault(kind, method.upper(), path_prefix, times, should_retry))

    def objects(self, kind: str) -> list[JSON]:
        """Copies of the stored objects of `kind`, oldest first (line items are not embedded)."""
        with self._lock:
            return copy.deepcopy(list(self._objects_of(kind).values()))

    def created_count(self, kind: str) -> int:
        with self._lock:
            return len(self._objects_of(kind))

    def flush_search_index(self) -> None:
        """Make every current object visible to search (see `search_lag`)."""
        with self._lock:
            for kind in self._search_index:
                self._search_index[kind] = copy.deepcopy(self._store[kind])

    def add_checkout_session(
        self,
        payment_link_id: str,
        *,
        quantity: int = 1,
        status: str = "complete",
        email: str | None = None,
        client_reference_id: str | None = None,
    ) -> JSON:
        """Store a Checkout Session as if a customer used the payment link: every line item of the link is
        bought `quantity` times; amounts from the prices; metadata copied from the link. A completed session
        counts towards the link's `restrictions.completed_sessions` (the link deactivates at the limit, as
        Stripe does)."""
        if status not in ("open", "complete", "expired"):
            raise ValueError(f"status must be open, complete or expired, not {status!r}")
        with self._lock:
            link = self._store["payment_link"].get(payment_link_id)
            if link is None:
                raise KeyError(f"No such payment_link: '{payment_link_id}'")
            prices = [self._store["price"][item["price"]] for item in self._link_items[payment_link_id]]
            recurring = any(price["type"] == "recurring" for price in prices)
            amount = sum((price["unit_amount"] or 0) * quantity for price in prices)
            now = int(time.time())
            session = copy.deepcopy(self._fixtures["checkout.session"])
            session_id = _new_id("cs_test_")
            complete = status == "complete"
            customer_details = None
            if complete or email is not None:
                customer_details = copy.deepcopy(self._fixtures["checkout.session"]["customer_details"])
                customer_details.update(email=email, name=None, phone=None, tax_ids=[])
            session.update(
                id=session_id,
                livemode=False,
                created=now,
                expires_at=now + 24 * 3600,
                after_expiration=None,
                allow_promotion_codes=link["allow_promotion_codes"],
                amount_subtotal=amount,
                amount_total=amount,
                billing_address_collection=link["billing_address_collection"],
                cancel_url=None,
                client_reference_id=client_reference_id,
                collected_information=None,
                consent=None,
                consent_collection=copy.deepcopy(link["consent_collection"]),
                currency=link["currency"],
                currency_conversion=None,
                custom_text=copy.deepcopy(link["custom_text"]),
                customer=None,
                customer_creation=link["customer_creation"],
                customer_details=customer_details,
                customer_email=None,
                discounts=[],
                invoice=None,
                metadata=copy.deepcopy(link["metadata"]),
                mode="subscription" if recurring else "payment",
                payment_intent=_new_id("pi_") if complete and not recurring else None,
                payment_link=payment_link_id,
                payment_status="paid" if complete else "unpaid",
                recovered_from=None,
                shipping_address_collection=copy.deepcopy(link["shipping_address_collection"]),
                shipping_cost=None,
                status=status,
                submit_type=link["submit_type"],
                subscription=_new_id("sub_") if complete and recurring else None,
                success_url=None,
                total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
                url=f"https://checkout.stripe.com/c/pay/{session_id}" if status == "open" else None,
            )
            self._session_items[session_id] = [
                {
                    "id": _new_id("li_"),
                    "price": item["price"],
                    "quantity": quantity,
                    "adjustable_quantity": copy.deepcopy(item["adjustable_quantity"]),
                }
                for item in self._link_items[payment_link_id]
            ]
            for item in self._session_items[session_id]:
                self._seq[item["id"]] = next(self._counter)
            self._put("checkout.session", session)
            restrictions = link.get("restrictions")
            if complete and restrictions:
                completed = restrictions["completed_sessions"]
                completed["count"] += 1
                if completed["count"] >= completed["limit"]:
                    link["active"] = False
            return copy.deepcopy(session)

    # -- request handling -------------------------------------------------------------------------

    def _handle(self, method: str, raw_path: str, headers: Message, body: str) -> _Response | None:
        split = urlsplit(raw_path)
        path = split.path
        params = decode_form(split.query)
        if body:
            params.update(decode_form(body))
        api_key = self._api_key(headers)
        idempotency_key = headers.get("Idempotency-Key") if method == "POST" else None
        request_id = _new_id("req_")
        with self._lock:
            record = Recorded(
                method=method,
                path=path,
                params=copy.deepcopy(params),
                idempotency_key=idempotency_key,
                api_key=mask_key(api_key) if api_key is not None else None,
                request_id=request_id,
            )
            self.requests.append(record)
            fault = self._take_fault(method, path)
            record.fault = fault.kind if fault else None
            if fault is not None and fault.kind == "drop_before":
                return None
            if fault is not None and fault.kind in ("500", "429"):
                response = self._fault_response(fault, request_id)
            else:
                response = self._process(method, path, params, api_key, idempotency_key, request_id, record)
            if fault is not None and fault.kind == "drop_after":
                return None
            record.status = response.status
            return response

    def _fault_response(self, fault: _Fault, request_id: str) -> _Response:
        if fault.kind == "500":
            error = StripeFakeError(500, "An unknown error occurred", type_="api_error")
        else:
            error = StripeFakeError(
                429,
                "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
                code="rate_limit",
            )
        response = self._json(error.status, error.body(request_id), request_id)
        if fault.should_retry is not None:
            response.headers["Stripe-Should-Retry"] = "true" if fault.should_retry else "false"
        return response

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method in ("*", method) and path.startswith(fault.path_prefix):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _json(self, status: int, body: JSON, request_id: str) -> _Response:
        return _Response(status, json.dumps(body, indent=2).encode("utf-8"), {"Request-Id": request_id})

    @staticmethod
    def _api_key(headers: Message) -> str | None:
        authorization = headers.get("Authorization") or ""
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
        if scheme.lower() == "basic" and credentials.strip():
            try:
                return base64.b64decode(credentials.strip()).decode("utf-8").partition(":")[0] or None
            except ValueError:
                return None
        return None

    def _process(
        self,
        method: str,
        path: str,
        params: JSON,
        api_key: str | None,
        idempotency_key: str | None,
        request_id: str,
        record: Recorded,
    ) -> _Response:
        try:
            key = self._authenticate(api_key)
            route, object_id = self._route(method, path)
            self._authorize(key, route, method)
            if idempotency_key is not None:
                prior = self._idempotency.get(idempotency_key)
                if prior is not None:
                    return self._replay(prior, method, path, params, idempotency_key, request_id, record)
            try:
                validated = validate_params(params, route.schemas)
                result = route.handler(validated, object_id)
                for expansion in validated.get("expand") or []:
                    self._expand(result, expansion.split("."), expansion)
                response = self._json(200, result, request_id)
            except StripeFakeError as error:
                if not error.store or idempotency_key is None:
                    raise
                response = self._json(error.status, error.body(request_id), request_id)
        except StripeFakeError as error:
            return self._json(error.status, error.body(request_id), request_id)
        if idempotency_key is not None:
            response.headers["Idempotency-Key"] = idempotency_key
            self._idempotency[idempotency_key] = _Idempotent(
                method, path, copy.deepcopy(params), copy.deepcopy(response), request_id
            )
        return response

    def _replay(
        self,
        prior: _Idempotent,
        method: str,
        path: str,
        params: JSON,
        key: str,
        request_id: str,
        record: Recorded,
    ) -> _Response:
        if (prior.method, prior.path) != (method, path):
            raise StripeFakeError(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were first used "
                f"for ('{prior.method} {prior.path}' vs '{method} {path}'). Try using a key other than "
                f"'{key}' if you meant to execute a different request.",
                type_="idempotency_error",
                store=False,
            )
        if prior.params != params:
            raise StripeFakeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they were first used "
                f"with. Try using a key other than '{key}' if you meant to execute a different request.",
                type_="idempotency_error",
                store=False,
            )
        record.replayed = True
        headers = {
            **prior.response.headers,
            "Request-Id": request_id,
            "Idempotent-Replayed": "true",
            "Original-Request": prior.request_id,
        }
        return _Response(prior.response.status, prior.response.body, headers)

    def _authenticate(self, api_key: str | None) -> str:
        if api_key is None:
            raise StripeFakeError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization "
                "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
                "https://stripe.com/docs/api#authentication for details, or we can help at "
                "https://support.stripe.com/.",
                store=False,
                log_url=False,
            )
        if not api_key.startswith(self.key_prefixes):
            raise StripeFakeError(
                401, f"Invalid API Key provided: {mask_key(api_key)}", store=False, log_url=False
            )
        return api_key

    def _authorize(self, api_key: str, route: _Route, method: str) -> None:
        if api_key.startswith("rk_") and route.resource in self.restricted_denied:
            permission = f"rak_{_PERMISSION[route.resource]}_{'write' if method == 'POST' else 'read'}"
            raise StripeFakeError(
                403,
                f"The provided key '{mask_key(api_key)}' does not have the required permissions for this "
                f"endpoint on account '{self.account_id}'. Having the '{permission}' permission would allow "
                "this request to continue.",
                store=False,
            )

    def _route(self, method: str, path: str) -> tuple[_Route, str | None]:
        for route in self._routes:
            if route.method == method:
                match = route.pattern.fullmatch(path)
                if match:
                    return route, match.groupdict().get("id")
        raise StripeFakeError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help "
            "at https://support.stripe.com/.",
            store=False,
        )

    def _build_routes(self) -> list[_Route]:
        id_ = r"(?P<id>[^/]+)"
        table: list[tuple[str, str, Handler, tuple[str, ...], str]] = [
            (
                "POST",
                "/v1/products",
                self._product_create,
                ("_product_create_params.ProductCreateParams",),
                "products",
            ),
            (
                "GET",
                "/v1/products/search",
                self._product_search,
                ("_product_search_params.ProductSearchParams",),
                "products",
            ),
            (
                "GET",
                f"/v1/products/{id_}",
                self._product_retrieve,
                ("_product_retrieve_params.ProductRetrieveParams",),
                "products",
            ),
            (
                "POST",
                f"/v1/products/{id_}",
                self._product_update,
                ("_product_update_params.ProductUpdateParams", "_product_modify_params.ProductModifyParams"),
                "products",
            ),
            (
                "GET",
                "/v1/products",
                self._product_list,
                ("_product_list_params.ProductListParams",),
                "products",
            ),
            ("POST", "/v1/prices", self._price_create, ("_price_create_params.PriceCreateParams",), "prices"),
            (
                "GET",
                "/v1/prices/search",
                self._price_search,
                ("_price_search_params.PriceSearchParams",),
                "prices",
            ),
            (
                "GET",
                f"/v1/prices/{id_}",
                self._price_retrieve,
                ("_price_retrieve_params.PriceRetrieveParams",),
                "prices",
            ),
            (
                "POST",
                f"/v1/prices/{id_}",
                self._price_update,
                ("_price_update_params.PriceUpdateParams", "_price_modify_params.PriceModifyParams"),
                "prices",
            ),
            ("GET", "/v1/prices", self._price_list, ("_price_list_params.PriceListParams",), "prices"),
            (
                "POST",
                "/v1/payment_links",
                self._link_create,
                ("_payment_link_create_params.PaymentLinkCreateParams",),
                "payment_links",
            ),
            (
                "GET",
                f"/v1/payment_links/{id_}/line_items",
                self._link_line_items,
                (
                    "_payment_link_line_item_list_params.PaymentLinkLineItemListParams",
                    "_payment_link_list_line_items_params.PaymentLinkListLineItemsParams",
                ),
                "payment_links",
            ),
            (
                "GET",
                f"/v1/payment_links/{id_}",
                self._link_retrieve,
                ("_payment_link_retrieve_params.PaymentLinkRetrieveParams",),
                "payment_links",
            ),
            (
                "POST",
                f"/v1/payment_links/{id_}",
                self._link_update,
                (
                    "_payment_link_update_params.PaymentLinkUpdateParams",
                    "_payment_link_modify_params.PaymentLinkModifyParams",
                ),
                "payment_links",
            ),
            (
                "GET",
                "/v1/payment_links",
                self._link_list,
                ("_payment_link_list_params.PaymentLinkListParams",),
                "payment_links",
            ),
            (
                "GET",
                "/v1/checkout/sessions",
                self._session_list,
                ("checkout._session_list_params.SessionListParams",),
                "checkout_sessions",
            ),
            (
                "GET",
                f"/v1/checkout/sessions/{id_}/line_items",
                self._session_line_items,
                (
                    "checkout._session_line_item_list_params.SessionLineItemListParams",
                    "checkout._session_list_line_items_params.SessionListLineItemsParams",
                ),
                "checkout_sessions",
            ),
            (
                "GET",
                f"/v1/checkout/sessions/{id_}",
                self._session_retrieve,
                ("checkout._session_retrieve_params.SessionRetrieveParams",),
                "checkout_sessions",
            ),
        ]
        return [
            _Route(method, re.compile(pattern), handler, tuple(load_params_class(s) for s in specs), resource)
            for method, pattern, handler, specs, resource in table
        ]

    # -- storage helpers --------------------------------------------------------------------------

    def _objects_of(self, kind: str) -> dict[str, JSON]:
        if kind not in self._store:
            raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
        return self._store[kind]

    def _put(self, kind: str, obj: JSON) -> None:
        if obj["id"] not in self._store[kind]:
            self._seq[obj["id"]] = next(self._counter)
        self._store[kind][obj["id"]] = obj
        self._touch(kind, obj)

    def _touch(self, kind: str, obj: JSON) -> None:
        if kind in self._search_index and not self.search_lag:
            self._search_index[kind][obj["id"]] = copy.deepcopy(obj)

    def _get(self, kind: str, object_id: str | None) -> JSON:
        obj = self._store[kind].get(object_id or "")
        if obj is None:
            raise _no_such(kind, object_id or "", "id")
        return obj

    def _newest_first(self, kind: str) -> list[JSON]:
        return list(reversed(self._store[kind].values()))

    def _paginate(
        self, items: list[JSON], params: JSON, url: str, kind: str, *, newest_first: bool = True
    ) -> JSON:
        limit = self._limit(params)
        after, before = params.get("starting_after"), params.get("ending_before")
        if after and before:
            raise _invalid("You may only specify one of these parameters: ending_before, starting_after.")
        sign = -1 if newest_first else 1  # position in display order grows with sign * seq
        if after or before:
            cursor = cast(str, after or before)
            if cursor not in self._seq:
                raise _no_such(kind, cursor, "starting_after" if after else "ending_before", status=400)
            pivot = sign * self._seq[cursor]
            if after:
                rest = [item for item in items if sign * self._seq[item["id"]] > pivot]
                page, has_more = rest[:limit], len(rest) > limit
            else:
                rest = [item for item in items if sign * self._seq[item["id"]] < pivot]
                page, has_more = rest[-limit:], len(rest) > limit
        else:
            page, has_more = items[:limit], len(items) > limit
        return {"object": "list", "data": copy.deepcopy(page), "has_more": has_more, "url": url}

    @staticmethod
    def _limit(params: JSON) -> int:
        limit = cast(int, params.get("limit", 10))
        if limit < 1:
            raise _invalid("This value must be greater than or equal to 1.", param="limit", store=False)
        if limit > 100:
            raise _invalid("This value must be less than or equal to 100.", param="limit", store=False)
        return limit

    @staticmethod
    def _created_matches(obj: JSON, created: Any) -> bool:
        if created is None:
            return True
        if isinstance(created, int):
            return bool(obj["created"] == created)
        value = cast(int, obj["created"])
        checks = {"gt": value.__gt__, "gte": value.__ge__, "lt": value.__lt__, "lte": value.__le__}
        return all(checks[op](bound) for op, bound in created.items())

    def _search(self, kind: str, params: JSON, url: str) -> JSON:
        join, clauses = parse_search_query(params["query"], kind)
        limit = self._limit(params)
        page = params.get("page")
        offset = 0
        if page:
            if not re.fullmatch(r"page_\d+", page):
                raise _invalid(f"Invalid page: {page}", param="page")
            offset = int(page[5:])
        combine = all if join == "AND" else any
        indexed = self._search_index[kind]
        hits = [
            self._store[kind][object_id]
            for object_id in sorted(indexed, key=lambda i: -self._seq[i])
            if combine(_clause_matches(clause, indexed[object_id]) for clause in clauses)
        ]
        data = hits[offset : offset + limit]
        has_more = offset + limit < len(hits)
        return {
            "object": "search_result",
            "data": copy.deepcopy(data),
            "has_more": has_more,
            "next_page": f"page_{offset + limit}" if has_more else None,
            "url": url,
        }

    # -- expansion --------------------------------------------------------------------------------

    def _expand(self, obj: JSON, parts: list[str], full: str) -> None:
        key, rest = parts[0], parts[1:]
        kind = str(obj.get("object"))
        value = obj.get(key)
        if (kind, key) in _VIRTUAL:
            items = self._session_items if kind == "checkout.session" else self._link_items
            prefix = "/v1/checkout/sessions" if kind == "checkout.session" else "/v1/payment_links"
            rendered = [self._render_item(item) for item in items.get(obj["id"], [])]
            obj[key] = {
                "object": "list",
                "data": rendered[:10],
                "has_more": len(rendered) > 10,
                "url": f"{prefix}/{obj['id']}/line_items",
            }
        elif (kind, key) in _EXPANDABLE:
            if isinstance(value, str):
                obj[key] = copy.deepcopy(self._get(_EXPANDABLE[(kind, key)], value))
        elif not (rest and isinstance(value, (dict, list))):
            raise _invalid(f"This property cannot be expanded ({full}).", param="expand", store=False)
        target = obj[key]
        if rest and target is not None:
            for element in target if isinstance(target, list) else [target]:
                if isinstance(element, dict):
                    self._expand(element, rest, full)

    def _render_item(self, item: JSON) -> JSON:
        price = copy.deepcopy(self._store["price"][item["price"]])
        product = self._store["product"].get(price["product"])
        amount = (price["unit_amount"] or 0) * item["quantity"]
        rendered = copy.deepcopy(self._fixtures["item"])
        adjustable = item.get("adjustable_quantity")
        rendered.update(
            id=item["id"],
            amount_discount=0,
            amount_subtotal=amount,
            amount_tax=0,
            amount_total=amount,
            currency=price["currency"],
            description=product["name"] if product else None,
            price=price,
            quantity=item["quantity"],
            adjustable_quantity={"enabled": False, "maximum": None, "minimum": None, **adjustable}
            if adjustable
            else None,
            metadata={},
        )
        return rendered

    # -- products ---------------------------------------------------------------------------------

    def _new_product(self, params: JSON) -> JSON:
        now = int(time.time())
        product = copy.deepcopy(self._fixtures["product"])
        product.update(
            id=params.get("id") or _new_id("prod_"),
            livemode=False,
            created=now,
            updated=now,
            active=True,
            default_price=None,
            description=None,
            images=[],
            marketing_features=[],
            metadata={},
            package_dimensions=None,
            shippable=None,
            statement_descriptor=None,
            tax_code=None,
            unit_label=None,
            url=None,
            type="service",
        )
        skip = {"id", "expand", "metadata", "default_price_data", "tax_details"}
        for key, value in params.items():
            if key not in skip:
                product[key] = value
        product["metadata"] = _metadata(None, params.get("metadata") or {})
        if (params.get("tax_details") or {}).get("tax_code"):
            product["tax_code"] = params["tax_details"]["tax_code"]
        self._put("product", product)
        return product

    def _product_create(self, params: JSON, _: str | None) -> JSON:
        if params.get("id") and params["id"] in self._store["product"]:
            raise _invalid("Product already exists.", param="id", code="resource_already_exists")
        price_data = params.get("default_price_data")
        if price_data is not None:
            self._check_price_amount(price_data, "default_price_data")
        product = self._new_product(params)
        if price_data is not None:
            price = self._new_price({**price_data, "product": product["id"]})
            product["default_price"] = price["id"]
            self._touch("product", product)
        return copy.deepcopy(product)

    def _product_retrieve(self, params: JSON, object_id: str | None) -> JSON:
        return copy.deepcopy(self._get("product", object_id))

    def _product_update(self, params: JSON, object_id: str | None) -> JSON:
        product = self._get("product", object_id)
        default_price = params.get("default_price")
        if default_price is not None:
            price = self._store["price"].get(default_price)
            if price is None:
                raise _no_such("price", default_price, "default_price", status=400)
            if price["product"] != product["id"]:
                raise _invalid(
                    f"The price `{default_price}` does not belong to product `{product['id']}`.",
                    param="default_price",
                )
        for key, value in params.items():
            if key in ("expand", "metadata", "tax_details"):
                continue
            if value is None and key in ("images", "marketing_features"):
                value = []
            product[key] = value
        if "metadata" in params:
            product["metadata"] = _metadata(product["metadata"], params["metadata"])
        if "tax_details" in params:
            product["tax_code"] = (params["tax_details"] or {}).get("tax_code")
        product["updated"] = int(time.time())
        self._touch("product", product)
        return copy.deepcopy(product)

    def _product_list(self, params: JSON, _: str | None) -> JSON:
        ids = params.get("ids")
        items = [
            product
            for product in self._newest_first("product")
            if all(
                params.get(key) is None or product.get(key) == params[key]
                for key in ("active", "shippable", "type", "url")
            )
            and (ids is None or product["id"] in ids)
            and self._created_matches(product, params.get("created"))
        ]
        return self._paginate(items, params, "/v1/products", "product")

    def _product_search(self, params: JSON, _: str | None) -> JSON:
        return self._search("product", params, "/v1/products/search")

    # -- prices -----------------------------------------------------------------------------------

    @staticmethod
    def _check_price_amount(params: JSON, prefix: str = "") -> None:
        if params.get("billing_scheme") == "tiered":
            return
        if all(
            params.get(key) is None for key in ("unit_amount", "unit_amount_decimal", "custom_unit_amount")
        ):
            raise _missing(f"{prefix}[unit_amount]" if prefix else "unit_amount")
        amount = params.get("unit_amount")
        if amount is not None and not 0 <= amount <= MAX_UNIT_AMOUNT:  # eight digits, whatever the currency
            bound = "less than or equal to 99999999" if amount > 0 else "greater than or equal to 0"
            raise _invalid(
                f"This value must be {bound}.",
                param=f"{prefix}[unit_amount]" if prefix else "unit_amount",
                code="parameter_invalid_integer",
            )

    def _lookup_key_holder(self, lookup_key: str | None, exclude: str | None = None) -> JSON | None:
        if not lookup_key:
            return None
        return next(
            (
                p
                for p in self._store["price"].values()
                if p["lookup_key"] == lookup_key and p["id"] != exclude
            ),
            None,
        )

    def _new_price(self, params: JSON, *, active: bool = True) -> JSON:
        now = int(time.time())
        price = copy.deepcopy(self._fixtures["price"])
        price.update(
            id=_new_id("price_"),
            livemode=False,
            created=now,
            active=params.get("active", active),
            billing_scheme=params.get("billing_scheme", "per_unit"),
            currency=str(params["currency"]).lower(),
            custom_unit_amount=None,
            lookup_key=params.get("lookup_key"),
            metadata=_metadata(None, params.get("metadata") or {}),
            nickname=params.get("nickname"),
            product=params["product"],
            recurring=None,
            tax_behavior=params.get("tax_behavior", "unspecified"),
            tiers_mode=params.get("tiers_mode"),
            transform_quantity=params.get("transform_quantity"),
            type="one_time",
            unit_amount=None,
            unit_amount_decimal=None,
        )
        if params.get("unit_amount") is not None:
            price["unit_amount"] = params["unit_amount"]
            price["unit_amount_decimal"] = str(params["unit_amount"])
        elif params.get("unit_amount_decimal") is not None:
            decimal = Decimal(params["unit_amount_decimal"])
            price["unit_amount_decimal"] = str(params["unit_amount_decimal"])
            price["unit_amount"] = int(decimal) if decimal == decimal.to_integral_value() else None
        if params.get("custom_unit_amount"):
            custom = params["custom_unit_amount"]
            price["custom_unit_amount"] = {key: custom.get(key) for key in ("maximum", "minimum", "preset")}
        if params.get("recurring"):
            recurring = params["recurring"]
            price["type"] = "recurring"
            price["recurring"] = {
                "interval": recurring["interval"],
                "interval_count": recurring.get("interval_count", 1),
                "meter": recurring.get("meter"),
                "trial_period_days": recurring.get("trial_period_days"),
                "usage_type": recurring.get("usage_type", "licensed"),
            }
        self._put("price", price)
        return price

    def _price_create(self, params: JSON, _: str | None) -> JSON:
        product_id, product_data = params.get("product"), params.get("product_data")
        if product_id is None and product_data is None:
            raise _missing("product")
        if product_id is not None and product_data is not None:
            raise _invalid(
                "You may only specify one of these parameters: product, product_data.", param="product"
            )
        if product_id is not None and product_id not in self._store["product"]:
            raise _no_such("product", product_id, "product", status=400)
        self._check_price_amount(params)
        holder = self._lookup_key_holder(params.get("lookup_key"))
        if holder is not None and not params.get("transfer_lookup_key"):
            raise _invalid(
                f"A price (`{holder['id']}`) already uses that lookup key. Pass `transfer_lookup_key=true` "
                "to move it to this price.",
                param="lookup_key",
            )
        if product_data is not None:
            product_id = self._new_product(product_data)["id"]
        if holder is not None:
            holder["lookup_key"] = None
            self._touch("price", holder)
        fields = {
            key: value for key, value in params.items() if key not in ("product_data", "transfer_lookup_key")
        }
        return copy.deepcopy(self._new_price({**fields, "product": product_id}))

    def _price_retrieve(self, params: JSON, object_id: str | None) -> JSON:
        return copy.deepcopy(self._get("price", object_id))

    def _price_update(self, params: JSON, object_id: str | None) -> JSON:
        price = self._get("price", object_id)
        lookup_key = params.get("lookup_key") or None
        holder = self._lookup_key_holder(lookup_key, exclude=price["id"])
        if holder is not None and not params.get("transfer_lookup_key"):
            raise _invalid(
                f"A price (`{holder['id']}`) already uses that lookup key. Pass `transfer_lookup_key=true` "
                "to move it to this price.",
                param="lookup_key",
            )
        tax_behavior = params.get("tax_behavior")
        if tax_behavior and price["tax_behavior"] not in ("unspecified", tax_behavior):
            raise _invalid(
                "tax_behavior cannot be changed once it is set to 'inclusive' or 'exclusive'.",
                param="tax_behavior",
            )
        if holder is not None:
            holder["lookup_key"] = None
            self._touch("price", holder)
        if "lookup_key" in params:
            price["lookup_key"] = lookup_key
        for key in ("active", "nickname", "tax_behavior"):
            if key in params:
                price[key] = params[key] if params[key] != "" else None
        if "metadata" in params:
            price["metadata"] = _metadata(price["metadata"], params["metadata"])
        self._touch("price", price)
        return copy.deepcopy(price)

    def _price_list(self, params: JSON, _: str | None) -> JSON:
        lookup_keys = params.get("lookup_keys")
        if lookup_keys is not None and len(lookup_keys) > 10:
            raise _invalid("You may only specify up to 10 lookup_keys.", param="lookup_keys", store=False)
        recurring = params.get("recurring") or {}
        items = [
            price
            for price in self._newest_first("price")
            if all(
                params.get(key) is None or price.get(key) == params[key]
                for key in ("active", "currency", "product", "type")
            )
            and (lookup_keys is None or price["lookup_key"] in lookup_keys)
            and all((price["recurring"] or {}).get(key) == value for key, value in recurring.items())
            and self._created_matches(price, params.get("created"))
        ]
        return self._paginate(items, params, "/v1/prices", "price")

    def _price_search(self, params: JSON, _: str | None) -> JSON:
        return self._search("price", params, "/v1/prices/search")

    # -- payment links ----------------------------------------------------------------------------

    @staticmethod
    def _after_completion(value: JSON) -> JSON:
        kind = value["type"]
        out: JSON = {"type": kind}
        if kind == "hosted_confirmation":
            out["hosted_confirmation"] = {"custom_message": None, **(value.get("hosted_confirmation") or {})}
        elif kind == "redirect":
            if not value.get("redirect"):
                raise _missing("after_completion[redirect]")
            out["redirect"] = dict(value["redirect"])
        return out

    def _link_fields(self, link: JSON, params: JSON, skip: set[str]) -> None:
        """Set the link fields the request decides (validated first: raises before any change)."""
        updates: JSON = {}
        for key, value in params.items():
            if key in skip:
                continue
            if key == "after_completion":
                updates[key] = self._after_completion(value)
            elif key == "restrictions":
                if value is None:
                    updates[key] = None
                else:
                    limit = value["completed_sessions"]["limit"]
                    if limit < 1:
                        raise _invalid(
                            "This value must be greater than or equal to 1.",
                            param="restrictions[completed_sessions][limit]",
                        )
                    count = ((link.get("restrictions") or {}).get("completed_sessions") or {}).get("count", 0)
                    updates[key] = {"completed_sessions": {"count": count, "limit": limit}}
            elif value is None:
                updates[key] = [] if key in ("custom_fields", "shipping_options") else None
            elif key in _PAYMENT_LINK_TEMPLATES and isinstance(value, dict):
                updates[key] = _deep_merge(_PAYMENT_LINK_TEMPLATES[key], value)
            else:
                updates[key] = copy.deepcopy(value)
        link.update(updates)
        if "metadata" in params:
            link["metadata"] = _metadata(link.get("metadata"), params["metadata"])

    def _link_create(self, params: JSON, _: str | None) -> JSON:
        line_items: list[JSON] = params["line_items"]
        if not line_items:
            raise _missing("line_items")
        if len(line_items) > 20:
            raise _invalid("You may only specify up to 20 line items.", param="line_items")
        prices: list[JSON | None] = []
        for index, item in enumerate(line_items):
            name = f"line_items[{index}]"
            if item.get("price") is None and item.get("price_data") is None:
                raise _missing(f"{name}[price]")
            if item["quantity"] < 1:
                raise _invalid("This value must be greater than or equal to 1.", param=f"{name}[quantity]")
            if item.get("price") is not None:
                price = self._store["price"].get(item["price"])
                if price is None:
                    raise _no_such("price", item["price"], f"{name}[price]", status=400)
                if not price["active"]:
                    raise _invalid(f"The price `{price['id']}` is not active.", param=f"{name}[price]")
                prices.append(price)
            else:
                price_data = item["price_data"]
                if price_data.get("product") is None and price_data.get("product_data") is None:
                    raise _missing(f"{name}[price_data][product]")
                if (
                    price_data.get("product") is not None
                    and price_data["product"] not in self._store["product"]
                ):
                    raise _no_such(
                        "product", price_data["product"], f"{name}[price_data][product]", status=400
                    )
                self._check_price_amount(price_data, f"{name}[price_data]")
                prices.append(None)
        currencies = {price["currency"] for price in prices if price is not None}
        currencies |= {
            str(item["price_data"]["currency"]).lower() for item in line_items if item.get("price_data")
        }
        if len(currencies) > 1:
            raise _invalid("All line items must use the same currency.", param="line_items")
        link = copy.deepcopy(self._fixtures["payment_link"])
        link_id = _new_id("plink_")
        link.update(
            id=link_id,
            livemode=False,
            active=True,
            after_completion={"hosted_confirmation": {"custom_message": None}, "type": "hosted_confirmation"},
            allow_promotion_codes=False,
            application=None,
            application_fee_amount=None,
            application_fee_percent=None,
            automatic_tax={"enabled": False, "liability": None},
            billing_address_collection="auto",
            consent_collection=None,
            currency=str(params.get("currency") or currencies.pop()).lower(),
            custom_fields=[],
            custom_text=copy.deepcopy(_PAYMENT_LINK_TEMPLATES["custom_text"]),
            customer_creation="if_required",
            inactive_message=None,
            invoice_creation={"enabled": False, "invoice_data": None},
            managed_payments=None,
            metadata={},
            name_collection=None,
            on_behalf_of=None,
            optional_items=None,
            payment_intent_data=None,
            payment_method_collection="always",
            payment_method_options=None,
            payment_method_types=None,
            phone_number_collection={"enabled": False},
            restrictions=None,
            shipping_address_collection=None,
            shipping_options=[],
            submit_type="auto",
            subscription_data=None,
            tax_id_collection={"enabled": False, "required": "never"},
            transfer_data=None,
            url="https://buy.stripe.com/test_" + _token(22),
        )
        link.pop("line_items", None)
        self._link_fields(link, params, {"line_items", "expand", "metadata", "currency"})
        items: list[JSON] = []
        for item, price in zip(line_items, prices, strict=True):
            if price is None:
                price_data = dict(item["price_data"])
                product_data = price_data.pop("product_data", None)
                if product_data is not None:
                    price_data["product"] = self._new_product(product_data)["id"]
                price = self._new_price(price_data, active=False)
            adjustable = item.get("adjustable_quantity")
            items.append(
                {
                    "id": _new_id("li_"),
                    "price": price["id"],
                    "quantity": item["quantity"],
                    "adjustable_quantity": adjustable,
                }
            )
            self._seq[items[-1]["id"]] = next(self._counter)
        if link["subscription_data"] is None and any(
            self._store["price"][i["price"]]["type"] == "recurring" for i in items
        ):
            link["subscription_data"] = copy.deepcopy(_PAYMENT_LINK_TEMPLATES["subscription_data"])
        self._link_items[link_id] = items
        self._put("payment_link", link)
        return copy.deepcopy(link)

    def _link_retrieve(self, params: JSON, object_id: str | None) -> JSON:
        return copy.deepcopy(self._get("payment_link", object_id))

    def _link_update(self, params: JSON, object_id: str | None) -> JSON:
        link = self._get("payment_link", object_id)
        items = {item["id"]: item for item in self._link_items[link["id"]]}
        changes: list[tuple[JSON, JSON]] = []
        for index, update in enumerate(params.get("line_items") or []):
            item = items.get(update["id"])
            if item is None:
                raise _no_such("line item", update["id"], f"line_items[{index}][id]", status=400)
            if update.get("quantity") is not None and update["quantity"] < 1:
                raise _invalid(
                    "This value must be greater than or equal to 1.", param=f"line_items[{index}][quantity]"
                )
            changes.append((item, update))
        self._link_fields(link, params, {"line_items", "expand", "metadata"})
        for item, update in changes:
            if update.get("quantity") is not None:
                item["quantity"] = update["quantity"]
            if "adjustable_quantity" in update:
                item["adjustable_quantity"] = update["adjustable_quantity"]
        return copy.deepcopy(link)

    def _link_list(self, params: JSON, _: str | None) -> JSON:
        active = params.get("active")
        items = [
            link for link in self._newest_first("payment_link") if active is None or link["active"] == active
        ]
        return self._paginate(items, params, "/v1/payment_links", "payment_link")

    def _link_line_items(self, params: JSON, object_id: str | None) -> JSON:
        link = self._get("payment_link", object_id)
        items = [self._render_item(item) for item in self._link_items[link["id"]]]
        return self._paginate(
            items, params, f"/v1/payment_links/{link['id']}/line_items", "item", newest_first=False
        )

    # -- checkout sessions ------------------------------------------------------------------------

    def _session_list(self, params: JSON, _: str | None) -> JSON:
        email = (params.get("customer_details") or {}).get("email")
        items = [
            session
            for session in self._newest_first("checkout.session")
            if all(
                params.get(key) is None or session.get(key) == params[key]
                for key in ("payment_link", "status", "payment_intent", "customer", "subscription")
            )
            and (email is None or (session.get("customer_details") or {}).get("email") == email)
            and self._created_matches(session, params.get("created"))
        ]
        return self._paginate(items, params, "/v1/checkout/sessions", "checkout.session")

    def _session_retrieve(self, params: JSON, object_id: str | None) -> JSON:
        return copy.deepcopy(self._get("checkout.session", object_id))

    def _session_line_items(self, params: JSON, object_id: str | None) -> JSON:
        session = self._get("checkout.session", object_id)
        items = [self._render_item(item) for item in self._session_items[session["id"]]]
        url = f"/v1/checkout/sessions/{session['id']}/line_items"
        return self._paginate(items, params, url, "item", newest_first=False)


# -- webhooks, signed as Stripe signs them ---------------------------------------------------------


def signed_event(
    secret: str,
    event_type: str,
    obj: JSON,
    *,
    created: int | None = None,
    event_id: str | None = None,
    signed_at: int | None = None,
) -> tuple[bytes, str]:
    """The body and `Stripe-Signature` header of one event, as Stripe sends them: `t=<unix time>,v1=<hex
    HMAC-SHA256 of "<t>.<body>" under the endpoint's secret>` (docs.stripe.com/webhooks, "Verify
    webhook signatures manually")."""
    import hashlib
    import hmac

    now = int(time.time())
    body = json.dumps(
        {
            "id": event_id or _new_id("evt_"),
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": now if created is None else created,
            "livemode": False,
            "pending_webhooks": 1,
            "type": event_type,
            "data": {"object": obj},
        }
    ).encode("utf-8")
    at = now if signed_at is None else signed_at
    mac = hmac.new(secret.encode("utf-8"), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={at},v1={mac}"


def refunded_charge(payment_intent: str, amount_refunded: int) -> JSON:
    """The `charge` of a `charge.refunded` event, as far as a receiver reads it."""
    return {
        "id": _new_id("ch_"),
        "object": "charge",
        "payment_intent": payment_intent,
        "amount_refunded": amount_refunded,
        "refunded": True,
        "livemode": False,
    }

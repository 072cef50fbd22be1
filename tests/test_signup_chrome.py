"""The sign-up in real headless Chromium: from a form on another site to the confirmed reader and the
preference page, the hosted page with its proof-of-work widget, and axe-core's WCAG 2 A/AA rules on
every page a reader sees.

The pages live at the public https URL of `[signup] url`; the browser's requests there are routed to
the app on waitress (127.0.0.1), as a reverse proxy would pass them, and the logo is a 1×1 PNG (no
network here). axe-core is vendored in tests/fixtures/axe/ (its README says which version and how to
refresh it); the pages' CSP allows no script of ours, so the axe runs alone bypass it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from newsletter.store import open_store
from tests.conftest import Run
from tests.test_review_pages import fixture_browser, fixture_chromium  # noqa: F401 - fixtures
from tests.test_signup import BASE, Desk, desk, link_in
from tests.test_web_app import LOGO_PNG

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from playwright.sync_api import Browser, BrowserContext, Page, Route

__all__ = ["desk"]  # the fixture, used by name

PUBLIC = "https://www.uitgeverijlindenhof.nl"
CAMPAIGN = "2026-12-schrijven"
AXE = Path(__file__).parent / "fixtures" / "axe" / "axe.min.js"
TIMEOUT_MS = 5000  # every page answers in milliseconds; this only bounds a failure
SOLVE_MS = 15000  # the widget's proof of work: max_number 50 000, well under a second here
# Only what a reader could be shown wrongly: the rule, its nodes and why, not axe's whole report.
AXE_RUN = """async () => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa"]}});
  const brief = v => ({
    id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html, why: n.failureSummary})),
  });
  return {violations: result.violations.map(brief), passed: result.passes.length};
}"""
# Reported as console errors, where `watched` collects them: Chromium logs a violation there too, but
# in words of its own.
REPORT_CSP = """document.addEventListener("securitypolicyviolation", e =>
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`));"""


# -- the browser side ---------------------------------------------------------------------------------------


class Shop:
    """Another site (another origin) with the form of `newsletter form` pasted into one of its pages."""

    def __init__(self, form: str) -> None:
        page = (
            '<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Boekhandel De Winkel</title>'
            f"</head><body><main><h1>Boekhandel De Winkel</h1>\n{form}</main></body></html>"
        ).encode()

        def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            if environ["PATH_INFO"] != "/":
                start_response("404 Not Found", [("Content-Type", "text/plain")])
                return [b"not found"]
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [page]

        self.server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
        assert not self.thread.is_alive(), "the shop's server did not stop"


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class Proxy:
    """The public site, as a reverse proxy in front of the app would serve it: the sign-up's URLs go
    to the app, the logo is a PNG, anything else is a 404. A redirect goes back to the browser, which
    follows it itself (through here again: its Location is a path of the public site)."""

    def __init__(self, desk: Desk) -> None:
        self.app = desk.server.url
        self.logo = urlsplit(desk.newsletter.settings.brand.logo_url).path
        self.seen: list[str] = []  # "METHOD /path status", in order

    def __call__(self, route: Route) -> None:
        parts = urlsplit(route.request.url)
        if parts.path == self.logo:
            route.fulfill(body=LOGO_PNG, content_type="image/png")
            status = 200
        elif parts.path == BASE or parts.path.startswith(BASE + "/"):
            query = f"?{parts.query}" if parts.query else ""
            answer = route.fetch(url=f"{self.app}{parts.path}{query}", max_redirects=0)
            route.fulfill(response=answer)
            status = answer.status
        else:
            route.fulfill(status=404, body="not found", content_type="text/plain")
            status = 404
        self.seen.append(f"{route.request.method} {parts.path} {status}")


@pytest.fixture(name="proxy")
def fixture_proxy(desk: Desk) -> Proxy:
    return Proxy(desk)


def open_context(browser: Browser, proxy: Proxy, *, bypass_csp: bool = False) -> BrowserContext:
    context = browser.new_context(bypass_csp=bypass_csp)
    context.set_default_timeout(TIMEOUT_MS)
    context.route(f"{PUBLIC}/**", proxy)
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    return context


@pytest.fixture(name="context")
def fixture_context(browser: Browser, proxy: Proxy) -> Iterator[BrowserContext]:
    """A browser whose requests to the public site reach the app."""
    context = open_context(browser, proxy)
    try:
        yield context
    finally:
        context.close()


def watched(context: BrowserContext) -> tuple[Page, list[str]]:
    """A new page, and the list its console errors (a CSP violation is one) and uncaught errors go to."""
    page = context.new_page()
    page.add_init_script(REPORT_CSP)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page, problems


def wait_until_solved(page: Page) -> None:
    """The widget has solved its challenge (auto="onload"). Waited for with a selector: the page's CSP
    forbids the string evaluation that page.wait_for_function needs."""
    page.locator(".altcha[data-state=verified]").wait_for(state="attached", timeout=SOLVE_MS)
    assert page.locator("input[name=altcha]").input_value(), "verified, but nothing to post"


def public(path_and_query: str) -> str:
    return PUBLIC + path_and_query


# -- the whole journey ------------------------------------------------------------------------------------


def test_from_a_form_on_another_site_to_a_confirmed_reader_with_preferences(
    desk: Desk, context: BrowserContext, proxy: Proxy, run: Run
) -> None:
    shop = Shop(desk.newsletter.signup_form("nl", name="winkel"))
    try:
        page, problems = watched(context)
        page.goto(shop.url)
        page.get_by_label("E-mailadres").fill("Lies@Example.nl")
        page.get_by_label("Naam (niet verplicht)").fill("Lies de Vries")
        page.get_by_label("Nieuwe boeken").check()
        page.get_by_role("button", name="Aanmelden").click()
        page.wait_for_url(public(f"{BASE}/nl/ok"))  # the 303, followed by the browser
        assert page.locator("h1").inner_text() == "Kijk in je inbox"
        assert proxy.seen[:2] == [f"POST {BASE}/nl 303", f"GET {BASE}/nl/ok 200"]
    finally:
        shop.stop()
    assert desk.status("lies@example.nl") == "unconfirmed"

    (mail,) = desk.mails(1)
    assert mail.rcpt_tos == ["Lies@example.nl"]
    page.goto(public(link_in(mail, "confirm")))
    assert page.locator("h1").inner_text() == "Bevestig je aanmelding"
    assert desk.status("lies@example.nl") == "unconfirmed", "showing the button confirms nothing"
    page.get_by_role("button", name="Ja, meld mij aan").click()
    page.get_by_role("heading", name="Je bent aangemeld").wait_for()
    assert desk.status("lies@example.nl") == "active"

    dry = desk.newsletter.dry_run(CAMPAIGN)
    assert "lies@example.nl" in [r.email.lower() for r in dry.audit.recipients], dry.audit.plan.excluded
    reader = desk.subscriber("lies@example.nl")
    assert (reader.name, reader.locale, reader.topics) == ("Lies de Vries", "nl", ("boeken",))

    page.goto(desk.signups.preferences_url(reader))
    assert page.locator("h1").inner_text() == "Je voorkeuren"
    assert page.get_by_text("Adres: l•••@example.nl").is_visible()
    page.get_by_label("Taal van de nieuwsbrief").select_option("en")
    page.get_by_label("Nieuwe boeken").uncheck()
    page.get_by_label("Columns").check()
    page.get_by_role("button", name="Opslaan").click()
    page.get_by_role("status").filter(has_text="Your preferences have been saved.").wait_for()
    assert page.locator("html").get_attribute("lang") == "en"
    assert problems == []

    person = desk.newsletter.person("lies@example.nl")
    assert (person.subscriber.locale, person.subscriber.topics) == ("en", ("columns",))
    consent, chosen_later = person.consents  # the topic ticked on the preference page is a consent too
    assert (chosen_later.source, chosen_later.topics) == ("preferences", ("columns",))
    assert consent.source == "form:winkel" and consent.topics == ("boeken",)
    assert consent.confirmed_at == "2026-12-07T10:00:00Z"
    assert consent.confirmation_message_id == mail.message["Message-ID"]
    assert consent.text == desk.signups.consent_text("nl")

    shown = run("audience", "show", "lies@example.nl")
    assert shown.exit_code == 0, shown.output
    assert f"via form:winkel (text version {consent.version}), confirmed 2026-12-07T10:00:00Z" in shown.output
    assert f"    text: {consent.text}" in shown.output
    assert mail.message["Message-ID"] in shown.output


# -- the hosted page and its widget --------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["nl", "en"])
def test_the_hosted_page_s_widget_solves_on_load_and_its_answer_lifts_the_limit(
    desk: Desk, context: BrowserContext, locale: str
) -> None:
    # The browser posts from 127.0.0.1, the network that already signed up 3 times without the
    # widget: its sign-up now gets through only if the server accepts the widget's answer.
    for n in range(3):
        assert desk.sign_up(f"lezer{n}@example.nl", ip="127.0.0.1").status == 303
    assert desk.sign_up("lezer3@example.nl", ip="127.0.0.1").status == 429
    page, problems = watched(context)
    path = BASE if locale == "nl" else f"{BASE}/en"
    page.goto(desk.server.url + path)
    assert page.locator("html").get_attribute("lang") == locale
    wait_until_solved(page)
    assert page.locator(".altcha").evaluate("e => getComputedStyle(e).borderTopWidth") == "1px", (
        "altcha.css is blocked by the CSP"
    )
    desk.clock.advance(seconds=4)  # the `started` token: a form sent faster than min_fill_seconds is ignored
    words = {"nl": ("E-mailadres", "Aanmelden"), "en": ("Email address", "Sign up")}[locale]
    page.get_by_label(words[0]).fill("widget@example.nl")
    page.get_by_role("button", name=words[1]).click()
    page.wait_for_url(f"{desk.server.url}{BASE}/{locale}/ok")
    assert desk.status("widget@example.nl") == "unconfirmed"
    assert desk.subscriber("widget@example.nl").locale == locale
    assert problems == []
    with open_store(desk.newsletter.project) as store:
        used = store.connection.execute("SELECT count(*) FROM used_challenges").fetchone()[0]
    assert used == 1


# -- axe-core -----------------------------------------------------------------------------------------------


@pytest.fixture(name="axe_context")
def fixture_axe_context(browser: Browser, proxy: Proxy) -> Iterator[BrowserContext]:
    """As `context`, but the pages' CSP is bypassed so that axe-core's script may be injected."""
    context = open_context(browser, proxy, bypass_csp=True)
    try:
        yield context
    finally:
        context.close()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=AXE)
    found: dict[str, Any] = page.evaluate(AXE_RUN)
    assert found["passed"], f"axe passed no rule on {page.url}: did it run?"
    violations: list[dict[str, Any]] = found["violations"]
    return violations


def readable(report: dict[str, list[dict[str, Any]]]) -> str:
    lines = []
    for name, violations in report.items():
        for v in violations:
            lines.append(f"{name}: {v['id']} ({v['impact']}): {v['help']} <{v['url']}>")
            for node in v["nodes"]:
                lines.append(f"    {node['target']}: {node['html'][:200]}")
                lines.extend(f"        {why}" for why in str(node["why"]).splitlines())
    return "\n".join(lines)


class Audit:
    """axe on each page as the test goes, the violations of all of them reported together."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.report: dict[str, list[dict[str, Any]]] = {}

    def check(self, name: str, heading: str) -> None:
        assert self.page.locator("h1").inner_text() == heading, name
        self.report[name] = axe_violations(self.page)

    def assert_clean(self) -> None:
        failing = {name: found for name, found in self.report.items() if found}
        assert not failing, "axe-core (WCAG 2 A/AA) found:\n" + readable(failing)


def test_the_sign_up_pages_pass_axe(desk: Desk, axe_context: BrowserContext) -> None:
    page = axe_context.new_page()
    audit = Audit(page)
    shop = Shop(desk.newsletter.signup_form("en", name="winkel"))
    try:
        page.goto(shop.url)
        audit.check("the form of `newsletter form`, on another site", "Boekhandel De Winkel")
    finally:
        shop.stop()
    for locale, path, heading in (
        ("nl", BASE, "Aanmelden voor de nieuwsbrief"),
        ("en", f"{BASE}/en", "Sign up for the newsletter"),
    ):
        page.goto(public(path))
        wait_until_solved(page)  # the widget's own markup, as the reader sees it
        audit.check(f"sign-up page ({locale})", heading)
    page.goto(public(BASE))
    wait_until_solved(page)
    page.get_by_label("E-mailadres").fill("geen-adres")
    page.get_by_role("button", name="Aanmelden").click()
    page.get_by_role("alert").wait_for()
    wait_until_solved(page)
    audit.check("sign-up page with a field error", "Aanmelden voor de nieuwsbrief")
    assert page.get_by_label("E-mailadres").get_attribute("aria-invalid") == "true"
    assert desk.status("geen-adres") is None
    audit.assert_clean()


def test_the_confirmation_preference_data_and_expired_pages_pass_axe(
    desk: Desk, axe_context: BrowserContext
) -> None:
    page = axe_context.new_page()
    audit = Audit(page)
    assert desk.sign_up("lies@example.nl", name="Lies", topics=["boeken"]).status == 303
    page.goto(public(f"{BASE}/nl/ok"))
    audit.check("check-your-inbox page", "Kijk in je inbox")
    confirm = public(link_in(desk.mails(1)[0], "confirm"))
    page.goto(confirm)
    audit.check("confirm page", "Bevestig je aanmelding")
    page.get_by_role("button", name="Ja, meld mij aan").click()
    page.get_by_role("heading", name="Je bent aangemeld").wait_for()
    audit.check("confirmed page", "Je bent aangemeld")

    page.goto(desk.signups.preferences_url(desk.subscriber("lies@example.nl")))
    audit.check("preference page (nl)", "Je voorkeuren")
    page.get_by_role("button", name="Stuur mij mijn gegevens").click()
    page.get_by_text("We hebben een link naar je e-mailadres gestuurd.").wait_for()
    audit.check("preference page, data link sent (nl)", "Je voorkeuren")
    page.get_by_label("Taal van de nieuwsbrief").select_option("en")
    page.get_by_role("button", name="Opslaan").click()
    page.get_by_role("status").wait_for()
    audit.check("preference page, saved (en)", "Your preferences")
    page.goto(desk.signups.preferences_url(desk.subscriber("lies@example.nl")))
    audit.check("preference page (en)", "Your preferences")

    (_, data_mail) = desk.mails(2)
    page.goto(public(link_in(data_mail, "data")))
    assert page.get_by_text("form:hosted").count() == 1
    audit.check("data page (en)", "What we keep about you")

    desk.clock.advance(days=7, seconds=1)
    page.goto(confirm)
    audit.check("expired-link page", "Deze link werkt niet meer")
    audit.assert_clean()

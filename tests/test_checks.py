"""`newsletter check`: every rule has a campaign that triggers it and one that passes.

Each case makes one small edit to the copied sample project (a campaign, a book, newsletter.toml or a
template), runs the command as a user would, and asserts the campaign's exact findings (rule,
severity, where) in the JSON output, in order, and the exit codes with and without --strict.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from newsletter.project import price_law
from newsletter.project.campaign import Book, Campaign, load_campaigns
from newsletter.project.settings import open_project
from newsletter.render.links import Link, LinkKind
from newsletter.render.renderer import Renderer
from newsletter.review.checks import RULES, Rule, check_campaign
from newsletter.review.checks.registry import registered, rule
from tests.conftest import Run, write

SCHRIJVEN = "2026-12-schrijven"
PAPER = "2026-12-paper"
SITE = "https://www.uitgeverijlindenhof.nl"
DECO = f"{SITE}/static/deco.png"
ELSEWHERE = "https://www.boekenweek.nl/"  # somebody else's site: no UTM expected
IMG3 = f"<img> #3 (src={DECO})"  # after the logo and the book cover
FOOTER_LINK = '<a> #6 ("Bekijk deze e-mail in je brow…")'

Edit = Callable[[Path], object]
Expected = list[tuple[str, str, str]]  # (rule, severity, where), in the order the command sorts them


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path} no longer contains {old!r}: update this test"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def edit(relative: str, old: str, new: str) -> Edit:
    return lambda root: replace(root / relative, old, new)


def edits(*steps: Edit) -> Edit:
    def apply(root: Path) -> None:
        for step in steps:
            step(root)

    return apply


def template(old: str, new: str) -> Edit:
    return edit("templates/email.mjml.j2", old, new)


def raw(html: str) -> Edit:
    """Put some HTML of the template author's own at the end of the email body."""
    return template("  </mj-body>", f"    <mj-raw>{html}</mj-raw>\n  </mj-body>")


def dark_rule(css: str) -> Edit:
    """Add a rule to the end of the template's `@media (prefers-color-scheme: dark)` block."""
    end = "        .email-body .book-block td { border-top-color: {{ dark.rule }} !important; }\n"
    return template(end, f"{end}        {css}\n")


def campaign(old: str, new: str) -> Edit:
    return edit(f"campaigns/{SCHRIJVEN}.yaml", old, new)


def settings(old: str, new: str) -> Edit:
    return edit("newsletter.toml", old, new)


def book(old: str, new: str) -> Edit:
    return edit("books/schrijven-is-schrappen.yaml", old, new)


def append_settings(text: str) -> Edit:
    def apply(root: Path) -> None:
        path = root / "newsletter.toml"
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")

    return apply


def lock_file(*links: dict[str, Any]) -> Edit:
    return lambda root: write(
        root / "payments.lock.json", json.dumps({"version": 1, "links": list(links)}, indent=2)
    )


def long_campaign(sentences: int) -> Edit:
    excerpt = " ".join(["Een zin die de nieuwsbrief heel erg lang maakt."] * sentences)
    return lambda root: write(
        root / "campaigns" / "lang.yaml",
        "subject: Een lange nieuwsbrief\n"
        "preheader: Marieke de Wit over het rode potlood, en nog heel veel meer.\n"
        "teasers:\n  - column: de-kunst-van-het-weglaten.txt\n"
        f"    url: {SITE}/columns/lang\n    excerpt: {excerpt}\nbooks: [schrijven-is-schrappen]\n",
    )


SCHRIJVEN_SUBJECT = "De kunst van het weglaten – en een boek dat je erbij helpt"
SCHRIJVEN_PREHEADER = "Marieke de Wit over het rode potlood, plus onze praktische gids voor heldere taal."
TEST_LINK = {
    "campaign": SCHRIJVEN,
    "sku": "schrijven-is-schrappen",
    "amount": 3495,
    "currency": "eur",
    "mode": "test",
    "product": "prod_test",
    "price": "price_test",
    "payment_link": "plink_test",
    "url": "https://buy.stripe.com/test_7sIe2abc",
    "active": True,
}


@dataclass(frozen=True)
class Case:
    name: str
    edit: Edit
    expected: Expected
    campaign: str = SCHRIJVEN
    secret: bool = True  # NEWSLETTER_UNSUBSCRIBE_SECRET set, as where campaigns are sent from


@pytest.fixture(autouse=True)
def unsubscribe_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """`check` reports what stops a real send, a missing unsubscribe secret too: set it, as on the
    machine that sends."""
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", "a-test-secret-of-enough-length")


@pytest.fixture(autouse=True)
def today(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules of the fixed book price law compare with the day: 15 December 2026 here."""
    monkeypatch.setattr(price_law, "today", lambda: date(2026, 12, 15))


CASES = [
    # -- size
    Case("size-warning", long_campaign(1500), [("html-size", "warning", "email.html")], "lang"),
    Case("size-error", long_campaign(2500), [("html-size", "error", "email.html")], "lang"),
    # -- images
    Case("img-no-alt", raw(f'<img src="{DECO}" width="40">'), [("img-alt", "error", IMG3)]),
    Case("img-empty-alt", raw(f'<img src="{DECO}" alt="" width="40">'), [("img-alt", "error", IMG3)]),
    Case(
        "img-empty-alt-on-a-link",
        raw(f'<a href="{ELSEWHERE}"><img src="{DECO}" alt="" role="presentation" width="40"></a>'),
        [("img-alt", "error", IMG3)],
    ),
    Case(
        "img-http",
        raw('<img src="http://www.uitgeverijlindenhof.nl/deco.png" alt="Ornament" width="40">'),
        [("img-src", "error", "<img> #3 (src=http://www.uitgeverijlindenhof.nl/deco.png)")],
    ),
    Case(
        "img-relative",
        raw('<img src="/static/deco.png" alt="Ornament" width="40">'),
        [("img-src", "error", "<img> #3 (src=/static/deco.png)")],
    ),
    Case("img-no-width", raw(f'<img src="{DECO}" alt="Ornament">'), [("img-width", "warning", IMG3)]),
    Case(
        "img-everything-wrong-errors-first",
        raw('<img src="deco.png">'),
        [
            ("img-alt", "error", "<img> #3 (src=deco.png)"),
            ("img-src", "error", "<img> #3 (src=deco.png)"),
            ("img-width", "warning", "<img> #3 (src=deco.png)"),
        ],
    ),
    Case(
        "errors-sort-before-warnings",
        raw(f'<a href="#"><img src="{DECO}" alt="Ornament"></a>'),
        [("link-placeholder", "error", "template"), ("img-width", "warning", IMG3)],
    ),
    Case(
        "book-cover-missing",
        edit("templates/partials/book.mjml.j2", 'src="{{ book.cover_url }}"', 'src="{{ brand.logo_url }}"'),
        [("book-cover-missing", "warning", "book-1")],
    ),
    # -- links
    Case(
        "link-http",
        raw('<a href="http://www.boekenweek.nl/">Boekenweek</a>'),
        [("link-https", "error", "template")],
    ),
    Case("link-relative", raw('<a href="/agenda">Agenda</a>'), [("link-https", "error", "template")]),
    Case("link-hash", raw('<a href="#">Meer</a>'), [("link-placeholder", "error", "template")]),
    Case("link-empty", raw('<a href="">Meer</a>'), [("link-placeholder", "error", "template")]),
    Case(
        "link-example-org",
        raw('<a href="https://www.example.org/boek">Boek</a>'),
        [("link-placeholder", "error", "template")],
    ),
    Case(
        "link-example-com-teaser",
        campaign(f"url: {SITE}/columns/de-kunst-van-het-weglaten", "url: https://example.com/weglaten"),
        [("link-placeholder", "error", "teaser-1")],
    ),
    Case(
        "link-todo-teaser",
        campaign("columns/de-kunst-van-het-weglaten", "columns/TODO"),
        [("link-placeholder", "error", "teaser-1")],
    ),
    Case(
        "link-own-site-without-utm",
        raw(f'<a href="{SITE}/agenda">Agenda</a>'),
        [("link-utm", "warning", "template")],
    ),
    Case(
        "link-utm-off-passes",
        edits(settings("[utm]\n", "[utm]\nenabled = false\n"), raw(f'<a href="{SITE}/agenda">Agenda</a>')),
        [],
    ),
    Case(
        "unsubscribe-missing-html",
        template(' · <a href="{{ unsubscribe_url }}">{{ t.unsubscribe }}</a>', ""),
        [("unsubscribe-missing", "error", "email.html")],
    ),
    Case(
        "unsubscribe-missing-text",
        edit("templates/email.txt.j2", "{{ t.unsubscribe }}: {{ unsubscribe_url }}", ""),
        [("unsubscribe-missing", "error", "email.txt")],
    ),
    # -- order links
    Case(
        "order-shop-in-stripe-project",
        append_settings("\n[stripe]\n"),
        [("order-link-fallback", "warning", "book-1")],
    ),
    Case("order-shop-with-lock-file", lock_file(), [("order-link-fallback", "warning", "book-1")]),
    Case(
        "order-shop-in-live-project",
        append_settings("\n[stripe]\nlive = true\n"),
        [("order-link-fallback", "error", "book-1")],
    ),
    Case(
        "order-test-link-in-live-project",
        edits(
            append_settings("\n[stripe]\nlive = true\n"),
            raw('<a href="https://buy.stripe.com/test_5kA0">Koop</a>'),
        ),
        [("order-link-fallback", "error", "book-1"), ("order-link-test-mode", "error", "template")],
    ),
    # -- what stops a real send besides the email (readiness.py)
    Case(
        "order-test-link-in-test-project",
        lock_file(TEST_LINK),
        [("order-link-test-mode", "error", "book-1")],
    ),
    Case(
        "promotion-ended",
        campaign("subject:", "ends: 2020-01-31\nsubject:"),
        [("promotion-ended", "error", "ends: 2020-01-31")],
    ),
    Case(
        "unsubscribe-secret-missing",
        lambda root: None,
        [("unsubscribe-secret", "error", "NEWSLETTER_UNSUBSCRIBE_SECRET")],
        secret=False,
    ),
    # -- the fixed book price law (a printed book in Dutch)
    Case(
        "fixed-price-promotion-codes",
        append_settings("\n[stripe]\nallow_promotion_codes = true\n"),
        [("fixed-price-promotion-codes", "error", "book-1"), ("order-link-fallback", "warning", "book-1")],
    ),
    Case(
        "fixed-price-changed-after-two-months",
        book(
            "published: 2026-10-01",
            "price_since: 2026-12-01\nprice_history: [{price: 29.95, since: 2026-10-01}]\n"
            "published: 2026-10-01",
        ),
        [("fixed-price-change", "error", "book-1")],
    ),
    # -- the inbox
    Case(
        "subject-61-characters",
        campaign(SCHRIJVEN_SUBJECT, SCHRIJVEN_SUBJECT + "!!!"),
        [("subject-length", "warning", "subject")],
    ),
    Case(
        "preheader-not-in-email",
        template("{{ campaign.preheader }}</div>", "</div>"),
        [("preheader-missing", "warning", "email.html")],
    ),
    Case(
        "preheader-same-as-subject",
        campaign(SCHRIJVEN_PREHEADER, SCHRIJVEN_SUBJECT.lower()),
        [("preheader-same-as-subject", "warning", "preheader")],
    ),
    Case(
        "preheader-39-characters",
        campaign(SCHRIJVEN_PREHEADER, "Marieke de Wit over het rode potlood..."),
        [("preheader-short", "warning", "preheader")],
    ),
    # -- settings
    Case(
        "postal-address-missing-html",
        template(" · {{ settings.publisher.postal_address }}", ""),
        [("settings-postal-address", "error", "email.html")],
    ),
    Case(
        "postal-address-hidden-html",
        template(
            " · {{ settings.publisher.postal_address }}",
            '<span style="display:none">{{ settings.publisher.postal_address }}</span>',
        ),
        [("settings-postal-address", "error", "email.html")],
    ),
    Case(
        "postal-address-missing-text",
        edit("templates/email.txt.j2", ", {{ settings.publisher.postal_address }}", ""),
        [("settings-postal-address", "error", "email.txt")],
    ),
    Case(
        "sender-on-another-domain",
        settings('address = "nieuwsbrief@uitgeverijlindenhof.nl"', 'address = "lindenhof.nieuws@gmail.com"'),
        [("settings-sender-domain", "warning", "newsletter.toml")],
    ),
    Case(
        "unsubscribe-url-on-another-domain",
        settings(
            f'unsubscribe_url = "{SITE}/nieuwsbrief/afmelden"',
            'unsubscribe_url = "https://afmelden.mailer.nl/x"',
        ),
        [("settings-list-unsubscribe", "warning", "newsletter.toml")],
    ),
    # -- accessibility
    Case(
        "lang-nl-on-english",
        template('lang="{{ campaign.locale }}"', 'lang="nl"'),
        [("html-lang", "warning", "<html>")],
        PAPER,
    ),
    Case("lang-missing", template(' lang="{{ campaign.locale }}"', ""), [("html-lang", "warning", "<html>")]),
    Case(
        "button-contrast-4.2",
        settings('button_text = "#ffffff"', 'button_text = "#b0b0b0"'),
        [("button-contrast", "warning", "book-1")],
    ),
    Case(
        "button-contrast-2.6",
        settings('button_text = "#ffffff"', 'button_text = "#909090"'),
        [("button-contrast", "error", "book-1")],
    ),
    Case(
        "heading-skips-a-level",
        edit(
            "templates/partials/book.mjml.j2",
            '<h3 class="book-title">{{ book.title }}</h3>',
            "<h4>{{ book.title }}</h4>",
        ),
        [("heading-order", "warning", "<h4> #1 (Schrijven is schrappen)")],
    ),
    # -- dark mode
    Case(
        # issue 11: the dark rules missed the footer links, #5f5f5f inline, on the dark #1e1e1e
        "dark-contrast-footer-links-2.6",
        template(",\n        .email-body .footer a { color", " { color"),
        [("dark-contrast", "error", FOOTER_LINK)],
    ),
    Case(
        "dark-contrast-muted-4.2",
        template('"muted": "#b0b0b0"', '"muted": "#808080"'),
        [("dark-contrast", "warning", "<p> #4 (class=byline)")],
    ),
    Case(
        "dark-contrast-button",
        dark_rule(".email-body td[bgcolor] a { background-color: #f28b82 !important; }"),
        [("dark-contrast", "error", '<a> #3 ("Lees verder")')],
    ),
    # -- client support
    Case(
        "css-flex-inlined",
        template(".price { margin: 0;", ".price { display: flex; margin: 0;"),
        [("css-unsupported", "warning", "<p> #10 (class=price)")],
    ),
    Case(
        "css-position-in-style-block",
        template(
            "@media only screen and (max-width: 479px) {",
            ".badge { position: absolute; }\n      @media only screen and (max-width: 479px) {",
        ),
        [("css-unsupported", "warning", "<style> #5")],
    ),
    Case(
        "css-variables",
        raw('<div style="color: var(--accent)">Tekst</div>'),
        [("css-unsupported", "warning", '<div> #22 ("Tekst")')],
    ),
    Case(
        "css-background-image-without-colour",
        raw(f'<div style="background-image: url({SITE}/bg.jpg)">Tekst</div>'),
        [("css-unsupported", "warning", '<div> #22 ("Tekst")')],
    ),
]

# Exceptions and boundaries that must not be findings. They are applied together to one campaign
# (one run instead of twelve keeps this file fast); a finding names the rule that misfired.
PASSING: dict[str, Edit] = {
    "decorative image": raw(f'<img src="{DECO}" alt="" role="presentation" width="40">'),
    "mailto: and tel: links": raw(
        '<a href="mailto:redactie@uitgeverijlindenhof.nl">Mail</a> <a href="tel:+31201234567">Bel</a>'
    ),
    "own-site link with UTM": raw(
        f'<a href="{SITE}/agenda?utm_source=nieuwsbrief&amp;utm_medium=email&amp;utm_campaign={SCHRIJVEN}">'
        "Agenda</a>"
    ),
    "subject of 60 characters": campaign(SCHRIJVEN_SUBJECT, SCHRIJVEN_SUBJECT + "!!"),
    "preheader of 40 characters": campaign(SCHRIJVEN_PREHEADER, "Marieke de Wit over het rode potlood...."),
    "sender on a subdomain": settings(
        'address = "nieuwsbrief@uitgeverijlindenhof.nl"', 'address = "nieuws@mail.uitgeverijlindenhof.nl"'
    ),
    "lang=nl hard-coded on a Dutch campaign": template('lang="{{ campaign.locale }}"', 'lang="nl"'),
    "contrast 4.2:1 on large button text": edits(
        settings('button_text = "#ffffff"', 'button_text = "#b0b0b0"'),
        template('font-family="Helvetica, Arial, sans-serif" font-size="15px"', 'font-size="24px"'),
    ),
    "background image with a background colour": raw(
        f'<div style="background: #f4efe6 url({SITE}/bg.jpg)">Tekst</div>'
    ),
    "mj-section background-url (with the default background-color)": template(
        "  </mj-body>",
        f'    <mj-section background-url="{SITE}/bg.jpg">'
        "<mj-column><mj-text>Tekst</mj-text></mj-column></mj-section>\n  </mj-body>",
    ),
    "a dark rule only Outlook.com applies ([data-ogsc])": dark_rule(
        "[data-ogsc] .footer a { color: #5f5f5f !important; }"
    ),
    "a dark rule for a pseudo-element": dark_rule(".email-body .footer a::after { color: #5f5f5f; }"),
    "a dark rule with a selector no browser reads": dark_rule(".email-body .footer a:: { color: #5f5f5f; }"),
    "a dark rule overridden by a more specific one": dark_rule(".footer a { color: #5f5f5f !important; }"),
    "dark large text at 3.9:1 (a link in a heading)": dark_rule(
        ".email-body h2.teaser-title a { color: #7a7a7a !important; }"
    ),
    "display:flex inside a conditional comment": raw(
        '<!--[if mso]><div style="display:flex">x</div><![endif]-->'
    ),
}
CASES.append(Case("exceptions-and-boundaries-pass", edits(*PASSING.values()), []))
CASES.append(
    Case(
        "column-with-page-chrome",
        lambda root: write(
            root / "columns" / "de-kunst-van-het-weglaten.txt",
            "Home | Boeken | Columns | Contact\n\n"
            + (root / "columns" / "de-kunst-van-het-weglaten.txt").read_text(encoding="utf-8"),
        ),
        [("column-cleanup", "warning", "teaser-1")],
    )
)


def check_json(run: Run, campaign_id: str, *options: str) -> tuple[int, list[dict[str, Any]]]:
    result = run("check", campaign_id, "--format", "json", *options)
    document = json.loads(result.stdout)
    [entry] = document["campaigns"]
    assert entry["id"] == campaign_id
    assert (entry["errors"], entry["warnings"]) == (
        sum(f["severity"] == "error" for f in entry["findings"]),
        sum(f["severity"] == "warning" for f in entry["findings"]),
    )
    return result.exit_code, entry["findings"]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_rule(case: Case, project: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """One run per case: errors exit 1 as they are; warnings exit 1 with --strict (and 0 without,
    see the next test); a clean campaign exits 0 even with --strict."""
    if not case.secret:
        monkeypatch.delenv("NEWSLETTER_UNSUBSCRIBE_SECRET")
    case.edit(project)
    errors = any(severity == "error" for _, severity, _ in case.expected)
    exit_code, findings = check_json(run, case.campaign, *([] if errors else ["--strict"]))
    assert [(f["rule"], f["severity"], f["where"]) for f in findings] == case.expected, findings
    assert exit_code == (1 if case.expected else 0)
    for finding in findings:
        assert finding["message"] and "\n" not in finding["message"]


def test_warnings_alone_exit_0_unless_strict(project: Path, run: Run) -> None:
    campaign(SCHRIJVEN_SUBJECT, SCHRIJVEN_SUBJECT + "!!!")(project)
    relaxed = run("check", SCHRIJVEN)
    assert relaxed.exit_code == 0
    assert relaxed.stdout.splitlines()[-1] == "1 campaign checked: 0 errors, 1 warning"
    assert run("check", SCHRIJVEN, "--strict").exit_code == 1


def test_every_rule_has_a_case_that_triggers_it() -> None:
    triggered = {rule for case in CASES for rule, _, _ in case.expected}
    assert triggered == set(RULES)


def test_samples_pass_every_rule(run: Run) -> None:
    result = run("check")
    assert result.exit_code == 0, result.output
    assert result.stdout == "2 campaigns checked: 0 errors, 0 warnings\n"
    strict = run("check", "--strict", "--format", "json")
    assert strict.exit_code == 0
    assert json.loads(strict.stdout) == {
        "version": 1,
        "campaigns": [
            {"id": PAPER, "errors": 0, "warnings": 0, "findings": []},
            {"id": SCHRIJVEN, "errors": 0, "warnings": 0, "findings": []},
        ],
        "errors": [],
    }


def test_text_output_is_a_table_with_a_count_line(project: Path, run: Run) -> None:
    raw(f'<img src="{DECO}">')(project)
    result = run("check")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["campaign", "severity", "rule", "where", "message"]
    for campaign_id in (PAPER, SCHRIJVEN):
        alt = next(line for line in lines if line.startswith(campaign_id) and " img-alt " in line)
        assert alt.split()[1:3] == ["error", "img-alt"]
        assert "has no alt attribute" in alt
    assert lines[-1] == "2 campaigns checked: 2 errors, 2 warnings"


def test_json_counts_and_messages(project: Path, run: Run) -> None:
    raw(f'<img src="{DECO}">')(project)
    result = run("check", SCHRIJVEN, "--format", "json")
    assert result.exit_code == 1
    [entry] = json.loads(result.stdout)["campaigns"]
    assert (entry["errors"], entry["warnings"]) == (1, 1)
    assert set(entry["findings"][0]) == {"rule", "severity", "where", "message"}
    assert entry["findings"][0]["message"].startswith("the image has no alt attribute")


def test_problems_loading_a_campaign_exit_2_after_checking_the_others(project: Path, run: Run) -> None:
    write(project / "campaigns" / "kapot.yaml", "subject: Kapot\n")
    result = run("check", "--format", "json")
    assert result.exit_code == 2
    assert [c["id"] for c in json.loads(result.stdout)["campaigns"]] == [PAPER, SCHRIJVEN]
    assert "campaigns/kapot.yaml" in result.stderr and "preheader: is required" in result.stderr
    unknown = run("check", "2099-01-nope")
    assert unknown.exit_code == 2
    assert "no campaign '2099-01-nope'" in unknown.stderr


def test_check_writes_nothing(project: Path, run: Run) -> None:
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    assert run("check").exit_code == 0
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before


def test_test_mode_payment_link_kind_in_a_live_project(project: Path) -> None:
    """The renderer never makes a test link for a live project itself; the rule still catches a
    provider that does, by kind and not only by URL."""

    def test_link(campaign: Campaign, book: Book, block: str) -> Link:
        return Link(f"https://buy.stripe.com/{block}", block, LinkKind.ORDER_STRIPE_TEST, "BESTEL NU!")

    def findings() -> list[tuple[str, str, str]]:
        opened = open_project(project)
        campaigns, errors = load_campaigns(opened, [SCHRIJVEN])
        assert errors == []
        rendered = Renderer(opened, test_link).render(campaigns[0])
        return [(f.rule, f.severity, f.where) for f in check_campaign(rendered, opened)]

    assert findings() == []
    append_settings("\n[stripe]\nlive = true\n")(project)
    assert findings() == [("order-link-test-mode", "error", "book-1")]


def test_every_rule_is_registered_once_with_a_one_line_description() -> None:
    ids = [rule_id for rule_ids in registered().values() for rule_id in rule_ids]
    only_for_sending = {"promotion-ended", "unsubscribe-secret"}  # readiness.py: not over the email
    assert sorted([*ids, *only_for_sending]) == sorted(RULES) and len(ids) == len(set(ids))
    docs = [text for rule in RULES.values() for text in (rule.severity, rule.checks)]
    assert all(text.strip() and "\n" not in text and "|" not in text for text in docs)  # a table row each
    assert {rule.severity.split()[0].rstrip(",") for rule in RULES.values()} == {"error", "warning"}


def test_a_rule_id_registered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="'html-size' is registered twice"):
        rule({"html-size": Rule("error", "again")})(lambda email: iter(()))
    assert RULES["html-size"].checks.startswith("HTML size")

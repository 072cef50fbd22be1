"""Rendering: golden files for the samples, inlining, escaping, locale formatting, the email's must-haves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lxml import html as lxml_html

from newsletter.project.campaign import load_campaigns
from newsletter.project.settings import open_project
from newsletter.render.renderer import Rendered, Renderer
from tests.conftest import REPO, write

GOLDEN = Path(__file__).parent / "golden"
SAMPLES = ["2026-12-schrijven", "2026-12-paper"]


def render(root: Path, campaign_id: str) -> Rendered:
    project = open_project(root)
    campaigns, errors = load_campaigns(project, [campaign_id])
    assert errors == []
    return Renderer(project).render(campaigns[0])


@pytest.mark.parametrize("campaign_id", SAMPLES)
@pytest.mark.parametrize("part", ["html", "txt"])
def test_sample_campaigns_match_golden_files(campaign_id: str, part: str) -> None:
    """Refresh with `make golden` after an intended change, then review the diff."""
    rendered = render(REPO, campaign_id)
    actual = rendered.html if part == "html" else rendered.text
    golden = GOLDEN / f"{campaign_id}.{part}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}: run `make golden`"
    assert actual == golden.read_text(encoding="utf-8"), f"{golden.name} differs: review, then `make golden`"


@pytest.mark.parametrize("campaign_id", SAMPLES)
def test_samples_build_without_warnings_and_under_60_kb(campaign_id: str) -> None:
    rendered = render(REPO, campaign_id)
    assert rendered.warnings == ()
    assert rendered.html_bytes < 60 * 1024


def test_email_has_lang_title_preheader_and_color_scheme() -> None:
    rendered = render(REPO, "2026-12-schrijven")
    doc = lxml_html.fromstring(rendered.html)
    assert rendered.html.startswith("<!doctype html>")
    assert doc.get("lang") == "nl"
    assert doc.findtext(".//title") == "De kunst van het weglaten – en een boek dat je erbij helpt"
    assert doc.xpath("//meta[@name='color-scheme']/@content") == ["light dark"]
    preheader = doc.xpath("//body/div[@role='article']/div[1]")[0]
    assert "display:none" in preheader.get("style")
    assert preheader.text_content().strip().startswith("Marieke de Wit over het rode potlood")


def test_every_image_has_alt_width_and_https_source() -> None:
    doc = lxml_html.fromstring(render(REPO, "2026-12-schrijven").html)
    images = doc.xpath("//img")
    assert len(images) == 2  # logo and book cover
    for image in images:
        assert image.get("alt")
        assert image.get("width", "").isdigit()
        assert image.get("src").startswith("https://")


def test_mj_style_inline_rules_become_inline_styles_and_media_queries_stay_in_head() -> None:
    rendered = render(REPO, "2026-12-schrijven")
    doc = lxml_html.fromstring(rendered.html)
    (title,) = doc.xpath("//h2[@class='teaser-title']")
    assert "font-size:26px" in title.get("style").replace(" ", "")
    head_css = "\n".join(doc.xpath("//head/style/text()"))
    assert "@media only screen and (max-width: 479px)" in head_css
    assert "prefers-color-scheme: dark" in head_css
    assert "26px" not in head_css, "inline rules must not stay in the head"
    assert "<mj-" not in rendered.html


def test_content_is_escaped_in_html_and_plain_in_text(project: Path) -> None:
    campaign = project / "campaigns" / "2026-12-schrijven.yaml"
    text = campaign.read_text(encoding="utf-8")
    text = text.replace('subject: "De kunst', 'subject: "<script>alert(1)</script> Tom & Jerry: De kunst')
    text = text.replace(
        "    author: marieke-de-wit\n", "    author: marieke-de-wit\n    title: Kaas & <b>wijn</b>\n"
    )
    campaign.write_text(text, encoding="utf-8")
    rendered = render(project, "2026-12-schrijven")
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Tom &amp; Jerry" in rendered.html
    assert "Kaas &amp; &lt;b&gt;wijn&lt;/b&gt;" in rendered.html
    assert "<b>wijn</b>" not in rendered.html
    assert "Kaas & <b>wijn</b>" in rendered.text  # the text part is not HTML: no entities


def test_book_block_formats_price_and_co_authors_per_locale() -> None:
    nl = render(REPO, "2026-12-schrijven")
    en = render(REPO, "2026-12-paper")
    assert "€\xa034,95" in nl.html and "€\xa034,95" in nl.text
    assert "Met Marieke de Wit, Joost Hendriks, Fatima El Amrani &amp; Pieter-Jan Claes" in nl.html
    assert "BESTEL NU!" in nl.html and "Lees verder" in nl.html
    assert "€24.50" in en.html and "€24.50" in en.text
    assert "With Thomas Verbeek and Ilse Maas" in en.html
    assert "ORDER NOW" in en.html and "Read more" in en.html


def test_book_cta_label_can_be_set_per_book(project: Path) -> None:
    book = project / "books" / "schrijven-is-schrappen.yaml"
    book.write_text(book.read_text(encoding="utf-8") + "cta: Nu bestellen\n", encoding="utf-8")
    rendered = render(project, "2026-12-schrijven")
    assert "Nu bestellen" in rendered.html
    assert "BESTEL NU!" not in rendered.html


def test_text_part_writes_out_every_link_and_labels_the_order_link() -> None:
    rendered = render(REPO, "2026-12-schrijven")
    for link in rendered.links:
        assert link.url in rendered.text or link.block == "header", link
    assert "Bestellen: https://www.uitgeverijlindenhof.nl/winkel/schrijven-is-schrappen\n" in rendered.text
    assert "De kunst van het weglaten\n=========================\n" in rendered.text
    assert "Afmelden: https://www.uitgeverijlindenhof.nl/nieuwsbrief/afmelden" in rendered.text


def test_every_link_in_the_html_is_in_the_inventory() -> None:
    rendered = render(REPO, "2026-12-schrijven")
    hrefs = set(lxml_html.fromstring(rendered.html).xpath("//a/@href"))
    assert hrefs == {link.url for link in rendered.links}
    blocks = {(link.block, str(link.kind)) for link in rendered.links}
    assert blocks == {
        ("header", "site"),
        ("teaser-1", "site"),
        ("book-1", "order-shop"),
        ("footer", "web-version"),
        ("footer", "unsubscribe"),
    }


def test_link_written_in_a_template_is_listed_as_it_is(project: Path) -> None:
    template = project / "templates" / "email.mjml.j2"
    text = template.read_text(encoding="utf-8").replace(
        '<p class="footer">{{ t.why }}</p>',
        '<p class="footer">{{ t.why }} <a href="https://mastodon.social/@lindenhof">Mastodon</a></p>',
    )
    template.write_text(text, encoding="utf-8")
    rendered = render(project, "2026-12-schrijven")
    (extra,) = [link for link in rendered.links if link.block == "template"]
    assert (extra.url, str(extra.kind)) == ("https://mastodon.social/@lindenhof", "external")


def test_teaser_with_image_shows_it_linked_to_the_column(project: Path) -> None:
    campaign = project / "campaigns" / "2026-12-paper.yaml"
    campaign.write_text(
        campaign.read_text(encoding="utf-8").replace(
            "  - column: why-we-still-read-on-paper.md\n",
            "  - column: why-we-still-read-on-paper.md\n"
            "    image: https://www.uitgeverijlindenhof.nl/static/lamp.jpg\n"
            "    image_alt: A reading lamp\n",
        ),
        encoding="utf-8",
    )
    doc = lxml_html.fromstring(render(project, "2026-12-paper").html)
    (image,) = doc.xpath("//img[@alt='A reading lamp']")
    assert image.get("src") == "https://www.uitgeverijlindenhof.nl/static/lamp.jpg"
    assert "utm_content=teaser-1" in image.getparent().get("href")


def test_several_teasers_and_books_keep_their_order(project: Path) -> None:
    write(
        project / "campaigns" / "dubbel.yaml",
        "subject: Twee keer\npreheader: Twee columns en twee boeken in één nieuwsbrief\n"
        "teasers:\n"
        "  - column: why-we-still-read-on-paper.md\n"
        "  - column: de-kunst-van-het-weglaten.txt\n"
        "    url: https://www.uitgeverijlindenhof.nl/columns/weglaten\n"
        "books: [the-quiet-page, schrijven-is-schrappen]\n",
    )
    rendered = render(project, "dubbel")
    html = rendered.html
    assert html.index("Why we still read on paper") < html.index("De kunst van het weglaten")
    assert html.index("The Quiet Page") < html.index("Schrijven is schrappen")
    assert [link.block for link in rendered.links if link.block.startswith(("teaser", "book"))] == [
        "teaser-1",
        "teaser-2",
        "book-1",
        "book-2",
    ]
    assert rendered.campaign.locale == "nl"  # from settings when the campaign does not say


def test_campaign_larger_than_gmail_clips_warns(project: Path) -> None:
    long_text = " ".join(["Een zin die de nieuwsbrief heel erg lang maakt."] * 2500)
    write(
        project / "campaigns" / "lang.yaml",
        "subject: Lang\npreheader: Veel te lange nieuwsbrief voor Gmail\n"
        "teasers:\n  - column: de-kunst-van-het-weglaten.txt\n    url: https://x.nl/a\n"
        f"    excerpt: {long_text}\n"
        "books: [the-quiet-page]\n",
    )
    rendered = render(project, "lang")
    assert len(rendered.warnings) == 1
    assert "Gmail clips messages above 102 KB" in rendered.warnings[0]

"""Links: own-site links get UTM parameters; order, unsubscribe and third-party links do not."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from newsletter.pipeline import meta
from newsletter.project.campaign import load_campaigns
from newsletter.project.settings import Settings, open_project
from newsletter.render.links import LinkKind, content_link, with_utm
from newsletter.render.renderer import Renderer
from tests.conftest import REPO


def settings() -> Settings:
    return open_project(REPO).settings


def test_own_site_link_gets_utm_for_campaign_and_block() -> None:
    link = content_link(
        "https://www.uitgeverijlindenhof.nl/columns/a",
        block="teaser-2",
        label="A",
        campaign_id="2026-12-x",
        settings=settings(),
    )
    assert link.kind is LinkKind.SITE
    assert parse_qs(urlsplit(link.url).query) == {
        "utm_source": ["nieuwsbrief"],
        "utm_medium": ["email"],
        "utm_campaign": ["2026-12-x"],
        "utm_content": ["teaser-2"],
    }


def test_subdomain_and_bare_domain_count_as_own_site() -> None:
    for url in ("https://uitgeverijlindenhof.nl/a", "https://shop.uitgeverijlindenhof.nl/a"):
        assert (
            content_link(url, block="b", label="", campaign_id="c", settings=settings()).kind is LinkKind.SITE
        )


def test_third_party_link_is_untouched() -> None:
    link = content_link("https://www.nrc.nl/x?a=1", block="b", label="", campaign_id="c", settings=settings())
    assert (link.url, link.kind) == ("https://www.nrc.nl/x?a=1", LinkKind.EXTERNAL)
    lookalike = "https://www.uitgeverijlindenhof.nl.evil.example/x"
    assert content_link(lookalike, block="b", label="", campaign_id="c", settings=settings()).url == lookalike


def test_utm_keeps_the_urls_own_query_fragment_and_utm_values() -> None:
    url = with_utm(
        "https://a.nl/p?id=7&utm_source=feed#top", source="nb", medium="email", campaign="c", content="b"
    )
    assert url == "https://a.nl/p?id=7&utm_source=feed&utm_medium=email&utm_campaign=c&utm_content=b#top"


def test_utm_can_be_switched_off(project: Path) -> None:
    toml = project / "newsletter.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("[utm]\n", "[utm]\nenabled = false\n"), encoding="utf-8"
    )
    link = content_link(
        "https://www.uitgeverijlindenhof.nl/a",
        block="b",
        label="",
        campaign_id="c",
        settings=open_project(project).settings,
    )
    assert (link.url, link.kind) == ("https://www.uitgeverijlindenhof.nl/a", LinkKind.SITE)


def test_order_unsubscribe_and_web_version_links_carry_no_utm() -> None:
    project = open_project(REPO)
    campaigns, _ = load_campaigns(project, ["2026-12-schrijven"])
    links = meta(Renderer(project).render(campaigns[0]))["links"]
    by_kind = {link["kind"]: link["url"] for link in links}
    assert by_kind["order-shop"] == "https://www.uitgeverijlindenhof.nl/winkel/schrijven-is-schrappen"
    assert by_kind["unsubscribe"] == "https://www.uitgeverijlindenhof.nl/nieuwsbrief/afmelden"
    assert by_kind["web-version"] == "https://www.uitgeverijlindenhof.nl/nieuwsbrief/2026-12-schrijven"
    assert "utm_content=teaser-1" in by_kind["site"] or "utm_content=header" in by_kind["site"]

"""Merge fields: markers survive the rendering pipeline, and per-recipient values are escaped for their part.

A campaign is rendered once; a recipient's name and links are filled in afterwards by string joins. If a
marker were mangled by MJML, premailer or autoescaping, or a value were filled in unescaped, every email
of a send would show it, so these tests render the real sample campaign and fill it as `message.py` does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.pipeline import make_renderer
from newsletter.project.campaign import load_campaigns
from newsletter.project.settings import open_project
from newsletter.render.merge import (
    MergeTemplate,
    escape_html,
    escape_text,
    marker,
    personal,
)
from newsletter.render.renderer import Rendered
from tests.conftest import Run, copy_sample

CAMPAIGN = "2026-12-schrijven"
FIELDS = {"first_name", "unsubscribe_url", "web_version_url", "order_book_1"}
ANY_MARKER = re.compile(r"__merge_")
PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The Dutch sample campaign, rendered once for the module (rendering takes a few tenths of a second)."""
    project = open_project(copy_sample(tmp_path_factory.mktemp("merge") / "project"))
    campaigns, errors = load_campaigns(project, [CAMPAIGN])
    assert not errors
    return make_renderer(project).render(campaigns[0])


# -- markers through the renderer ---------------------------------------------------------------


def test_every_merge_field_survives_mjml_premailer_and_the_text_template(rendered: Rendered) -> None:
    """Both sources still hold each marker intact, so the sender can personalise every part."""
    assert MergeTemplate.parse(rendered.html_source).fields == FIELDS
    assert MergeTemplate.parse(rendered.text_source).fields == FIELDS
    assert 'href="__merge_unsubscribe_url__"' in rendered.html_source
    assert 'href="__merge_order_book_1__"' in rendered.html_source
    assert set(rendered.merge_defaults) == FIELDS


def test_the_review_copy_has_no_marker_left_and_greets_no_one_in_particular(rendered: Rendered) -> None:
    """`html`/`text` are what reviewers and the web version show: a stray marker there is a visible bug."""
    assert not ANY_MARKER.search(rendered.html)
    assert not ANY_MARKER.search(rendered.text)
    assert "Beste lezer," in rendered.html
    assert "Beste lezer," in rendered.text
    assert rendered.merge_defaults["first_name"] == "lezer"
    assert f'href="{rendered.merge_defaults["unsubscribe_url"]}"' in rendered.html


def test_first_name_in_the_campaign_intro_becomes_the_marker(rendered: Rendered) -> None:
    """The editor writes `Beste {first_name},` in YAML; the renderer turns it into the marker, not text."""
    assert "Beste __merge_first_name__," in rendered.html_source
    assert "Beste __merge_first_name__," in rendered.text_source
    assert "{first_name}" not in rendered.html_source + rendered.text_source


def test_the_renderer_fills_the_review_copy_exactly_as_a_merge_with_the_defaults(rendered: Rendered) -> None:
    """The web version is the same fill a recipient without a name gets: one code path, no drift."""
    defaults = dict(rendered.merge_defaults)
    assert MergeTemplate.parse(rendered.html_source).fill(defaults, escape_html) == rendered.html
    assert MergeTemplate.parse(rendered.text_source).fill(defaults, escape_text) == rendered.text


def test_a_hostile_name_filled_into_the_real_html_is_escaped(rendered: Rendered) -> None:
    values = {**rendered.merge_defaults, "first_name": "<script>alert(1)</script>"}
    html = MergeTemplate.parse(rendered.html_source).fill(values, escape_html)
    assert "Beste &lt;script&gt;alert(1)&lt;/script&gt;," in html
    assert "<script>" not in html
    text = MergeTemplate.parse(rendered.text_source).fill(values, escape_text)
    assert "Beste <script>alert(1)</script>," in text  # plain text shows what the reader typed


def test_text_that_looks_like_a_marker_is_an_error(project: Path, run: Run) -> None:
    """A marker typed into campaign text would be filled per reader, `__merge_unsubscribe_url__`
    with the reader's own unsubscribe link: refused at its line instead."""
    path = project / "campaigns" / f"{CAMPAIGN}.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("Beste {first_name},", "Beste {first_name}, __merge_unsubscribe_url__"), "utf-8"
    )
    result = run("build", CAMPAIGN)
    assert result.exit_code == 2, result.output
    assert "intro: '__merge_unsubscribe_url__' is the renderer's own marker" in result.stderr


def test_parse_with_known_fields_keeps_other_markers_as_text() -> None:
    template = MergeTemplate.parse("a __merge_x__ b __merge_first_name__ c", {"first_name"})
    assert template.pieces == ("a __merge_x__ b ", "first_name", " c")
    assert template.fill({"first_name": "Jan"}) == "a __merge_x__ b Jan c"


# -- MergeTemplate ------------------------------------------------------------------------------


def test_parse_splits_literals_and_fields_alternately() -> None:
    template = MergeTemplate.parse("Hoi __merge_first_name__, klik __merge_unsubscribe_url__.")
    assert template.pieces == ("Hoi ", "first_name", ", klik ", "unsubscribe_url", ".")
    assert template.fields == {"first_name", "unsubscribe_url"}


def test_fill_escapes_every_value_for_html() -> None:
    template = MergeTemplate.parse('<a href="__merge_url__">Hoi __merge_first_name__</a>')
    html = template.fill({"url": "https://x.nl/?a=1&b=2", "first_name": '<script>"x"</script>'}, escape_html)
    assert html == ('<a href="https://x.nl/?a=1&amp;b=2">Hoi &lt;script&gt;&#34;x&#34;&lt;/script&gt;</a>')


def test_fill_refuses_a_missing_value_instead_of_sending_a_marker() -> None:
    with pytest.raises(KeyError, match="first_name"):
        MergeTemplate.parse("Hoi __merge_first_name__").fill({})


def test_a_value_that_contains_a_marker_is_not_filled_a_second_time() -> None:
    """Someone named `__merge_unsubscribe_url__` must not get another reader's link filled in."""
    filled = MergeTemplate.parse("Hoi __merge_first_name__ __merge_unsubscribe_url__").fill(
        {"first_name": "__merge_unsubscribe_url__", "unsubscribe_url": "https://x.nl/u"}
    )
    assert filled == "Hoi __merge_unsubscribe_url__ https://x.nl/u"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Jan\r\nBcc: evil@example.org", "Jan Bcc: evil@example.org"),
        ("Jan\nde\rVries", "Jan de Vries"),
        ("Jan\x00\x1b[31m", "Jan [31m"),
        ("Jan\u2028Piet\u2029Klaas\x85", "Jan Piet Klaas"),
        ("Jan\t de  Vries\x7f", "Jan de Vries"),
    ],
)
def test_text_escaping_drops_line_breaks_and_control_characters(value: str, expected: str) -> None:
    """A merge value never adds a line to the text part or a header."""
    assert escape_text(value) == expected


def test_text_escaping_leaves_ordinary_names_as_typed() -> None:
    for name in ("Jan de Vries", "Zoë O'Brien-Müller", "<b>Jan</b>", "  Jan  "):
        assert escape_text(name) == name


@PROPERTY
@given(st.text())
def test_no_escaped_value_contains_a_line_break_or_control_character(value: str) -> None:
    for escaped in (escape_text(value), escape_html(value)):
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", escaped)
        assert len(escaped.splitlines()) <= 1
    assert "<" not in escape_html(value) and ">" not in escape_html(value)


def test_personal_replaces_every_field_and_makes_doubled_braces_single() -> None:
    assert personal("Beste {first_name}, dag {first_name}! {name} {{first_name}} {{ }}") == (
        "Beste __merge_first_name__, dag __merge_first_name__! {name} {first_name} { }"
    )


# -- marker names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["First", "1st", "first name", "a__b", "", "_a"])
def test_marker_refuses_names_that_would_not_survive_rendering(name: str) -> None:
    with pytest.raises(ValueError, match="not a merge field name"):
        marker(name)


# Names like "order_book_12": a letter, then letters and digits in parts joined by single underscores.
marker_names = st.builds(
    lambda first, parts: first + "_".join(parts),
    st.sampled_from("abz"),
    st.lists(st.text("abz09", min_size=1, max_size=6), min_size=1, max_size=4),
)


@PROPERTY
@given(marker_names)
def test_every_marker_parses_back_to_its_own_name(name: str) -> None:
    assert MergeTemplate.parse(f"x{marker(name)}y").pieces == ("x", name, "y")


def test_a_marker_name_ending_in_an_underscore_is_refused() -> None:
    """`__merge_a___` would read back as field "a" followed by "_": such a name is never made."""
    with pytest.raises(ValueError, match="not a merge field name"):
        marker("a_")

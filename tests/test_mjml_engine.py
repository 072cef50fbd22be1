"""The MJML guard: MRML must be the engine, and a typo in a template is an error, not a broken email."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from newsletter.errors import NewsletterError, NewsletterErrors
from newsletter.render import mjml_engine
from newsletter.render.mjml_engine import load_engine, validate_mjml
from tests.conftest import Run


def edit_template(project: Path, name: str, old: str, new: str) -> None:
    path = project / "templates" / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_misspelt_tag_in_a_template_is_reported_at_its_line(project: Path, run: Run) -> None:
    edit_template(project, "partials/book.mjml.j2", '<mj-column width="62%"', '<mj-colum width="62%"')
    result = run("build")
    assert result.exit_code == 2
    assert (
        "error: templates/partials/book.mjml.j2:6: unknown MJML tag <mj-colum> (did you mean 'mj-column'?)"
        in result.stderr
    )
    assert not (project / "build").exists()


def test_unknown_attribute_is_reported_with_a_suggestion(project: Path, run: Run) -> None:
    edit_template(
        project,
        "partials/teaser.mjml.j2",
        '<mj-button href="{{ teaser.url }}">',
        '<mj-button hreff="{{ teaser.url }}">',
    )
    result = run("build")
    assert result.exit_code == 2
    assert (
        "error: templates/partials/teaser.mjml.j2:19: unknown attribute 'hreff' on <mj-button> "
        "(did you mean 'href'?)" in result.stderr
    )


def test_component_in_the_wrong_place_is_reported() -> None:
    source = "<mjml><mj-body><mj-section><mj-text>Los</mj-text></mj-section></mj-body></mjml>"
    with pytest.raises(NewsletterErrors) as caught:
        validate_mjml(source, [])
    (error,) = caught.value.errors
    assert error.format() == (
        "<mj-text> is not allowed inside <mj-section> (line 1 of the generated MJML) "
        "(put it inside <mj-attributes> or <mj-column>)"
    )


def test_html_inside_text_components_is_not_checked_as_mjml() -> None:
    source = (
        '<mjml lang="nl"><mj-head><mj-attributes><mj-all font-family="Georgia" /><mj-text color="#222" />'
        '</mj-attributes><mj-style inline="inline">p { margin: 0; }</mj-style></mj-head>'
        '<mj-body><mj-section><mj-column><mj-text css-class="x"><p data-x="1">Hoi <b>jij</b></p></mj-text>'
        '<mj-button href="https://a.nl">Ga</mj-button></mj-column></mj-section></mj-body></mjml>'
    )
    validate_mjml(source, [])


def test_engine_compiles_with_mrml() -> None:
    compile_mjml = load_engine()
    html = compile_mjml(
        "<mjml><mj-body><mj-section><mj-column><mj-text>Hallo</mj-text></mj-column>"
        "</mj-section></mj-body></mjml>"
    )
    assert "Hallo" in html and "<mj-" not in html


def test_another_package_named_mjml_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mjml_engine, "_installed", lambda name: name == "mjml")
    with pytest.raises(NewsletterError, match=r"is not MRML \(it belongs to mjml\)") as caught:
        load_engine()
    assert caught.value.hint == "pip uninstall mjml mjml-python && pip install mjml-python"


def test_both_packages_installed_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mjml_engine, "_installed", lambda name: True)
    module = types.ModuleType("mjml")
    module.mjml2html = str  # type: ignore[attr-defined]
    with pytest.raises(NewsletterError, match="both mjml and mjml-python are installed"):
        mjml_engine._check_is_mrml(module)

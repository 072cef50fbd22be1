"""The MJML guard: MRML must be the engine, and a typo in a template is an error, not a broken email."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from newsletter.errors import NewsletterError, NewsletterErrors
from newsletter.render.mjml import engine as mjml_engine
from newsletter.render.mjml.engine import load_engine, validate_mjml
from newsletter.render.mjml.locate import Locator, Target
from tests.conftest import Run, write


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
        "error: templates/partials/teaser.mjml.j2:25: unknown attribute 'hreff' on <mj-button> "
        "(did you mean 'href'?)" in result.stderr
    )


def test_component_in_the_wrong_place_is_reported() -> None:
    source = "<mjml><mj-body><mj-section><mj-text>Los</mj-text></mj-section></mj-body></mjml>"
    with pytest.raises(NewsletterErrors) as caught:
        validate_mjml(source, [])
    (error,) = caught.value.errors
    assert error.format() == (
        "<mj-text> is not allowed inside <mj-section> (line 1 of the generated MJML) "
        "(put it inside <mj-column>)"
    )


def line_of(project: Path, name: str, text: str) -> int:
    written = (project / "templates" / name).read_text(encoding="utf-8")
    return written.count("\n", 0, written.index(text)) + 1


@pytest.mark.parametrize("command", ["build", "check"])
def test_section_inside_a_column_is_reported_where_the_partial_writes_it(
    project: Path, run: Run, command: str
) -> None:
    """email.mjml.j2 writes <mj-section> first, as a default in <mj-attributes>: not the place to fix."""
    edit_template(
        project,
        "partials/teaser.mjml.j2",
        '        <mj-button href="{{ teaser.url }}">',
        '        <mj-section padding="0">\n'
        "          <mj-column><mj-text>Meer</mj-text></mj-column>\n"
        "        </mj-section>\n"
        '        <mj-button href="{{ teaser.url }}">',
    )
    line = line_of(project, "partials/teaser.mjml.j2", '<mj-section padding="0">')
    result = run(command)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.startswith(
        f"error: templates/partials/teaser.mjml.j2:{line}: <mj-section> is not allowed inside <mj-column> "
        "(put it inside <mj-body> or <mj-wrapper>)\n"
    )


def test_every_problem_of_every_template_is_reported_in_one_run(project: Path, run: Run) -> None:
    """Once each: what an unknown tag holds, and what follows its mismatched end tag, is not misplaced."""
    edit_template(project, "partials/book.mjml.j2", '<mj-column width="62%"', '<mj-colum width="62%"')
    edit_template(project, "partials/teaser.mjml.j2", "<mj-button href=", '<mj-button align="top" href=')
    edit_template(
        project, "email.mjml.j2", '<mj-breakpoint width="480px" />', '<mj-breakpoint width="480" />'
    )
    result = run("build")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[-1] == "3 problem(s); nothing written for the campaigns concerned."
    book = line_of(project, "partials/book.mjml.j2", "<mj-colum ")
    teaser = line_of(project, "partials/teaser.mjml.j2", 'align="top"')
    main = line_of(project, "email.mjml.j2", "<mj-breakpoint")
    errors = [line for line in lines if line.startswith("error: ")]
    assert [line.split(": ")[1] for line in errors] == [
        f"templates/email.mjml.j2:{main}",
        f"templates/partials/teaser.mjml.j2:{teaser}",
        f"templates/partials/book.mjml.j2:{book}",
    ]


MAIN = """<mjml>
  <mj-head>
    <mj-attributes>
      <mj-text padding="0" />
    </mj-attributes>
  </mj-head>
  <mj-body>
{% include "intro.mjml.j2" %}
{% include "outro.mjml.j2" %}
  </mj-body>
</mjml>
"""
INTRO = """{#- The intro. -#}
    <mj-section>
      <mj-column>
        <mj-text>Welkom</mj-text>
      </mj-column>
    </mj-section>
"""
OUTRO = """{#- The sign-off: its text sits in the section, not in a column. -#}
    <mj-section padding="8px 0">
{% if sign_off %}
        <mj-text>Tot ziens, {{ name }}</mj-text>
{% endif %}
    </mj-section>
"""
GENERATED = """<mjml>
  <mj-head>
    <mj-attributes>
      <mj-text padding="0" />
    </mj-attributes>
  </mj-head>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Welkom</mj-text>
      </mj-column>
    </mj-section>
    <mj-section padding="8px 0">
        <mj-text>Tot ziens, Anna</mj-text>
    </mj-section>
  </mj-body>
</mjml>
"""


def sources(tmp_path: Path) -> list[tuple[Path, str]]:
    files = {"email.mjml.j2": MAIN, "intro.mjml.j2": INTRO, "outro.mjml.j2": OUTRO}
    return [(write(tmp_path / name, text), text) for name, text in files.items()]


def test_the_template_around_the_problem_decides_between_places(tmp_path: Path) -> None:
    """Three templates write <mj-text>: a default, the intro's and the misplaced one in the outro."""
    with pytest.raises(NewsletterErrors) as caught:
        validate_mjml(GENERATED, [path for path, _ in sources(tmp_path)])
    (error,) = caught.value.errors
    assert error.format(tmp_path) == (
        "outro.mjml.j2:4: <mj-text> is not allowed inside <mj-section> (put it inside <mj-column>)"
    )


def test_a_default_is_found_inside_mj_attributes(tmp_path: Path) -> None:
    locator = Locator(sources(tmp_path), GENERATED)
    target = Target("mj-text", 4, in_defaults=True, attribute="padding", value="0")
    assert locator.find(target) == (tmp_path / "email.mjml.j2", 4)


def test_the_attribute_line_is_named_and_its_value_must_fit(tmp_path: Path) -> None:
    """`{{ name }}` stands for any text; a literal value must be the same."""
    template = (
        '<mj-image\n  src="{{ logo }}"\n  width="{{ width }}px" />\n<mj-image src="a.png" width="1px" />\n'
    )
    generated = '<mj-image src="l.png" width="9px" />\n<mj-image src="a.png" width="1px" />\n'
    locator = Locator([(tmp_path / "t.mjml.j2", template)], generated)
    jinja = Target("mj-image", 1, in_defaults=False, attribute="width", value="9px")
    literal = Target("mj-image", 2, in_defaults=False, attribute="width", value="1px")
    assert locator.find(jinja) == (tmp_path / "t.mjml.j2", 3)
    assert locator.find(literal) == (tmp_path / "t.mjml.j2", 4)


def test_a_tag_in_a_jinja_comment_is_not_a_place(tmp_path: Path) -> None:
    written = '<mj-column>\n  <mj-text padding="0">x</mj-text>\n'
    template = '{#- Like <mj-text padding="0">:\n    an example. -#}\n' + written
    locator = Locator([(tmp_path / "t.mjml.j2", template)], written)
    assert locator.find(Target("mj-text", 2, in_defaults=False)) == (tmp_path / "t.mjml.j2", 4)


def test_a_tag_no_template_writes_is_not_placed(tmp_path: Path) -> None:
    locator = Locator(sources(tmp_path), GENERATED)
    assert locator.find(Target("mj-button", 1, in_defaults=False)) == (None, None)


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

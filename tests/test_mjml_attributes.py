"""Attribute values: what MJML's validator refuses is an error at the template line, not a broken email.

The accepted and refused values per type follow mjml-core's type checkers (packages/mjml-core/src/
types/ in https://github.com/mjmlio/mjml), so a template that passes here passes `mjml --validate`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.render.mjml.attributes import TAG_TYPES, TYPES, parse_type, type_of, value_problem
from newsletter.render.mjml.engine import COMPONENTS
from tests.conftest import Run

# MJML type -> (values it accepts, values it refuses)
RULES: dict[str, tuple[list[str], list[str]]] = {
    "unit(px,%){1,4}": (
        ["0", "10px", "8px 28px 0", "0 28px", "1px 2px 3px 4px", "50%", "1.5px", "10px "],
        ["banana", "", "10", "10em", "1px 2px 3px 4px 5px", "10px  20px", "-10px", "auto"],
    ),
    "unit(px)": (["600px", "0"], ["600", "60%", "600 px"]),
    "unit(px,%,)": (["1.55", "22px", "150%", "0"], ["normal", "1.5em"]),
    "unitWithNegative(px,em)": (["1.5px", "-1px", "-0.05em"], ["wide", "1pt"]),
    "unit(px,auto)": (["auto", "200px"], ["50%", "none"]),
    "unit(px,%,auto)": (["auto", "100%", "300px"], ["fit"]),
    "enum(left,center,right)": (["left", "center", "right"], ["middle", "Center", "centre", "", "left "]),
    "enum(left,right,center,justify)": (["justify"], ["start"]),
    "enum(full-width,false,)": (["full-width", "false", ""], ["true"]),
    "color": (
        [
            "#fff",
            "#F4EFE6",
            "rgb(0,0,0)",
            "rgb(0, 0, 0)",
            "rgba(0, 0, 0, 0.5)",
            "white",
            "transparent",
            "White",
        ],
        ["#ffff", "#gggggg", "ffffff", "rgb(0 0 0)", "rgba(0,0,0,.5)", "not-a-colour", "rgb(0,0,0) x", ""],
    ),
    "boolean": (["true", "false"], ["yes", "1", ""]),
    "integer": (["0", "10"], ["-1", "1.5", "ten", ""]),
    "string": (["", "anything at all"], []),
}


@pytest.mark.parametrize(
    ("spec", "value", "ok"),
    [(spec, value, True) for spec, (good, _) in RULES.items() for value in good]
    + [(spec, value, False) for spec, (_, bad) in RULES.items() for value in bad],
)
def test_values_follow_mjml_type_rules(spec: str, value: str, ok: bool) -> None:
    assert parse_type(spec).accepts(value) is ok


def test_every_typed_attribute_is_one_the_components_allow() -> None:
    """The type tables name only attributes COMPONENTS allows, in MJML's notation, with a rule for each."""
    for attribute, spec in TYPES.items():
        assert any(attribute in allowed for allowed, _ in COMPONENTS.values()), attribute
        parse_type(spec)
    for (tag, attribute), spec in TAG_TYPES.items():
        assert attribute in COMPONENTS[tag][0], (tag, attribute)
        assert type_of(tag, attribute) == parse_type(spec)


def test_component_types_override_the_common_ones() -> None:
    assert value_problem("mj-text", "align", "justify") is None
    assert value_problem("mj-button", "align", "justify") is not None
    assert value_problem("mj-image", "width", "50%") is not None
    assert value_problem("mj-column", "width", "50%") is None


def test_defaults_for_every_component_are_only_checked_for_line_breaks() -> None:
    assert value_problem("mj-all", "padding", "banana") is None
    assert value_problem("mj-all", "font-family", "Georgia,\nserif") is not None


def test_the_hint_says_what_is_allowed_and_suggests_a_close_option() -> None:
    assert value_problem("mj-button", "align", "centre") == (
        "invalid value 'centre' for 'align' on <mj-button>",
        "allowed: left, center or right; did you mean 'center'?",
    )
    assert value_problem("mj-text", "letter-spacing", "wide") == (
        "invalid value 'wide' for 'letter-spacing' on <mj-text>",
        "allowed: a length in px or em (negative allowed), such as '10px'",
    )


def edit(project: Path, name: str, old: str, new: str) -> int:
    """Replace the first `old` in a template; the 1-based line where `new` starts."""
    path = project / "templates" / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    edited = text.replace(old, new, 1)
    path.write_text(edited, encoding="utf-8")
    return edited.count("\n", 0, edited.index(new)) + 1


def failing(run: Run, command: str) -> str:
    result = run(command)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.stderr


@pytest.mark.parametrize("command", ["build", "check"])
def test_a_wrong_length_names_the_template_line_and_what_is_allowed(
    project: Path, run: Run, command: str
) -> None:
    line = edit(project, "partials/book.mjml.j2", 'padding="16px 28px 0"', 'padding="banana"')
    assert (
        f"error: templates/partials/book.mjml.j2:{line}: invalid value 'banana' for 'padding' on <mj-button> "
        "(allowed: 1 to 4 lengths in px or %, separated by spaces, such as '10px 25px')"
    ) in failing(run, command)
    assert not (project / "build").exists()


@pytest.mark.parametrize("command", ["build", "check"])
def test_an_unknown_alignment_lists_the_allowed_ones(project: Path, run: Run, command: str) -> None:
    line = edit(
        project,
        "partials/teaser.mjml.j2",
        '<mj-button href="{{ teaser.url }}">',
        '<mj-button href="{{ teaser.url }}" align="middle">',
    )
    assert (
        f"error: templates/partials/teaser.mjml.j2:{line}: invalid value 'middle' for 'align' on <mj-button> "
        "(allowed: left, center or right)"
    ) in failing(run, command)


def test_a_value_written_with_jinja_is_checked_as_rendered(project: Path, run: Run) -> None:
    """The logo's width without its unit: the template only says `{{ brand.logo_width }}`."""
    line = edit(
        project, "email.mjml.j2", 'width="{{ brand.logo_width }}px"', 'width="{{ brand.logo_width }}"'
    )
    assert (
        f"error: templates/email.mjml.j2:{line}: invalid value '180' for 'width' on <mj-image> "
        "(allowed: a length in px, such as '10px')"
    ) in failing(run, "build")


def test_a_wrong_default_is_reported_inside_mj_attributes(project: Path, run: Run) -> None:
    line = edit(
        project, "email.mjml.j2", 'font-size="15px" font-weight="bold"', 'font-size="15" font-weight="bold"'
    )
    assert (
        f"error: templates/email.mjml.j2:{line}: invalid value '15' for 'font-size' on <mj-button> "
        "(allowed: a length in px, such as '10px')"
    ) in failing(run, "build")


def test_a_line_break_in_a_value_is_refused(project: Path, run: Run) -> None:
    line = edit(project, "partials/book.mjml.j2", 'border-top="1px solid', 'border-top="1px\n        solid')
    stderr = failing(run, "build")
    assert (
        f"error: templates/partials/book.mjml.j2:{line}: the value '1px\\n        solid #f4efe6' of "
        "'border-top' on <mj-section> has a line break (write the value on one line:"
    ) in stderr


def test_the_sample_templates_pass(project: Path, run: Run) -> None:
    result = run("build")
    assert result.exit_code == 0, result.output

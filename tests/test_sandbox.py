"""Hostile templates: they see plain values, call nothing dangerous, and stop within bounds.

Every case goes through `newsletter build` the way an editor who changed a template would meet it:
exit 2, one message naming the template line, no traceback, nothing of the secret in the output.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from newsletter.render import sandbox
from newsletter.render.template_data import Record, plain
from tests.conftest import Run

MAIN = "templates/email.mjml.j2"
TEXT = "templates/email.txt.j2"
SECRET = "sk_test_4eC39HqLyjWDarjtT1zdp7dc_do_not_leak"


def put_in_template(project: Path, expression: str, name: str = MAIN) -> int:
    """Write `expression` into a template on a line of its own; return that line's number."""
    path = project / name
    lines = path.read_text(encoding="utf-8").split("\n")
    anchor = next(i for i, line in enumerate(lines) if "<mj-body" in line or "{{ campaign.subject" in line)
    lines.insert(anchor + 1, f"<mj-raw>{expression}</mj-raw>" if name == MAIN else expression)
    path.write_text("\n".join(lines), encoding="utf-8")
    return anchor + 2


def failing(run: Run) -> str:
    result = run("build", "2026-12-paper")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.stderr


@pytest.mark.parametrize(
    "expression",
    [
        "{{ campaign.path.joinpath('/proc/self/environ').read_text() }}",
        "{{ campaign.path }}",
        "{{ settings.smtp }}",
        "{{ settings.sender.test_recipients }}",
        "{{ settings.bounces }}",
        "{{ settings.web_version('x') }}",
        "{{ brand.name.encode('utf-8') }}",
        "{{ books[0].__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum(10**6) }}",
    ],
)
def test_a_template_reaches_no_object_method_file_or_secret(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch, expression: str
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", SECRET)
    line = put_in_template(project, expression)
    stderr = failing(run)
    assert f"{MAIN}:{line}: " in stderr
    assert SECRET not in stderr
    built = [p.read_bytes() for p in (project / "build").rglob("*") if p.is_file()]
    assert not any(SECRET.encode() in data for data in built)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("{{ range(10**9)|list|length }}", "Range too big"),
        ("{{ ('a' * 10**9)|length }}", "the result would hold 1,000,000,000 items"),
        ("{{ [0] * 10**9 }}", "the result would hold"),
        ("{{ 10 ** (10 ** 10) }}", "the number would have"),
        ("{{ 'a'|center(10**9) }}", "a width of 1,000,000,000 is too large"),
        ("{{ 'x'|indent(10**8) }}", "the result would hold"),
        ("{{ ('x' * 1000)|replace('x', 'y' * 10000) }}", "the result would hold 10,000,000 items"),
        ("{{ '%999999999s'|format(1) }}", "a width of 999,999,999 is too large"),
        ("{{ '%999999999s' % 1 }}", "a width of 999,999,999 is too large"),
        ("{{ '{:>999999999}'.format(1) }}", "a width of 999,999,999 is too large"),
        ("{% for i in range(99999) %}{{ 'x' * 99 }}{% endfor %}", "output exceeds 1,000,000 characters"),
        ("{{ ([[1] * 1000000] * 1000)|sum(start=[])|length }}", "the result would hold"),
        ("{{ [[1], [2]]|sum(start=[]) }}", "sum adds numbers only in templates"),
        ("{{ (['a' * 1000000] * 2000)|join|length }}", "the result would hold"),
        ("{{ (range(99999)|map('string')|join('x' * 20))|length }}", "the result would hold"),
        (
            "{% set ns = namespace(x='a') %}{% for i in range(30) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}",
            "the result would hold",
        ),
        ("{{ 1 / 0 }}", "template error: division by zero"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "the template calls itself too deeply"),
    ],
)
def test_a_runaway_template_is_an_error_at_its_line(
    project: Path, run: Run, expression: str, expected: str
) -> None:
    line = put_in_template(project, expression)
    started = time.monotonic()
    stderr = failing(run)
    assert time.monotonic() - started < sandbox.TIME_LIMIT
    # Output that grows too large is caught between two chunks, outside any template line.
    assert f"{MAIN}:{line}: " in stderr or (f"{MAIN}: " in stderr and "output" in expected)
    assert expected in stderr


def test_a_template_that_never_ends_is_stopped_at_its_line(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "TIME_LIMIT", 0.3)
    line = put_in_template(
        project, "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}"
    )
    stderr = failing(run)
    assert f"{MAIN}:{line}: the template ran for more than 0.3 s" in stderr


@pytest.mark.parametrize("target", ["/proc/self/environ", "../newsletter.toml"])
def test_a_template_that_links_out_of_templates_is_refused(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", SECRET)
    link = project / "templates" / "partials" / "footer-note.j2"
    link.symlink_to(target if target.startswith("/") else project / "newsletter.toml")
    line = put_in_template(project, '{% include "partials/footer-note.j2" %}', TEXT)
    stderr = failing(run)
    assert f"{TEXT}:{line}: not allowed: the template partials/footer-note.j2 is a link to " in stderr
    assert "outside templates/" in stderr
    assert not any(SECRET.encode() in p.read_bytes() for p in (project / "build").rglob("*") if p.is_file())


def test_the_text_template_is_bounded_too(project: Path, run: Run) -> None:
    line = put_in_template(project, "{{ 'a' * 10**9 }}", TEXT)
    assert f"{TEXT}:{line}: " in failing(run)


def test_what_templates_really_use_still_works(project: Path, run: Run) -> None:
    put_in_template(
        project,
        "{% macro box() %}[{{ caller() }}]{% endmacro %}"
        "{% set ns = namespace(n=0) %}{% for b in books %}{% set ns.n = ns.n + 1 %}"
        "{{ loop.cycle('odd', 'even') }}{% endfor %}"
        "{% call box() %}{{ campaign.subject.upper().split()|join('-') }}{% endcall %}"
        "{{ ns.n }} {{ dict(a=1).items()|list }} {{ '%05.1f'|format(3.14159) }} {{ '{:>8}'.format('x') }}"
        "{{ t.read_more }} {{ settings.publisher.postal_address }} {{ campaign.teasers[0].author.name }}"
        "{{ 'ab' * 3 }} {{ 2 ** 10 }}",
    )
    result = run("build", "2026-12-paper")
    assert result.exit_code == 0, result.output
    html = (project / "build" / "2026-12-paper" / "email.html").read_text(encoding="utf-8")
    assert "odd[WHY-WE-STILL-READ-ON-PAPER]1 [('a', 1)] 003.1        xRead more" in html
    assert "Thomas Verbeekababab 1024" in html


def test_template_data_is_plain_and_read_only() -> None:
    record = plain({"items": 1, "title": "x", "path": Path("/etc"), "nested": [{"a": 1}]})
    assert isinstance(record, Record)
    assert record.items == 1 and record["title"] == "x"  # fields win over any container method
    assert "path" not in record
    assert record.nested[0].a == 1 and isinstance(record.nested, tuple)
    with pytest.raises(AttributeError):
        record.title = "y"

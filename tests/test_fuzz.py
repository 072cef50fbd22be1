"""Whatever lands in a project file, `build` and `check` answer with exit 0, 1 or 2, never a traceback.

Random bytes and random YAML (made of the keys our files really use, so that it gets past the first
checks) go into a campaign, a book, the authors and a column's front matter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.cli import main

KEYS = [
    "subject", "preheader", "locale", "intro", "sign_off", "teasers", "books", "column", "url", "title",
    "excerpt", "author", "image", "image_alt", "template", "audience", "tags", "price", "co_authors",
    "cover_url", "cover_alt", "shop_url", "name", "handle", "bio", "photo", "cta", "label", "ends",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        ["nl", "en", "the-quiet-page", "why-we-still-read-on-paper.md", "https://x.nl/a", "{first_name}"]
    ),
)
VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=20,
)
FILES = {
    "campaign": "campaigns/2026-12-paper.yaml",
    "book": "books/the-quiet-page.yaml",
    "authors": "authors.yaml",
}
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def build_and_check(project: Path) -> None:
    for command in (["build", "2026-12-paper"], ["check", "2026-12-paper"]):
        result = CliRunner().invoke(main, ["--project", str(project), *command])
        assert result.exit_code in (0, 1, 2), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output


@FUZZ
@given(kind=st.sampled_from(sorted(FILES)), data=st.binary(max_size=300))
def test_random_bytes_in_a_project_file(project: Path, kind: str, data: bytes) -> None:
    (project / FILES[kind]).write_bytes(data)
    build_and_check(project)


@FUZZ
@given(kind=st.sampled_from(sorted(FILES)), value=VALUES)
def test_random_yaml_in_a_project_file(project: Path, kind: str, value: Any) -> None:
    (project / FILES[kind]).write_text(yaml.safe_dump(value, allow_unicode=True), encoding="utf-8")
    build_and_check(project)


@FUZZ
@given(value=st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), VALUES, max_size=6))
def test_random_front_matter_in_a_column(project: Path, value: dict[str, Any]) -> None:
    front_matter = yaml.safe_dump(value, allow_unicode=True) if value else ""
    column = project / "columns" / "why-we-still-read-on-paper.md"
    column.write_text(f"---\n{front_matter}---\n\nA body.\n", encoding="utf-8")
    build_and_check(project)

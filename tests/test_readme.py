"""The README's generated parts (command reference, check rules) match the code: `make docs` fixes them."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from cogapp import Cog  # type: ignore[import-untyped]

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_is_up_to_date() -> None:
    output = io.StringIO()
    with (
        contextlib.chdir(README.parent),
        contextlib.redirect_stdout(output),
        contextlib.redirect_stderr(output),
    ):
        status = Cog().main(["cog", "--check", "--check-fail-msg=run `make docs`", str(README.name)])
    assert status == 0, output.getvalue()


def test_the_check_notices_drift(tmp_path: Path) -> None:
    stale = tmp_path / "README.md"
    text = README.read_text(encoding="utf-8")
    marker = "<!-- [[[end]]] -->"
    first_end = text.index(marker)
    stale.write_text(text[:first_end] + "stale line\n" + text[first_end:], encoding="utf-8")
    output = io.StringIO()
    with (
        contextlib.chdir(README.parent),
        contextlib.redirect_stdout(output),
        contextlib.redirect_stderr(output),
    ):
        status = Cog().main(["cog", "--check", str(stale)])
    assert status != 0

"""The view: what the templates print, decided before they run."""

from __future__ import annotations

from newsletter.render.view import paragraphs


def test_paragraphs_split_on_blank_lines_and_fold_line_breaks() -> None:
    assert paragraphs("Een\ntwee.\n\n  Drie.\n") == ("Een twee.", "Drie.")
    assert paragraphs(None) == ()

"""Teaser excerpts that keep the writer's text intact: whole sentences, typography kept."""

from __future__ import annotations

import pytest

from newsletter.project.columns import Block, make_excerpt


def paragraphs(*texts: str) -> list[Block]:
    return [Block("paragraph", text=text) for text in texts]


def test_excerpt_short_text_is_unchanged_and_skips_headings_and_bullets() -> None:
    blocks = [
        Block("heading", text="Kop"),
        *paragraphs("Eén zin. Nog een zin!"),
        Block("bullets", items=("lijst",)),
        *paragraphs("Tweede alinea zonder punt"),
    ]

    assert make_excerpt(blocks) == "Eén zin. Nog een zin! Tweede alinea zonder punt"


def test_excerpt_cuts_at_sentence_boundary_and_replaces_full_stop() -> None:
    blocks = paragraphs("Dit is de eerste zin. Dit is de tweede zin. En dit is de derde zin.")

    assert make_excerpt(blocks, words=10) == "Dit is de eerste zin. Dit is de tweede zin…"
    assert make_excerpt(blocks, words=15) == "Dit is de eerste zin. Dit is de tweede zin…"
    assert (
        make_excerpt(blocks, words=16)
        == "Dit is de eerste zin. Dit is de tweede zin. En dit is de derde zin."
    )


def test_excerpt_question_and_exclamation_get_spaced_ellipsis() -> None:
    assert make_excerpt(paragraphs("Wat doe je dan? Je schrapt alles wat overbodig is."), words=5) == (
        "Wat doe je dan? …"
    )
    assert make_excerpt(paragraphs("Schrap! Schrap alles wat overbodig is."), words=3) == "Schrap! …"


def test_excerpt_closing_quote_after_full_stop() -> None:
    blocks = paragraphs("Hij zei: “Schrappen is schrijven.” Daarna zweeg hij lang.")

    assert make_excerpt(blocks, words=5) == "Hij zei: “Schrappen is schrijven.” …"


def test_excerpt_keeps_typography() -> None:
    text = "Het ‘weglaten’ – zo noemt ze het – is een kunst… Maar wie durft dat nog?"

    assert make_excerpt(paragraphs(text), words=14) == text
    assert make_excerpt(paragraphs(text), words=13) == "Het ‘weglaten’ – zo noemt ze het – is een kunst…"


def test_excerpt_sentence_boundary_at_paragraph_end() -> None:
    blocks = paragraphs("Korte alinea.", "Nog een alinea. En nog een zin die niet meer past.")

    assert make_excerpt(blocks, words=5) == "Korte alinea. Nog een alinea…"
    assert make_excerpt(paragraphs("Alinea zonder punt", "Tweede alinea."), words=3) == "Alinea zonder punt…"


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (1, "Onvoorstelbaar…"),
        (3, "Onvoorstelbaar lange openingszinnen…"),
        (5, "Onvoorstelbaar lange openingszinnen, vol bijzinnen…"),
    ],
)
def test_excerpt_first_sentence_longer_than_limit_is_cut_between_words(words: int, expected: str) -> None:
    text = "Onvoorstelbaar lange openingszinnen, vol bijzinnen en uitweidingen, zijn typisch. Kort."

    assert make_excerpt(paragraphs(text), words=words) == expected


def test_excerpt_dashes_do_not_count_as_words_and_are_not_left_dangling() -> None:
    blocks = paragraphs("Schrijven – zeker in een column – is schrappen en nog eens schrappen.")

    assert make_excerpt(blocks, words=1) == "Schrijven…"
    assert make_excerpt(blocks, words=2) == "Schrijven – zeker…"
    assert make_excerpt(blocks, words=5) == "Schrijven – zeker in een column…"


def test_excerpt_abbreviation_is_not_a_sentence_end() -> None:
    blocks = paragraphs("Dat zei o.a. Jan de Vries, de hoofdredacteur. Hij had gelijk.")

    assert make_excerpt(blocks, words=5) == "Dat zei o.a. Jan de…"
    assert make_excerpt(blocks, words=8) == "Dat zei o.a. Jan de Vries, de hoofdredacteur…"


@pytest.mark.parametrize(
    "abbreviation",
    [
        *("o.a.", "bijv.", "d.w.z.", "m.a.w.", "ca.", "Dr.", "mr.", "mevr.", "drs.", "Prof."),
        *("e.g.", "i.e.", "etc.", "nr.", "blz.", "J.", "J.P."),
    ],
)
def test_excerpt_does_not_split_after_abbreviations_or_initials(abbreviation: str) -> None:
    blocks = paragraphs(f"Zie {abbreviation} Hoofdstuk twee voor meer. Tweede zin hier.")

    assert make_excerpt(blocks, words=3) == f"Zie {abbreviation} Hoofdstuk…"


def test_excerpt_does_not_split_before_lowercase() -> None:
    blocks = paragraphs("Hij zei nee. en toen ging hij. Daarna niets.")

    assert make_excerpt(blocks, words=5) == "Hij zei nee. en toen…"
    assert make_excerpt(blocks, words=7) == "Hij zei nee. en toen ging hij…"


def test_excerpt_splits_before_digit_and_opening_quote() -> None:
    assert make_excerpt(paragraphs("Het was 2023. 2024 werd beter."), words=3) == "Het was 2023…"
    assert make_excerpt(paragraphs("Ze keek op. “Nee,” zei ze."), words=3) == "Ze keek op…"


def test_excerpt_uses_bullets_when_there_are_no_paragraphs() -> None:
    blocks = [
        Block("heading", text="Drie tips"),
        Block("bullets", items=("Minder vergaderen.", "Meer schrijven.", "Vaker schrappen.")),
    ]

    assert make_excerpt(blocks, words=4) == "Minder vergaderen. Meer schrijven…"
    assert make_excerpt(blocks) == "Minder vergaderen. Meer schrijven. Vaker schrappen."


def test_excerpt_without_text_is_empty() -> None:
    assert make_excerpt([Block("heading", text="Alleen een kop")]) == ""


@pytest.mark.parametrize("words", [0, -1])
def test_excerpt_rejects_non_positive_word_limit(words: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        make_excerpt(paragraphs("Tekst."), words=words)

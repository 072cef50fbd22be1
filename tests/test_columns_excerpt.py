"""Teaser excerpts that keep the writer's text intact: whole sentences, typography kept, and the
column's paragraphs, headings and lists apart; the preheader `newsletter new` writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.project.columns import Block, make_excerpt, make_preheader
from tests.conftest import Run


def paragraphs(*texts: str) -> list[Block]:
    return [Block("paragraph", text=text) for text in texts]


def test_excerpt_short_text_is_unchanged_and_keeps_its_headings_paragraphs_and_bullets() -> None:
    blocks = [
        Block("heading", text="Kop"),
        *paragraphs("Eén zin. Nog een zin!"),
        Block("bullets", items=("lijst", "nog een punt")),
        *paragraphs("Tweede alinea zonder punt"),
    ]

    assert make_excerpt(blocks) == (
        "Kop\n\nEén zin. Nog een zin!\n\n• lijst\n\n• nog een punt\n\nTweede alinea zonder punt"
    )


def test_a_long_excerpt_keeps_the_columns_shape_and_cuts_inside_a_list() -> None:
    blocks = [
        *paragraphs("Eerste alinea."),
        Block("heading", text="Waar begin je"),
        *paragraphs("Drie regels:"),
        Block("bullets", items=("Schrap het begin.", "Schrap bijvoeglijke naamwoorden.", "Schrap meer.")),
    ]

    assert make_excerpt(blocks, words=10) == (
        "Eerste alinea.\n\nWaar begin je\n\nDrie regels:\n\n• Schrap het begin…"
    )


def test_an_excerpt_never_ends_on_a_heading() -> None:
    blocks = [*paragraphs("Eerste alinea."), Block("heading", text="Een kop"), *paragraphs("Lange zin hier.")]

    assert make_excerpt(blocks, words=4) == "Eerste alinea…"
    assert make_excerpt([*paragraphs("Alinea."), Block("heading", text="Slotkop")]) == "Alinea."


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

    assert make_excerpt(blocks, words=5) == "Korte alinea.\n\nNog een alinea…"
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


def test_excerpt_of_bullets_without_paragraphs() -> None:
    blocks = [
        Block("heading", text="Drie tips"),
        Block("bullets", items=("Minder vergaderen.", "Meer schrijven.", "Vaker schrappen.")),
    ]

    assert make_excerpt(blocks, words=6) == "Drie tips\n\n• Minder vergaderen.\n\n• Meer schrijven…"
    assert make_excerpt(blocks) == (
        "Drie tips\n\n• Minder vergaderen.\n\n• Meer schrijven.\n\n• Vaker schrappen."
    )
    # Not even the first sentence fits: its first words, without the heading that would stand alone.
    assert make_excerpt(blocks, words=1) == "• Minder…"


def test_excerpt_without_text_is_empty() -> None:
    assert make_excerpt([Block("heading", text="Alleen een kop")]) == ""


@pytest.mark.parametrize("words", [0, -1])
def test_excerpt_rejects_non_positive_word_limit(words: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        make_excerpt(paragraphs("Tekst."), words=words)


LONG_SENTENCES = paragraphs(
    "Sociale media zijn niet alleen iets voor je klanten, het doet ook veel voor intern bij een bedrijf "
    "en voor wie er werkt. Tweede zin."
)


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        # Whole sentences first, as many as fit in 100 characters.
        (
            paragraphs(
                "Eerste zin van een column die iets wil zeggen. Tweede zin die ook nog past. "
                "Derde zin die niet meer past."
            ),
            "Eerste zin van een column die iets wil zeggen. Tweede zin die ook nog past…",
        ),
        # A first sentence too long for the preview line: cut after a clause, never mid-phrase.
        (LONG_SENTENCES, "Sociale media zijn niet alleen iets voor je klanten…"),
        (
            paragraphs(
                "Het resultaat van al dat schrappen is zelden korter dan je vooraf had gehoopt – maar "
                "het is altijd beter dan je vreest, zegt de redacteur."
            ),
            "Het resultaat van al dat schrappen is zelden korter dan je vooraf had gehoopt…",
        ),
        # Short text is taken whole; a paragraph's end is a sentence's end.
        (paragraphs("Kort.", "Ook kort"), "Kort. Ook kort"),
        (
            [Block("heading", text="Kop"), *paragraphs("Alinea zonder punt aan het eind " * 2, "Meer " * 30)],
            "Alinea zonder punt aan het eind Alinea zonder punt aan het eind…",
        ),
    ],
)
def test_preheader_is_cut_at_a_sentence_or_clause_between_40_and_100_characters(
    blocks: list[Block], expected: str
) -> None:
    assert make_preheader(blocks) == expected


def test_preheader_without_a_pause_is_cut_between_words() -> None:
    text = " ".join(["woordenschat"] * 20)

    preheader = make_preheader(paragraphs(text))

    assert len(preheader) <= 100 and preheader.endswith("woordenschat…")


def test_a_long_excerpt_in_the_email_keeps_the_columns_paragraphs_headings_and_list(
    project: Path, run: Run
) -> None:
    """The sample column with a list in "-", "–", "•" and "*" bullets, teased with 200 words."""
    column = project / "columns" / "de-kunst-van-het-weglaten.txt"
    text = column.read_text(encoding="utf-8")
    column.write_text(text.replace("- bijvoeglijke", "* bijvoeglijke"), encoding="utf-8")
    path = project / "campaigns" / "2026-12-schrijven.yaml"
    yaml = path.read_text(encoding="utf-8")
    path.write_text(yaml.replace("excerpt_words: 50", "excerpt_words: 200"), encoding="utf-8")

    built = run("build", "2026-12-schrijven")

    assert built.exit_code == 0, built.output
    email = (project / "build" / "2026-12-schrijven" / "email.txt").read_text(encoding="utf-8")
    assert (
        "Waar begin je?\n\n"
        "Begin niet bij de zinnen, maar bij de alinea’s. Welke alinea zegt iets\n"
        "wat een andere al zei? Daarna pas de woorden:\n\n"
        "• bijvoeglijke naamwoorden die niets toevoegen;\n\n"
        "• woorden als ‘eigenlijk’, ‘best wel’ en ‘in principe’;\n\n"
        "• zinnen die beginnen met “Het is belangrijk om te beseffen dat…”\n\n"
        "Wie zo leest, ziet zijn tekst krimpen en tegelijk groeien."
    ) in email
    assert "wilde zeggen.\n\nMijn eerste hoofdredacteur" in email


def test_a_long_excerpt_in_the_html_is_paragraphs_and_one_list(project: Path, run: Run) -> None:
    path = project / "campaigns" / "2026-12-schrijven.yaml"
    yaml = path.read_text(encoding="utf-8")
    path.write_text(yaml.replace("excerpt_words: 50", "excerpt_words: 200"), encoding="utf-8")
    assert run("build", "2026-12-schrijven").exit_code == 0
    html = (project / "build" / "2026-12-schrijven" / "email.html").read_text(encoding="utf-8")
    teaser = html[html.index("Waar begin je?") :]
    items = teaser[teaser.index("<ul") : teaser.index("</ul>")]
    assert items.count("<li") == 3 and "bijvoeglijke naamwoorden die niets toevoegen;" in items
    assert "•" not in items, "the list's own bullets, not the text part's"
    assert "<p" in teaser[teaser.index("</ul>") :].split("Wie zo leest")[0]

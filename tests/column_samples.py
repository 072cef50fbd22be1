"""Sample columns shared by the column tests: a blog export as blogs write it, and file helpers."""

from __future__ import annotations

from pathlib import Path

from newsletter.project.columns import Block, Column

BLOG_EXPORT = """\
[Column] De kunst van het weglaten

Elke schrijver kent het moment: de tekst is af,
maar hij is te lang. Wat doe je dan? Je schrapt.

Mijn eerste hoofdredacteur zei het zo: “Alles wat je weglaat, kan niet fout zijn.” Ik vond dat \
toen cynisch. Nu vind ik het wijs.

Waar begin je

Ik houd me aan drie vuistregels:
- Schrap het eerste alinea’tje; daar zit je nog op te warmen.
– Schrap elk bijvoeglijk naamwoord
  dat niets toevoegt.
• Schrap wat je lezer allang weet.

Het resultaat is zelden korter dan je hoopt – maar altijd beter dan je vreest.

Marieke de Wit (@mariekeschrijft)
Marieke de Wit is schrijfdocent en auteur van ‘Minder is meer’.

Haar nieuwe boek ‘Weg ermee!’ ligt vanaf 12 maart in de winkel.
BESTEL NU! Van € 24,99 voor € 19,99.
"""


BLOG_BLOCKS = (
    Block(
        "paragraph",
        text="Elke schrijver kent het moment: de tekst is af, maar hij is te lang. "
        "Wat doe je dan? Je schrapt.",
    ),
    Block(
        "paragraph",
        text="Mijn eerste hoofdredacteur zei het zo: “Alles wat je weglaat, kan niet fout zijn.” "
        "Ik vond dat toen cynisch. Nu vind ik het wijs.",
    ),
    Block("heading", text="Waar begin je"),
    Block("paragraph", text="Ik houd me aan drie vuistregels:"),
    Block(
        "bullets",
        items=(
            "Schrap het eerste alinea’tje; daar zit je nog op te warmen.",
            "Schrap elk bijvoeglijk naamwoord dat niets toevoegt.",
            "Schrap wat je lezer allang weet.",
        ),
    ),
    Block("paragraph", text="Het resultaat is zelden korter dan je hoopt – maar altijd beter dan je vreest."),
)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def all_text(column: Column) -> str:
    return " ".join(
        [column.title, *(b.text for b in column.blocks), *(i for b in column.blocks for i in b.items)]
    )


# Blog pages as editors copy them from the browser (issue 11): page chrome above the title, and a
# book promotion after the byline. The sample project's brand is "Uitgeverij Lindenhof".
SITE_NAME = "Uitgeverij Lindenhof"

WORDPRESS_NL = """\
Uitgeverij Lindenhof – boeken die blijven
Home | Boeken | Columns | Agenda | Contact
Adverteren of een persbericht?

[Column] Social media verandert jouw bedrijf!

Wie vandaag een bedrijf heeft, ontkomt niet aan sociale media. Klanten verwachten binnen het uur \
een antwoord, ook op zondag. Dat voelt als druk, maar het is vooral een kans.

Want wie goed schrijft, valt op. Een helder bericht van drie zinnen doet meer dan een campagne \
van drie maanden.

Marieke de Wit (@mariekeschrijft)
Marieke de Wit is eindredacteur en schrijft elke maand over taal.
Boek Schrijven is schrappen met Joost Hendriks, Fatima El Amrani en Pieter-Jan Claes
BESTEL NU!
€ 34,95
Gratis verzonden in Nederland en België
"""

WORDPRESS_NL_EXCERPT = (
    "Wie vandaag een bedrijf heeft, ontkomt niet aan sociale media. Klanten verwachten binnen het uur "
    "een antwoord, ook op zondag…"
)

# Blogger: the blog's name and description as one block, the post title alone, no label, and the
# promotion (case and accents as the blog typed them) straight after the text, without a byline.
BLOGGER_EN = """\
Lindenhof Blog
Books, writing and reading

Why slow readers remember more

Every reader knows the feeling: you finish a page and cannot say what was on it. Slow readers \
have that less often. They stop, they look up, they let a sentence sink in.

That is not a lack of speed. It is a different kind of attention, and it can be learned.

Book THE QUIET PAGE with Thomas Verbeek and Ilse Maas
ORDER NOW
€24.50 – free shipping in the Netherlands
"""

# A promotion for a book the sample project does not have yet; no chrome at all.
NEW_BOOK_NL = """\
[Column] Weg met de bijzin

Een goede zin heeft één gedachte. Wie er twee in stopt, verliest de lezer halverwege.

Anouk Jansen (@anoukschrijft)
Anouk Jansen is redacteur bij een dagblad.

Boek ‘Weg ermee!’ met Joost Hendriks & Anouk van den Berg
BESTEL NU! Van € 24,99 voor € 19,99.
"""

# A Markdown export: chrome as paragraphs above the `# heading`, the promotion as bold text.
MARKDOWN_EXPORT = """\
Uitgeverij Lindenhof

Home | Boeken | Columns

# [Column] Lezen in de trein

Iedereen leest in de trein, zegt men. Maar wie om zich heen kijkt, ziet vooral schermen.

Marieke de Wit (@mariekeschrijft)
Marieke de Wit is eindredacteur.

**Boek Schrijven is schrappen met Joost Hendriks en Pieter-Jan Claes**

**[BESTEL NU!](https://www.uitgeverijlindenhof.nl/winkel/schrijven-is-schrappen)**
"""

# A column whose first sentence is too long for an inbox's preview line: cut after 20 words, the
# preheader ended mid-phrase ("…het doet ook veel voor intern bij een…").
LONG_SENTENCE_NL = """\
[Column] Social media is ook voor binnen

Social media is vandaag echt niet alleen iets voor je eigen klanten, het doet ook veel voor intern \
bij een bedrijf: medewerkers zien wat er speelt en praten mee. Dat vraagt wel om een plan.

Anouk Jansen (@anoukschrijft)
Anouk Jansen is redacteur bij een dagblad.
"""

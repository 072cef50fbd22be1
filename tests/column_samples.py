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

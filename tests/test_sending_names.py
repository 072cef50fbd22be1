"""The name a reader is greeted by: a first name, or nothing so that the greeting falls back."""

from __future__ import annotations

import pytest

from newsletter.sending.names import first_name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Jan van der Berg", "Jan"),
        ("Jan", "Jan"),
        ("  Marieke   de Wit ", "Marieke"),
        ("Zoë Ærø", "Zoë"),
        ("Anna-Maria de Wit", "Anna-Maria"),
        ("Jansen, Piet", "Piet"),
        ("de Vries, Jan", "Jan"),
        ("dr. Ilse Maas", "Ilse"),
        ("Ing. Kees Smit", "Kees"),
        ("PIET", "Piet"),
        ("piet-jan de vries", "Piet-Jan"),
        ("McEnroe", "McEnroe"),
        ("", ""),
        ("   ", ""),
        ("\r\n\t", ""),
        ("\nJan\r\nBcc: x@y.nl", "Jan"),
    ],
)
def test_the_first_name_of_a_name(name: str, expected: str) -> None:
    assert first_name(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "Dhr. J. de Vries",
        "dhr Jansen",
        "mevrouw van Dam",
        "Mevr. Smit",
        "Mw. drs. A. Smit",
        "meneer Jansen",
        "de heer Jansen",
        "Fam. de Boer",
        "van Dam",
        "J.P. Balkenende",
        "A.",
        "Jansen, J.",
    ],
)
def test_titles_initials_and_surnames_alone_give_no_first_name(name: str) -> None:
    assert first_name(name) == ""

"""The fast path for ordinary addresses gives what email-validator gives, on every address we can think of.

`normalise_address` takes a fast path for ordinary addresses and asks email-validator about the rest.
These tests hold it to the answer of email-validator alone (the reference below, which is what
`normalise_address` was before the fast path): the same normalised address, or both refusing with
the same reason. The corpus is generated, ordinary and tricky alike, from a fixed seed.
"""

from __future__ import annotations

import random
import re

import pytest
from email_validator import EmailNotValidError, validate_email

from newsletter.store.addresses import _ordinary, normalise_address


def reference(cell: str) -> str:
    """`normalise_address` with email-validator for every address."""
    text = cell.strip()
    if not text:
        raise ValueError("empty address")
    if len([part for part in re.split(r"[\s,;|]+", text) if "@" in part]) > 1:
        raise ValueError(f"two addresses in one cell: {text!r}")
    try:
        normalized = validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"invalid address {text!r}: {exc}") from None
    local, _, domain = normalized.rpartition("@")
    return f"{local}@{domain.lower()}"


def outcome(normalise: object, cell: str) -> tuple[str, str]:
    assert callable(normalise)
    try:
        return ("ok", normalise(cell))
    except ValueError as exc:
        return ("refused", str(exc))


HANDPICKED = [
    "jan@example.nl",
    "Jan.de.Vries@Uitgeverij.NL",
    "a+tag@sub.domain.example.com",
    "o'brien@example.ie",
    "x!#$%&'*+/=?^_`{}~-y@example.org",
    "a|b@example.org",
    "Jörg@BÜCHER.de",
    "jörg@bücher.de",
    "用户@例子.广告",
    "josé@example.com",
    "Jose\u0301@example.com",
    '"quoted"@example.com',
    '"with space"@example.com',
    "user@xn--bcher-kva.de",
    "user@xn--bcher-kva.DE",
    "user@xn--invalid-.de",
    "user@ab--cd.de",
    "user@a--b.de",
    "user@example.com.",
    "user.@example.com",
    ".user@example.com",
    "us..er@example.com",
    "user@exa..mple.com",
    "user@.example.com",
    "user@-example.com",
    "user@example-.com",
    "user@example",
    "user@example.123",
    "user@example.c0m",
    "user@example.c",
    "user@localhost",
    "user@mail.local",
    "user@host.test",
    "user@host.invalid",
    "user@x.onion",
    "user@1.in-addr.arpa",
    "user@example.com.test.nl",
    "Postmaster@example.nl",
    "ABUSE@example.nl",
    "Info@example.nl",
    "information@example.nl",
    "user@[192.0.2.1]",
    "Jan <jan@example.nl>",
    "jan@example.nl, piet@example.nl",
    "jan@example.nl;piet@example.nl",
    "jan@example.nl piet@example.nl",
    "jan@@example.nl",
    "jan",
    "@example.nl",
    "jan@",
    "",
    "   ",
    "  jan@example.nl  ",
    "jan@exam_ple.nl",
    "jan@exam ple.nl",
    "ja n@example.nl",
    "jan\u200b@example.nl",
    "jan@example\u3002nl",
    "jan@ＥＸＡＭＰＬＥ.nl",
    "jan\t@example.nl",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    "a@" + "b" * 63 + ".com",
    "a@" + "b" * 64 + ".com",
    "a@" + ".".join(["b" * 63] * 3) + "." + "c" * 61,
    "a@" + ".".join(["b" * 63] * 3) + "." + "c" * 62,
    "a" * 64 + "@" + ".".join(["b" * 63] * 3) + ".com",
    "a" * 60 + "@" + ".".join(["b" * 61] * 3) + ".com",
]

_ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"
_TRICKY = ' ."(),:;<>@[\\]\t\u00e9\u00fc\u0301\u200b\u3002\uff0e\u00a0ßİıǅ用'
_TLDS = [
    "nl",
    "com",
    "org",
    "de",
    "NL",
    "Com",
    "co.uk",
    "museum",
    "xn--p1ai",
    "test",
    "local",
    "a",
    "1",
    "c0",
]
_LABELS = [
    "example",
    "Uitgeverij",
    "mail",
    "a",
    "x-y",
    "bücher",
    "xn--bcher-kva",
    "ab--cd",
    "-x",
    "x-",
    "1",
    "ＥＸ",
]


def _local(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.5:
        parts = [
            "".join(rng.choice(_ATEXT) for _ in range(rng.randint(1, 12))) for _ in range(rng.randint(1, 3))
        ]
        return ".".join(parts)
    if kind < 0.6:
        return "a" * rng.choice([1, 63, 64, 65, 200])
    if kind < 0.7:
        return rng.choice(["postmaster", "Abuse", "INFO", "www", "news", "Sales"])
    if kind < 0.8:
        return '"' + "".join(rng.choice(_ATEXT + " .@") for _ in range(rng.randint(0, 8))) + '"'
    return "".join(rng.choice(_ATEXT + _TRICKY) for _ in range(rng.randint(0, 10)))


def _domain(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.6:
        labels = [rng.choice(_LABELS) for _ in range(rng.randint(1, 3))]
        domain = ".".join([*labels, rng.choice(_TLDS)])
    elif kind < 0.7:
        domain = ".".join("b" * rng.choice([1, 62, 63, 64]) for _ in range(rng.randint(1, 5))) + ".com"
    else:
        alphabet = "abcXYZ019-." + _TRICKY
        domain = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) + rng.choice(
            ["", ".nl", "."]
        )
    if rng.random() < 0.1:
        domain = domain.upper()
    if rng.random() < 0.05:
        domain += "."
    return domain


def corpus(count: int, seed: int = 20261207) -> list[str]:
    rng = random.Random(seed)
    cells = []
    for _ in range(count):
        cell = _local(rng) + "@" + _domain(rng)
        if rng.random() < 0.05:
            cell = rng.choice([" ", "\t", ""]) + cell + rng.choice([" ", ""])
        cells.append(cell)
    return cells


@pytest.mark.parametrize("cell", HANDPICKED)
def test_a_handpicked_address_gets_the_answer_email_validator_gives(cell: str) -> None:
    assert outcome(normalise_address, cell) == outcome(reference, cell)


def test_a_generated_corpus_gets_the_answers_email_validator_gives() -> None:
    cells = corpus(20_000)
    differ = [
        (cell, outcome(normalise_address, cell), outcome(reference, cell))
        for cell in cells
        if outcome(normalise_address, cell) != outcome(reference, cell)
    ]
    assert differ == []
    fast = [cell for cell in cells if _ordinary(cell.strip()) is not None]
    refused = [cell for cell in cells if outcome(reference, cell)[0] == "refused"]
    # The corpus exercises both sides: many take the fast path, many are refused.
    assert len(fast) > 1_000
    assert len(refused) > 3_000


def test_the_fast_path_only_answers_what_email_validator_accepts_the_same_way() -> None:
    for cell in [*HANDPICKED, *corpus(5_000, seed=7)]:
        fast = _ordinary(cell.strip())
        if fast is not None:
            assert outcome(reference, cell) == ("ok", fast), cell


def test_ordinary_addresses_take_the_fast_path() -> None:
    for cell in ["jan@example.nl", "Jan.de.Vries+nieuwsbrief@Uitgeverij.NL", "a_b-c@mail.example.co.uk"]:
        assert _ordinary(cell) == reference(cell)

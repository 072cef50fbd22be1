"""The transports (transport.py): a list in memory, the dry run's outbox, and SMTP against the fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.project.settings import SmtpSettings
from newsletter.sending.message import Outgoing, Recipient
from newsletter.sending.transport import (
    ConnectionProblem,
    Memory,
    Outbox,
    Smtp,
    Transport,
    classify,
    transact,
)
from newsletter.store import Result
from tests.smtp_fake import FakeSMTP


def outgoing(address: str = "jan@example.org", data: bytes = b"Subject: hi\r\n\r\nhallo\r\n") -> Outgoing:
    return Outgoing(Recipient(address, "Jan", 1), "nieuwsbrief@example.nl", address, "<m@x>", data, False)


@pytest.fixture
def fake() -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        yield server


def settings(port: int, **options: object) -> SmtpSettings:
    return SmtpSettings.model_validate(
        {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 5, **options}
    )


def each_transport_is_a_transport(memory: Memory, outbox: Outbox, smtp: Smtp) -> list[Transport]:
    """Checked by mypy, not run: the three implementations fit the protocol."""
    return [memory, outbox, smtp]


# -- memory ------------------------------------------------------------------------------------------


def test_memory_keeps_every_message_and_accepts_it() -> None:
    with Memory() as memory:
        memory.ready()
        result = memory.deliver(outgoing())
    assert result.state == "sent"
    assert [m.envelope_to for m in memory.messages] == ["jan@example.org"]


def test_memory_answers_as_told() -> None:
    memory = Memory(lambda message: Result("deferred", 451, f"later, {message.envelope_to}"))
    assert memory.deliver(outgoing()) == Result("deferred", 451, "later, jan@example.org")


# -- the outbox --------------------------------------------------------------------------------------


def test_the_outbox_writes_numbered_files_and_replaces_the_old_outbox_whole(tmp_path: Path) -> None:
    folder = tmp_path / "build" / "c" / "outbox"
    folder.mkdir(parents=True)
    (folder / "000001-old@example.org.eml").write_bytes(b"old")
    with Outbox(folder) as box:
        for address in ("jan@example.org", "piet de vries@example.org"):
            box.ready()
            assert box.deliver(outgoing(address, b"data " + address.encode())).state == "sent"
        assert (folder / "000001-old@example.org.eml").exists()  # the old one is whole until the end
    assert sorted(path.name for path in folder.iterdir()) == [
        "000001-jan@example.org.eml",
        "000002-piet_de_vries@example.org.eml",
    ]
    assert (folder / "000001-jan@example.org.eml").read_bytes() == b"data jan@example.org"
    assert sorted(path.name for path in folder.parent.iterdir()) == ["outbox"]  # no staging left


def test_an_outbox_that_fails_halfway_leaves_the_old_one_as_it_was(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    folder.mkdir()
    (folder / "old.eml").write_bytes(b"old")
    with pytest.raises(RuntimeError, match="compose failed"), Outbox(folder) as box:
        box.deliver(outgoing())
        raise RuntimeError("compose failed")
    assert [path.name for path in tmp_path.iterdir()] == ["outbox"]
    assert [path.name for path in folder.iterdir()] == ["old.eml"]


def test_an_outbox_with_nothing_delivered_is_an_empty_outbox(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    folder.mkdir()
    (folder / "old.eml").write_bytes(b"old")
    with Outbox(folder):
        pass
    assert list(folder.iterdir()) == []


def test_an_outbox_delivers_only_inside_its_block(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="inside its `with` block"):
        Outbox(tmp_path / "outbox").deliver(outgoing())


# -- SMTP --------------------------------------------------------------------------------------------


def test_smtp_connects_on_ready_and_resets_between_messages(fake: FakeSMTP) -> None:
    with Smtp(settings(fake.port), None) as smtp:
        for address in ("a@example.org", "b@example.org", "c@example.org"):
            smtp.ready()
            assert smtp.deliver(outgoing(address)).state == "sent"
    assert [m.rcpt_tos for m in fake.messages] == [["a@example.org"], ["b@example.org"], ["c@example.org"]]
    assert fake.sessions == 1
    assert fake.verbs().count("RSET") == 2
    assert fake.verbs()[-1] == "QUIT"


def test_smtp_renews_the_connection_after_messages_per_connection(fake: FakeSMTP) -> None:
    with Smtp(settings(fake.port, messages_per_connection=2), None) as smtp:
        for _ in range(5):
            smtp.ready()
            smtp.deliver(outgoing())
    assert fake.sessions == 3


def test_smtp_reconnects_after_a_lost_connection(fake: FakeSMTP) -> None:
    fake.drop_before_data(times=1)
    with Smtp(settings(fake.port), None) as smtp:
        smtp.ready()
        lost = smtp.deliver(outgoing())
        assert (lost.state, lost.connection_lost) == ("pending", True)
        smtp.ready()
        assert smtp.deliver(outgoing()).state == "sent"
    assert fake.sessions == 2


def test_smtp_that_cannot_connect_is_a_connection_problem(fake: FakeSMTP) -> None:
    fake.fail_connect(421)
    with Smtp(settings(fake.port), None) as smtp, pytest.raises(ConnectionProblem, match="refused"):
        smtp.ready()


def test_smtp_delivers_only_when_ready(fake: FakeSMTP) -> None:
    with Smtp(settings(fake.port), None) as smtp, pytest.raises(RuntimeError, match="before ready"):
        smtp.deliver(outgoing())


def test_lines_starting_with_a_dot_arrive_intact(fake: FakeSMTP) -> None:
    data = b"Subject: dots\r\n\r\n.\r\n..two\r\n.end"
    with Smtp(settings(fake.port), None) as smtp:
        smtp.ready()
        assert smtp.deliver(outgoing(data=data)).state == "sent"
    assert fake.messages[0].data.rstrip(b"\r\n") == data


@pytest.mark.parametrize(
    ("code", "reply", "stage", "expected"),
    [
        (421, b"closing", "RCPT", ("deferred", True, False)),
        (451, b"later", "RCPT", ("deferred", False, False)),
        (552, b"5.2.2 Mailbox full", "DATA", ("deferred", False, False)),
        (550, b"5.1.1 User unknown", "RCPT", ("failed", False, True)),
        (550, b"5.1.1 User unknown", "DATA", ("failed", False, False)),  # not about the mailbox at DATA
        (554, b"5.7.1 policy", "RCPT", ("failed", False, False)),
        (-1, b"", "RCPT", ("pending", True, False)),
    ],
)
def test_replies_are_read_as_rfc_5321_says(
    code: int, reply: bytes, stage: str, expected: tuple[str, bool, bool]
) -> None:
    result = classify(code, reply, stage)
    assert (result.state, result.connection_lost, result.bounce) == expected


def test_an_smtputf8_address_fails_on_a_server_without_smtputf8(fake: FakeSMTP) -> None:
    with Smtp(settings(fake.port), None) as smtp:
        smtp.ready()
        assert smtp.client is not None
        smtp.client.esmtp_features.pop("smtputf8", None)
        message = Outgoing(
            Recipient("jörg@example.org"), "n@example.nl", "jörg@example.org", "<m>", b"x", True
        )
        result = transact(smtp.client, message)
    assert result.state == "failed" and "SMTPUTF8" in result.text

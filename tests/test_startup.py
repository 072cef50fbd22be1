"""What keeps the command line quick to start (bench/bench_startup.py measures it): the top group
imports a command only when it runs. The table it lists the commands from is pinned here to the
commands themselves, so that the two cannot drift apart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from newsletter.cli import COMMANDS, LazyGroup, main

CAMPAIGN = "2026-12-schrijven"
READERS = [f"lezer{n}@example.org" for n in range(5)]


def real_commands() -> dict[str, click.Command]:
    """Every command, imported the slow way."""
    import importlib

    return {
        name: getattr(importlib.import_module(f"newsletter.cli.{module}"), attribute)
        for name, (module, attribute, _) in COMMANDS.items()
    }


def test_the_table_of_commands_says_what_each_command_says() -> None:
    for name, command in real_commands().items():
        assert command.name == name
        assert COMMANDS[name][2] == command.get_short_help_str(limit=10**6), name


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_the_help_lists_the_commands_as_click_would_with_them_all_imported(width: int) -> None:
    eager = click.Group("newsletter", params=main.params, help=main.help, callback=main.callback)
    for name, command in real_commands().items():
        eager.add_command(command, name)
    lazy = LazyGroup("newsletter", params=main.params, help=main.help, callback=main.callback)
    shown = [
        CliRunner().invoke(group, ["--help"], terminal_width=width, prog_name="newsletter").output
        for group in (eager, lazy)
    ]
    assert shown[0] == shown[1]
    assert "status       How far" in shown[1]


def test_a_misspelled_command_is_still_guessed() -> None:
    result = CliRunner().invoke(main, ["sttaus"])
    assert result.exit_code == 2
    assert "No such command 'sttaus'. Did you mean 'status'?" in result.output


def imported_by(project: Path, *args: str) -> list[str]:
    """The newsletter.cli modules, pydantic and the settings module that a command imports."""
    script = (
        "import sys\nfrom newsletter.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "wanted = ('newsletter.cli.', 'pydantic', 'newsletter.project.settings', 'newsletter.api')\n"
        "print(sorted(m for m in sys.modules if m.startswith(wanted) and '._' not in m"
        " and m.count('.') < 3), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--project", str(project), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(done.stderr.strip().splitlines()[-1].replace("'", '"')))


def test_the_help_imports_no_command_and_a_command_only_its_own(project: Path) -> None:
    assert imported_by(project, "--help") == ["newsletter.cli.common"]
    assert "newsletter.cli.audience" not in imported_by(project, "status", CAMPAIGN)

"""What every command shares: the project context, error printing, exit codes and tables.

User errors (`NewsletterError`) become one paragraph each on stderr and exit code 2 (see
`NewsletterGroup`); anything else is a bug and shows its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from newsletter.errors import NewsletterError, flatten

if TYPE_CHECKING:
    from newsletter.api import Newsletter

EXIT_USER_ERROR = 2
EXIT_WARNINGS = 1


class Context:
    """What the group passes to its commands: where the project is, opened (through the Python API,
    settings validated and secrets taken from the environment) when a command first asks."""

    def __init__(self, project_dir: Path | None) -> None:
        self.project_dir = project_dir
        self.root: Path | None = None

    def open(self) -> Newsletter:
        from newsletter.api import Newsletter
        from newsletter.project.settings import find_project_root, open_project

        self.root = find_project_root(self.start())  # known before the settings, for error messages
        return Newsletter(open_project(self.root))

    def start(self) -> Path:
        """Where the search for the project starts: --project, or the current folder."""
        return self.project_dir or current_folder()


def current_folder() -> Path:
    try:
        return Path.cwd()
    except FileNotFoundError:  # deleted under the shell's feet, by `git checkout` for example
        raise NewsletterError(
            "the current folder no longer exists", hint="cd into the project again, or pass --project"
        ) from None


class NewsletterGroup(click.Group):
    """The one place where a user error becomes a message and exit code 2.

    Every command and subgroup runs inside the top group's `invoke`, so catching `NewsletterError`
    here covers them all; anything else is a bug and keeps its traceback. (MkDocs gets the same
    effect by making its errors click exceptions; ours stay free of click so the library can raise
    them without depending on the CLI.)
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewsletterError as error:
            found = ctx.find_object(Context)
            print_errors([error], found.root if found else None)
            ctx.exit(EXIT_USER_ERROR)


def print_errors(errors: Iterable[NewsletterError], root: Path | None) -> None:
    for error in flatten(errors):
        click.secho("error: ", fg="red", bold=True, err=True, nl=False)
        click.echo(error.format(root), err=True)


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )

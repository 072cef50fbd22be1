"""What `cog` writes into README.md: the command reference and the table of check rules.

Run `make docs` after changing a command's help or a rule; `make test` (tests/test_readme.py) fails
while the README and the code disagree. Kept beside the README, not in the package: it is for the
docs only.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from newsletter.cli import main
from newsletter.review.checks import RULES

WIDTH = 100  # fixed, so the generated text does not depend on the terminal cog runs in


def _commands(
    command: click.Command, name: str, parent: click.Context | None
) -> Iterator[tuple[str, click.Context]]:
    settings = {**command.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    ctx = click.Context(command, info_name=name, parent=parent, **settings)
    yield ctx.command_path, ctx
    if isinstance(command, click.Group):
        for sub in command.list_commands(ctx):
            found = command.get_command(ctx, sub)
            if found is not None and not found.hidden:
                yield from _commands(found, sub, ctx)


def command_reference() -> str:
    """Every command's `--help`, in the order `newsletter --help` lists them."""
    parts = []
    for path, ctx in _commands(main, "newsletter", None):
        parts.append(f"#### `{path}`\n\n```text\n{ctx.command.get_help(ctx)}\n```\n")
    return "\n".join(parts)


def rules_table() -> str:
    """The check rules as a Markdown table, in the order `newsletter check` registers them."""
    rows = [f"| `{rule_id}` | {rule.severity} | {rule.checks} |" for rule_id, rule in RULES.items()]
    return "\n".join(["| rule | severity | checks |", "| --- | --- | --- |", *rows]) + "\n"

"""MkDocs hooks (`hooks:` in mkdocs.yml): the parts of the site generated from the code.

- `::: mkdocs-click` blocks (the command reference, docs/reference.md) are expanded by the mkdocs-click
  extension; this hook makes what it writes read as the `--help` text it is: click help is plain text, so
  `build/<id>/` or `Boek <title> met ...` must not reach the page as HTML tags (a `<title>` would swallow
  the rest of the page), the indented lines of a `\\b` paragraph (the examples) stay lines, and a
  subcommand in a list is summed up by its first sentence (as `--help` does), not by its first line.
- A `::: check-rules` line (docs/checks.md) becomes the table of the rules of `newsletter check`, from
  `newsletter.review.checks.RULES`, in the order they are registered.

Both are made on every `mkdocs build`, so the site cannot disagree with the code; tests/test_docs.py builds it
and checks that every command and every rule is on its page.
"""

from __future__ import annotations

import importlib
import re

import click
from markdown import Extension, Markdown
from markdown.extensions.toc import slugify
from markdown.preprocessors import Preprocessor
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError

CLICK_BLOCK = "::: mkdocs-click"
CLICK_OPTION = re.compile(r"^\s+:([^:]+):\s*(.*?)\s*$")
SUBCOMMAND_ITEM = re.compile(r"^(- \*\[[^\]]+\]\(#([^)]+)\)\*: ).*$")
RULES_BLOCK = "::: check-rules"
CODE_SPAN = re.compile(r"(`+).*?\1")
FENCE = "```"


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Add the extension below after the configured ones (it wraps mkdocs-click's preprocessor)."""
    config["markdown_extensions"].append(GeneratedParts())
    return config


class GeneratedParts(Extension):
    def extendMarkdown(self, md: Markdown) -> None:
        if "mk_click" not in md.preprocessors:
            raise PluginError("docs/hooks.py needs the mkdocs-click extension in mkdocs.yml")
        click_docs = md.preprocessors["mk_click"]
        md.preprocessors.register(ClickHelpAsText(md, click_docs), "mk_click", 141)
        md.preprocessors.register(RulesTable(md), "check_rules", 141)


class ClickHelpAsText(Preprocessor):
    """mkdocs-click's preprocessor, with the help text it writes made literal."""

    def __init__(self, md: Markdown, click_docs: Preprocessor) -> None:
        super().__init__(md)
        self.click_docs = click_docs

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        block: list[str] = []
        for line in [*lines, ""]:
            if block and CLICK_OPTION.match(line):
                block.append(line)
                continue
            if block:
                summaries = subcommand_summaries(block)
                out.extend(literal_help(self.click_docs.run(block), summaries))
                block = []
            if line.startswith(CLICK_BLOCK):
                block = [line]
            else:
                out.append(line)
        return out[:-1]


def subcommand_summaries(block: list[str]) -> dict[str, str]:
    """The first sentence of each command's help, by the anchor mkdocs-click gives its heading."""
    options = {m.group(1): m.group(2) for m in map(CLICK_OPTION.match, block[1:]) if m}
    root = getattr(importlib.import_module(options["module"]), options["command"])
    summaries: dict[str, str] = {}

    def walk(command: click.Command, path: str, parent: click.Context | None) -> None:
        ctx = click.Context(command, info_name=path.rsplit(" ", 1)[-1], parent=parent)
        summaries[slugify(path, "-")] = command.get_short_help_str(limit=1000)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None:
                    walk(sub, f"{path} {name}", ctx)

    walk(root, options.get("prog_name") or root.name or options["command"], None)
    return summaries


def literal_help(lines: list[str], summaries: dict[str, str]) -> list[str]:
    """Escape `<`, `>` and `&` outside code; fence the indented lines of `\\b` paragraphs; sum up each
    subcommand in a list by its first sentence."""
    out: list[str] = []
    in_fence = in_example = False
    for line in lines:
        item = SUBCOMMAND_ITEM.match(line)
        if item and item.group(2) in summaries:
            line = item.group(1) + summaries[item.group(2)]
        if line.startswith(FENCE):
            in_fence = not in_fence
        elif not in_fence and line[:1].isspace() and line.strip():
            if not in_example:
                out.extend(["", "```text"])
                in_example = True
            out.append(line)
            continue
        if in_example:
            out.extend(["```", ""])
            in_example = False
        out.append(line if in_fence or line.startswith(FENCE) else escape_outside_code(line))
    if in_example:
        out.extend(["```", ""])
    return out


def escape_outside_code(line: str) -> str:
    parts: list[str] = []
    start = 0
    for span in CODE_SPAN.finditer(line):
        parts.extend([_escape(line[start : span.start()]), span.group()])
        start = span.end()
    parts.append(_escape(line[start:]))
    return "".join(parts)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class RulesTable(Preprocessor):
    """`::: check-rules` on a line of its own: the check rules as a Markdown table."""

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        for line in lines:
            out.extend(rules_table() if line.strip() == RULES_BLOCK else [line])
        return out


def rules_table() -> list[str]:
    from newsletter.review.checks import RULES

    rows = [f"| `{rule_id}` | {rule.severity} | {rule.checks} |" for rule_id, rule in RULES.items()]
    return ["| rule | severity | checks |", "| --- | --- | --- |", *rows]

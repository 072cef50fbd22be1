"""The documentation (README.md, docs/, mkdocs.yml) agrees with the code and stays in the repository.

The site is built as `make docs` builds it (`mkdocs build --strict`: a broken link or anchor, or a page
left out of the nav, fails), and its generated parts are checked for completeness: every command on the
reference page, every check rule in the table. Examples drift when the code changes under them, so every
`newsletter ...` command the docs show must name commands and options that exist, and every import in a
Python example must import. Every command must also be explained somewhere in the guide, beyond its
generated reference: a new command without docs fails here.
"""

from __future__ import annotations

import ast
import importlib
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from newsletter.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
README_MAX_LINES = 200

FENCE = re.compile(r"^(`{3,}|~{3,})\s*([\w+-]*)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
HTML_TAG = re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>")
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*|\.\.\.|…")


# ------------------------------------------------------------------------------------------------
# Reading Markdown


def markdown_files() -> list[Path]:
    """Every Markdown file of the repository: tracked, or new and not ignored."""
    result = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(ROOT / name for name in set(result.stdout.split("\0")) if name and (ROOT / name).is_file())


def doc_pages() -> list[Path]:
    """The README and the pages of the site: the files whose examples and prose are the documentation."""
    return [README, *sorted(DOCS.glob("*.md"))]


def split_fences(text: str) -> tuple[str, list[tuple[str, list[str]]]]:
    """The text outside fenced code blocks, and each block as (info string's language, lines)."""
    prose: list[str] = []
    blocks: list[tuple[str, list[str]]] = []
    fence: str | None = None
    for line in text.splitlines():
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
            blocks.append((opening.group(2).lower(), []))
        elif fence is not None and line.strip().startswith(fence[0] * len(fence)) and not line.strip("`~ "):
            fence = None
        elif fence is not None:
            blocks[-1][1].append(line)
        else:
            prose.append(line)
    return "\n".join(prose), blocks


def without_code_spans(prose: str) -> str:
    return CODE_SPAN.sub(" ", prose)


def code_spans(prose: str) -> list[str]:
    return [" ".join(match.group(2).split()) for match in CODE_SPAN.finditer(prose)]


# ------------------------------------------------------------------------------------------------
# The commands


def commands(
    command: click.Command = main, path: str = "newsletter", parent: click.Context | None = None
) -> Iterator[tuple[str, click.Command, click.Context]]:
    """Every command with its full path (`newsletter audience import`) and a context to ask it with."""
    ctx = click.Context(command, info_name=path.rsplit(" ", 1)[-1], parent=parent, **command.context_settings)
    yield path, command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from commands(sub, f"{path} {name}", ctx)


def command_problems(line: str) -> list[str]:
    """What is wrong with a `newsletter ...` command line of an example: unknown commands and options.

    Square brackets (optional parts), `...` and upper-case placeholders (CAMPAIGN_ID) are notation.
    """
    line = re.sub(r"(^|\s)#.*$", "", line)  # a shell comment
    try:
        tokens = shlex.split(line)
    except ValueError:
        tokens = line.split()
    if not tokens or tokens[0] != "newsletter":
        return []
    known = {path: (command, ctx) for path, command, ctx in commands()}
    path = "newsletter"
    command, ctx = known[path]
    problems = []
    tokens = tokens[1:]
    while tokens:
        token = tokens.pop(0).strip("[]")
        if not token or PLACEHOLDER.fullmatch(token):
            continue
        if token.startswith("-"):
            name = token.split("=", 1)[0]
            option = next((p for p in command.get_params(ctx) if name in (*p.opts, *p.secondary_opts)), None)
            if option is None:
                problems.append(f"{path}: no option {name}")
            elif "=" not in token and isinstance(option, click.Option) and not option.is_flag and tokens:
                tokens.pop(0)  # its value
        elif isinstance(command, click.Group):
            if f"{path} {token}" not in known:
                problems.append(f"{path}: no command {token!r}")
                break
            path = f"{path} {token}"
            command, ctx = known[path]
    return problems


def example_commands(page: Path) -> Iterator[str]:
    """The `newsletter ...` commands a page shows: in shell and console blocks, and in code spans."""
    prose, blocks = split_fences(page.read_text(encoding="utf-8"))
    for language, lines in blocks:
        for line in lines:
            if language in ("console", "shell-session") and line.startswith("$ newsletter "):
                yield line[2:]
            elif language in ("sh", "bash", "shell", "console") and line.startswith("newsletter "):
                yield line
    for span in code_spans(prose):
        if span.startswith("newsletter "):
            yield span


# ------------------------------------------------------------------------------------------------
# The site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            "mkdocs.yml",
            "--site-dir",
            out,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"`make docs` fails:\n{result.stdout}{result.stderr}"
    return out


def test_the_reference_has_every_command(site: Path) -> None:
    page = (site / "reference.html").read_text(encoding="utf-8")
    for path, command, ctx in commands():
        slug = path.replace(" ", "-")
        assert f'id="{slug}">{path}<' in page, f"{path} is not in the command reference"
        for param in command.get_params(ctx):
            for opt in (*param.opts, *param.secondary_opts) if isinstance(param, click.Option) else ():
                assert opt in page, f"{path} {opt} is not in the command reference"


def test_the_reference_shows_help_text_as_text(site: Path) -> None:
    """Click help is plain text: `build/<id>/` must reach the page as written, not as an HTML tag."""
    page = (site / "reference.html").read_text(encoding="utf-8")
    assert "build/&lt;id&gt;/email.html" in page
    assert "Boek &lt;title&gt; met" in page
    assert "<title>" not in page.split("</head>", 1)[1]


def test_the_check_page_has_every_rule(site: Path) -> None:
    from newsletter.review.checks import RULES

    page = (site / "checks.html").read_text(encoding="utf-8")
    for rule_id in RULES:
        assert f"<td><code>{rule_id}</code></td>" in page, (
            f"rule {rule_id} is not in the table of docs/checks.md"
        )


def test_every_command_is_explained_in_the_guide() -> None:
    guide = "\n".join(
        " ".join(page.read_text(encoding="utf-8").split())
        for page in DOCS.glob("*.md")
        if page.name != "reference.md"
    )
    missing = [path for path, _, _ in commands() if path != "newsletter" and path not in guide]
    assert not missing, f"commands that no page of the guide (docs/*.md) explains: {missing}"


# ------------------------------------------------------------------------------------------------
# Examples


def test_example_commands_exist() -> None:
    problems = [
        f"{page.relative_to(ROOT)}: `{line}`: {problem}"
        for page in doc_pages()
        for line in example_commands(page)
        for problem in command_problems(line)
    ]
    assert not problems, "\n".join(problems)


def test_the_example_check_notices_drift() -> None:
    assert command_problems("newsletter send 2026-12-schrijven --dry-run --limit 5 --yes") == []
    assert command_problems("newsletter --project /srv/x audience list [--status all] [--tag T ...]") == []
    assert command_problems("newsletter send X --dry-rnu") == ["newsletter send: no option --dry-rnu"]
    assert command_problems("newsletter audience purge") == ["newsletter audience: no command 'purge'"]


def test_python_examples_import() -> None:
    problems = []
    for page in doc_pages():
        for language, lines in split_fences(page.read_text(encoding="utf-8"))[1]:
            if language not in ("python", "py", "pycon"):
                continue
            source = "\n".join(line.removeprefix(">>> ").removeprefix("... ") for line in lines)
            where = page.relative_to(ROOT)
            try:
                tree = ast.parse(source)
            except SyntaxError as error:
                problems.append(f"{where}: {error}")
                continue
            for node in ast.walk(tree):
                imports: list[tuple[str, str | None]]
                if isinstance(node, ast.Import):
                    imports = [(alias.name, None) for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    imports = [(node.module, alias.name) for alias in node.names]
                else:
                    continue
                for module_name, name in imports:
                    try:
                        module = importlib.import_module(module_name)
                    except ImportError as error:
                        problems.append(f"{where}: import {module_name}: {error}")
                        continue
                    if name not in (None, "*") and not hasattr(module, name):
                        with_module = f"{module_name}.{name}"
                        try:
                            importlib.import_module(with_module)
                        except ImportError:
                            problems.append(f"{where}: {module_name} has no {name}")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------------------
# Markdown everywhere in the repository


def test_no_markdown_link_leaves_the_repository() -> None:
    problems = []
    for file in markdown_files():
        prose = without_code_spans(split_fences(file.read_text(encoding="utf-8"))[0])
        for target in [*LINK.findall(prose), *REFERENCE_LINK.findall(prose)]:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
                continue  # a URL, mailto:, or an anchor on the same page
            path = target.split("#", 1)[0].split("?", 1)[0]
            resolved = (ROOT / path.lstrip("/")) if path.startswith("/") else (file.parent / path)
            resolved = resolved.resolve()
            where = file.relative_to(ROOT)
            if not resolved.is_relative_to(ROOT):
                problems.append(f"{where}: {target} is outside the repository")
            elif not resolved.exists():
                problems.append(f"{where}: {target} does not exist")
    assert not problems, "\n".join(problems)


def test_no_html_tag_outside_code() -> None:
    """`<id>` or `<title>` outside backticks is an HTML tag to MkDocs (a `<title>` hides the rest of the
    page) and vanishes on GitHub: write it as code."""
    from newsletter.review.checks import RULES

    texts = {str(page.relative_to(ROOT)): page.read_text(encoding="utf-8") for page in doc_pages()}
    texts |= {f"rule {rule_id}": f"{rule.severity} {rule.checks}" for rule_id, rule in RULES.items()}
    problems = [
        f"{where}: {tag}"
        for where, text in texts.items()
        for tag in HTML_TAG.findall(without_code_spans(split_fences(text)[0]))
    ]
    assert not problems, "\n".join(problems)


def test_the_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/"

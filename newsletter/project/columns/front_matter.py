"""The front matter of a Markdown column: `key: value` lines between two `---` lines.

It is read as YAML nodes rather than objects, so that every key keeps its line for the error message
and every value stays the text the writer typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from newsletter.errors import NewsletterError, did_you_mean
from newsletter.project.columns.column import squash
from newsletter.project.validation import https_url

FRONT_MATTER_KEYS = frozenset({"title", "label", "author", "url", "image", "image_alt", "date"})
# Accepted so that blog-style front matter does not fail, but a teaser has no use for it.
IGNORED_FRONT_MATTER_KEYS = frozenset({"date"})


@dataclass(frozen=True)
class FrontMatter:
    values: dict[str, str]
    body: str
    # The file's line (0-based) where `body` starts, to place what the body's reader finds in the file.
    body_line: int = 0


def split_front_matter(text: str, path: Path) -> FrontMatter:
    """The values of the front matter and the Markdown after it; no front matter is no values."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return FrontMatter(values={}, body=text)
    end = next((index for index in range(1, len(lines)) if lines[index].rstrip() == "---"), None)
    if end is None:
        raise NewsletterError(
            "front matter is not closed",
            path=path,
            line=1,
            hint="end the front matter with a line '---'",
        )
    values = _front_matter_values("\n".join(lines[1:end]), path)
    return FrontMatter(values=values, body="\n".join(lines[end + 1 :]), body_line=end + 1)


def _front_matter_values(source: str, path: Path) -> dict[str, str]:
    """Read front matter as nodes rather than objects: keys keep their line, values stay as written.

    Staying with the written text keeps `title: 1984` a title instead of a number, and `yes:` a key.
    """
    # Front matter starts on line 2 of the file; YAML marks are 0-based.
    offset = 2
    node = _compose(source, path, offset)
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise NewsletterError(
            "front matter must be 'key: value' lines",
            path=path,
            line=node.start_mark.line + offset,
            hint="for example 'title: De kunst van het weglaten'",
        )
    values: dict[str, str] = {}
    seen: set[str] = set()
    for key_node, value_node in node.value:
        key = _front_matter_key(key_node, seen, path, offset)
        seen.add(key)
        value = _front_matter_value(key, value_node, path, offset)
        if value is not None and key not in IGNORED_FRONT_MATTER_KEYS:
            values[key] = value
    return values


def _compose(source: str, path: Path, offset: int) -> yaml.Node | None:
    try:
        return yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise NewsletterError(
            f"front matter is not valid YAML: {exc.problem or exc.context}",
            path=path,
            line=mark.line + offset if mark is not None else 1,
            hint="write one 'key: value' per line and quote values that contain ': '",
        ) from None
    except yaml.YAMLError as exc:
        raise NewsletterError(f"front matter is not valid YAML: {exc}", path=path, line=1) from None


def _front_matter_key(node: yaml.Node, seen: set[str], path: Path, offset: int) -> str:
    line = node.start_mark.line + offset
    if not isinstance(node, yaml.ScalarNode):
        raise NewsletterError("front matter keys must be plain words", path=path, line=line)
    key = str(node.value)
    if key not in FRONT_MATTER_KEYS:
        raise NewsletterError(
            f"unknown front matter key '{key}'",
            path=path,
            line=line,
            field=key,
            hint=did_you_mean(key, FRONT_MATTER_KEYS)
            or f"known keys: {', '.join(sorted(FRONT_MATTER_KEYS))}",
        )
    if key in seen:
        raise NewsletterError(f"front matter key '{key}' appears twice", path=path, line=line, field=key)
    return key


def _front_matter_value(key: str, node: yaml.Node, path: Path, offset: int) -> str | None:
    if key in IGNORED_FRONT_MATTER_KEYS:
        return None
    if not isinstance(node, yaml.ScalarNode):
        raise NewsletterError(
            "must be text",
            path=path,
            line=node.start_mark.line + offset,
            field=key,
            hint=f"write it on one line, e.g. '{key}: ...'",
        )
    if node.tag == "tag:yaml.org,2002:null":
        return None
    value = squash(str(node.value)) or None
    if value is not None and key in URL_KEYS:
        _check_url(value, key, path, node.start_mark.line + offset)
    return value


# Front-matter values that become links or images in the email: held to the campaign's rule.
URL_KEYS = frozenset({"url", "image"})


def _check_url(value: str, key: str, path: Path, line: int) -> None:
    try:
        https_url(value)
    except ValueError as exc:
        raise NewsletterError(
            f"{exc} (got {value!r})",
            path=path,
            line=line,
            field=key,
            hint=f"for example '{key}: https://...'",
        ) from None

"""Reading YAML with line numbers, and turning pydantic's validation errors into user errors.

Editors fix a campaign by going to a line, so every problem the models find is mapped back to the
line of the YAML key or value it concerns. PyYAML gives positions only on its node tree, so a
document is composed once, its positions recorded per path, then constructed into plain data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError

from newsletter import placeholders
from newsletter.errors import NewsletterError, NewsletterErrors, did_you_mean, password_of
from newsletter.files import read_user_text

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loading, but decimals stay exact: a price of 34.95 must not become 34.949999..."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal | float:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return float(loader.construct_yaml_float(node))
    return value if value.is_finite() else float(value)


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """2026-13-01 looks like a date to YAML and is none: kept as text, so that the field's own
    validator says what is wrong, at its line (not a failure of the whole file)."""
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


class LineMap:
    """1-based line numbers of every key and value in a YAML document, by path."""

    def __init__(self) -> None:
        self.values: dict[Loc, int] = {}
        self.keys: dict[Loc, int] = {}

    def line(self, loc: Loc, *, key: bool = False) -> int | None:
        """The line of the deepest known part of `loc` (a missing field is reported at its parent)."""
        for end in range(len(loc), -1, -1):
            prefix = loc[:end]
            if key and prefix in self.keys:
                return self.keys[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return None

    def record(self, node: yaml.Node, loc: Loc) -> None:
        self.values[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                name = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
                self.keys[(*loc, name)] = key_node.start_mark.line + 1
                self.record(value_node, (*loc, name))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.record(item, (*loc, index))


MAX_YAML_NODES = 100_000  # values a document may hold with its aliases expanded; a campaign has ~100
MAX_YAML_DEPTH = 100  # levels of nesting; a campaign has 4


def load_yaml(path: Path) -> tuple[Any, LineMap]:
    """Parse one YAML file; broken YAML is a user error at the line PyYAML stopped.

    The node tree is checked before anything is built from it: a key given twice would otherwise
    silently take the last value, and aliases can make a small file expand into billions of
    values ("billion laughs"), which the tree reveals before any of them exists.
    """
    text = read_user_text(path)
    lines = LineMap()
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, lines
            check_yaml_tree(node, path)
            lines.record(node, ())
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "could not be read"
        raise NewsletterError(
            f"broken YAML: {problem}",
            path=path,
            line=_line_in(text, mark.line + 1) if mark else None,
            hint="check the indentation and quote text that contains ': ' or starts with a special character",
        ) from None
    except yaml.YAMLError as exc:
        raise NewsletterError(f"broken YAML: {exc}", path=path) from None
    except RecursionError:
        raise NewsletterError(f"YAML nested more than {MAX_YAML_DEPTH} levels deep", path=path) from None
    except ValueError as exc:  # a number of more than 4,300 digits, which Python refuses to read
        raise NewsletterError(
            "broken YAML: a number of more than 4,300 digits", path=path, hint=str(exc).split(":")[0]
        ) from None
    return data, lines


def _line_in(text: str, line: int) -> int:
    """PyYAML reports a problem at the end of the file (an unclosed quote, say) on the line after
    the last one; editors can only go to a line that exists."""
    return max(1, min(line, len(text.splitlines()) or 1))


def check_yaml_tree(root: yaml.Node, path: Path) -> None:
    """Refuse a document whose aliases expand beyond MAX_YAML_NODES values, that refers to itself,
    nests deeper than MAX_YAML_DEPTH, or gives a key twice in one mapping.

    Each node's expanded size is counted once (aliases share their node), so the check takes time
    in proportion to the file, not to its expansion.
    """
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if id(node) in sizes:
            if sizes[id(node)] < 0:
                raise NewsletterError("YAML alias refers to itself", path=path, line=node.start_mark.line + 1)
            return sizes[id(node)]
        if depth > MAX_YAML_DEPTH:
            raise NewsletterError(
                f"YAML nested more than {MAX_YAML_DEPTH} levels deep",
                path=path,
                line=node.start_mark.line + 1,
            )
        sizes[id(node)] = -1
        total = 1
        if isinstance(node, yaml.MappingNode):
            _no_duplicate_keys(node, path)
            children = [part for pair in node.value for part in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_YAML_NODES:
                raise NewsletterError(
                    f"YAML aliases expand to more than {MAX_YAML_NODES:,} values",
                    path=path,
                    line=node.start_mark.line + 1,
                    hint="a file this tool reads holds a few hundred values at most: remove the '*' aliases",
                )
        sizes[id(node)] = total
        return total

    size(root, 0)


def _no_duplicate_keys(node: yaml.MappingNode, path: Path) -> None:
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        line = key_node.start_mark.line + 1
        if key_node.value in seen:
            raise NewsletterError(
                f"key '{key_node.value}' appears twice in one mapping (also on line {seen[key_node.value]})",
                path=path,
                line=line,
                field=str(key_node.value),
                hint="YAML keeps only one of them: remove or rename one",
            )
        seen[key_node.value] = line


def field_name(loc: Loc) -> str:
    """`("teasers", 0, "url")` reads as `teasers[0].url`, the way editors see their YAML."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name


def validate(
    model: type[M],
    data: Any,
    *,
    path: Path,
    line_of: Callable[[Loc, bool], int | None],
    prefix: Loc = (),
) -> M:
    """Validate `data`; every problem becomes one NewsletterError, all raised together."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [_to_user_error(model, error, path, line_of, prefix) for error in exc.errors()]
        raise NewsletterErrors(errors) from None


def _to_user_error(
    model: type[BaseModel],
    error: Mapping[str, Any],
    path: Path,
    line_of: Callable[[Loc, bool], int | None],
    prefix: Loc,
) -> NewsletterError:
    loc: Loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
    kind = error["type"]
    hint = None
    if kind == "extra_forbidden":
        message = "unknown key"
        hint = did_you_mean(str(loc[-1]), _known_keys(model, loc[:-1]))
    elif kind == "missing":
        message = "is required"
    else:
        message = _MESSAGES.get(kind) or _plain(error["msg"])
    got = error.get("input")
    secret = isinstance(got, str) and bool(password_of(got))  # a database URL's, say
    if (
        kind not in ("missing", "extra_forbidden")
        and isinstance(got, str | int | Decimal | float | bool)
        and not secret
    ):
        shown = f"{got!r}" if not isinstance(got, Decimal) else str(got)
        message += f" (got {shown})" if len(shown) <= 80 else ""
    return NewsletterError(
        message,
        path=path,
        line=line_of((*prefix, *loc), kind == "extra_forbidden"),
        field=field_name(loc) or None,
        hint=hint,
    )


def _is_union_tag(part: str | int) -> bool:
    """Pydantic adds the chosen type's name to the location of errors inside unions; editors never see it."""
    return isinstance(part, str) and (part in {"str", "int", "list", "dict"} or part.startswith("function-"))


def _known_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = _model_in(field.annotation)
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> Any:
    """The model class inside `list[Model]`, `Model | None` and the like."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _plain(message: str) -> str:
    for noise in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(noise)
    return message[:1].lower() + message[1:]


_MESSAGES = {
    "list_type": "must be a list (one item per line, starting with '- ')",
    "dict_type": "must be a mapping of 'key: value' lines",
    "model_type": "must be a mapping of 'key: value' lines",
    "model_attributes_type": "must be a mapping of 'key: value' lines",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_too_short": "must not be empty",
}


# Field types shared by settings and campaign models -------------------------------------------


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in a setting must not silently fall back to a default.

    Building a model's validator is most of the cost of importing the settings and campaign
    modules; deferred, it is paid at the first validation, and only by the commands that validate.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, defer_build=True)


def https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError("must be an absolute https:// URL")
    return value


# Every character str.splitlines breaks at: the email package refuses each of them in a header.
_LINE_BREAKS = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# Control characters no text of ours needs (tab, LF and CR aside); MRML fails on some of them with
# an error that names neither the file nor the field.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")


def printable(value: object) -> str:
    """`value` as one line of a log or a terminal shows it: each character `str.isprintable` refuses
    (CR, LF, ESC and the other controls, U+2028, U+202E and the other format characters) written as
    its escape (`\\n`, `\\x1b`, `\\u202e`). Text from outside (a webhook, a returned message, a
    request's path) goes through it before it is logged or printed, so that it can neither start a
    forged line nor move or hide what is around it. Printable text, escapes already made included, is
    left as it is: cleaning twice changes nothing."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text
    )


def _text(value: str) -> str:
    if found := CONTROL_CHARACTERS.search(value):
        raise ValueError(f"must not contain control characters (found U+{ord(found.group()):04X})")
    return value


def _single_line(value: str) -> str:
    if _LINE_BREAKS.search(value):
        raise ValueError("must be a single line (line breaks are not allowed here)")
    _text(value)
    if "=?" in value and "?=" in value:
        raise ValueError("must not contain MIME encoded-words ('=?...?=')")
    return value


def _no_format_characters(value: str) -> str:
    """Unicode format characters (category Cf) are invisible, and some reorder what is shown
    around them: U+202E (right-to-left override) makes a sender name or subject read as something
    else in the inbox, and U+200B or U+FEFF hide inside a word, which spam filters count against
    the sender. A header value (and the preheader, shown beside the subject) has no use for any of
    them, so all are refused there, U+00AD (soft hyphen) and U+200D (zero-width joiner, in emoji
    sequences) included. Running text and other single lines keep them: a column's emoji needs its
    joiner."""
    for char in value:
        if unicodedata.category(char) == "Cf":
            name = unicodedata.name(char, "a format character")
            raise ValueError(
                f"must not contain invisible formatting characters (found U+{ord(char):04X} {name})"
            )
    return value


def _hex_colour(value: str) -> str:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3}", value):
        raise ValueError("must be a hex colour like #8c1c13")
    return value.lower()


def _email_address(value: str) -> str:
    """The publisher's own addresses go into From, Reply-To and MAIL FROM of every message, where
    only ASCII works with every server (an internationalised domain is written in its xn-- form)."""
    if not re.fullmatch(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+", value):
        raise ValueError("must be an email address like nieuwsbrief@uitgeverij.nl")
    if not value.isascii():
        raise ValueError("must be written in ASCII (an internationalised domain in its xn-- form)")
    return value


def _merge_fields(value: str) -> str:
    """Text a reader sees may hold `{first_name}`; any other placeholder is a typo or pasted from
    another tool, and must not reach an inbox as it is."""
    found = placeholders.problems(value)
    if found:
        raise ValueError("; ".join(f"{message} ({hint})" for _, message, hint in found))
    return value


HttpsUrl = Annotated[str, AfterValidator(https_url)]
SingleLine = Annotated[str, StringConstraints(min_length=1), AfterValidator(_single_line)]
Text = Annotated[str, AfterValidator(_text)]  # several lines and paragraphs
# Text a reader sees, where merge fields are filled in per reader (placeholders.py)
MergeLine = Annotated[SingleLine, AfterValidator(_merge_fields)]
MergeText = Annotated[Text, AfterValidator(_merge_fields)]
# A line that goes into a message header (the From name, List-Id, Subject) or beside one in the inbox
# (the preheader): no invisible formatting characters either.
HeaderLine = Annotated[SingleLine, AfterValidator(_no_format_characters)]
MergeHeaderLine = Annotated[MergeLine, AfterValidator(_no_format_characters)]
HexColour = Annotated[str, AfterValidator(_hex_colour)]
EmailAddress = Annotated[str, AfterValidator(_email_address)]

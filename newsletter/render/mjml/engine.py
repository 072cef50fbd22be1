"""MJML to HTML with MRML (the Rust engine in `mjml-python`), guarded against its two blind spots.

1. Two PyPI packages install a module named `mjml`: `mjml-python` (MRML) and `mjml` (another
   project). Whichever was installed last wins, so the engine is checked before the first compile.
2. MRML accepts unknown `mj-*` tags and attributes without a word and copies them into the HTML, so
   a typo in a template would silently break the email. The generated MJML is therefore validated
   against the components and attributes our templates may use (from the MJML 4 documentation,
   https://documentation.mjml.io/), the attribute values against MJML's types (mjml_attributes), and
   each problem is traced back to the template line that wrote it (mjml_locate).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

from newsletter.errors import NewsletterError, NewsletterErrors, did_you_mean
from newsletter.files import read_user_text
from newsletter.render.mjml.attributes import value_problem
from newsletter.render.mjml.errors import MrmlParseError
from newsletter.render.mjml.locate import Locator, Target

PADDING = {"padding", "padding-top", "padding-bottom", "padding-left", "padding-right"}
BORDER = {"border", "border-top", "border-bottom", "border-left", "border-right", "border-radius"}
FONT = {
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "line-height",
    "letter-spacing",
    "text-decoration",
    "text-transform",
    "color",
}
BACKGROUND = {
    "background-color",
    "background-url",
    "background-repeat",
    "background-size",
    "background-position",
    "background-position-x",
    "background-position-y",
}
COMMON = {"css-class", "mj-class"}

# tag -> (allowed attributes, allowed parents); None as parents: anywhere.
COMPONENTS: dict[str, tuple[set[str], set[str] | None]] = {
    "mjml": ({"lang", "dir", "owa"}, set()),
    "mj-head": (set(), {"mjml"}),
    "mj-title": (set(), {"mj-head"}),
    "mj-preview": (set(), {"mj-head"}),
    "mj-breakpoint": ({"width"}, {"mj-head"}),
    "mj-font": ({"name", "href"}, {"mj-head"}),
    "mj-style": ({"inline"}, {"mj-head"}),
    "mj-attributes": (set(), {"mj-head"}),
    "mj-all": (set(), {"mj-attributes"}),  # any attribute: checked as a default, not a component
    "mj-class": ({"name"}, {"mj-attributes"}),
    "mj-raw": ({"position"}, None),
    "mj-body": ({"width", "background-color"} | COMMON, {"mjml"}),
    "mj-wrapper": (BACKGROUND | BORDER | PADDING | COMMON | {"full-width", "text-align", "gap"}, {"mj-body"}),
    "mj-section": (
        BACKGROUND | BORDER | PADDING | COMMON | {"direction", "full-width", "text-align"},
        {"mj-body", "mj-wrapper", "mj-attributes"},
    ),
    "mj-group": ({"width", "vertical-align", "background-color", "direction"} | COMMON, {"mj-section"}),
    "mj-column": (
        BORDER
        | PADDING
        | COMMON
        | {
            "background-color",
            "inner-background-color",
            "inner-border",
            "inner-border-radius",
            "vertical-align",
            "width",
        },
        {"mj-section", "mj-group", "mj-attributes"},
    ),
    "mj-text": (
        FONT | PADDING | COMMON | {"align", "container-background-color", "height"},
        {"mj-column", "mj-attributes"},
    ),
    "mj-image": (
        BORDER
        | PADDING
        | COMMON
        | {
            "align",
            "alt",
            "container-background-color",
            "fluid-on-mobile",
            "height",
            "href",
            "name",
            "rel",
            "sizes",
            "src",
            "srcset",
            "target",
            "title",
            "usemap",
            "width",
        },
        {"mj-column", "mj-attributes"},
    ),
    "mj-button": (
        FONT
        | BORDER
        | PADDING
        | COMMON
        | {
            "align",
            "background-color",
            "container-background-color",
            "height",
            "href",
            "inner-padding",
            "name",
            "rel",
            "target",
            "text-align",
            "title",
            "vertical-align",
            "width",
        },
        {"mj-column", "mj-attributes"},
    ),
    "mj-divider": (
        PADDING
        | COMMON
        | {"align", "border-color", "border-style", "border-width", "container-background-color", "width"},
        {"mj-column", "mj-attributes"},
    ),
    "mj-spacer": (
        PADDING | COMMON | {"container-background-color", "height"},
        {"mj-column", "mj-attributes"},
    ),
    "mj-table": (
        FONT
        | PADDING
        | COMMON
        | {
            "align",
            "border",
            "cellpadding",
            "cellspacing",
            "container-background-color",
            "role",
            "table-layout",
            "width",
        },
        {"mj-column", "mj-attributes"},
    ),
}

# Components whose content is HTML or text that MRML copies as it is.
RAW_CONTENT = {"mj-text", "mj-button", "mj-raw", "mj-table", "mj-style", "mj-title", "mj-preview"}


def load_engine() -> Callable[[str], str]:
    """The MRML compile function, after making sure `import mjml` really is MRML."""
    try:
        import mjml
    except ImportError:
        raise NewsletterError(
            "the MJML engine is not installed", hint="pip install mjml-python (the MRML engine)"
        ) from None
    _check_is_mrml(mjml)

    def compile_mjml(source: str) -> str:
        try:
            html: str = mjml.mjml2html(source, disable_comments=True, fonts={})
        except ValueError as exc:  # MRML's parse errors
            raise MrmlParseError(str(exc), source) from None
        return html

    return compile_mjml


def _check_is_mrml(module: ModuleType) -> None:
    """Both packages write `site-packages/mjml/`: the one installed last owns it, so either one present
    besides mjml-python makes the module's origin a matter of luck."""
    installed = {name for name in ("mjml-python", "mjml") if _installed(name)}
    if "mjml-python" not in installed or not callable(getattr(module, "mjml2html", None)):
        raise NewsletterError(
            f"the module 'mjml' at {getattr(module, '__file__', '?')} is not MRML (it belongs to "
            f"{', '.join(sorted(installed)) or 'an unknown package'})",
            hint="pip uninstall mjml mjml-python && pip install mjml-python",
        )
    if len(installed) > 1:
        raise NewsletterError(
            "both mjml and mjml-python are installed and both provide the module 'mjml'",
            hint="pip uninstall mjml mjml-python && pip install mjml-python",
        )


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def validate_mjml(source: str, templates: Iterable[Path]) -> None:
    """Raise one error per unknown tag, unknown attribute, misplaced component or wrong value: all of
    them at once, so that one run shows every fix to make."""
    problems = _Validator.run(source)
    if not problems:
        return
    locator = Locator([(path, read_user_text(path, what="template")) for path in templates], source)
    errors = []
    for problem in problems:
        path, line = locator.find(problem.target)
        where = "" if path else f" (line {problem.target.line} of the generated MJML)"
        errors.append(NewsletterError(problem.message + where, path=path, line=line, hint=problem.hint))
    raise NewsletterErrors(errors)


@dataclass(frozen=True)
class _Problem:
    message: str
    hint: str | None
    target: Target  # what to look for in the templates


class _Validator(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[_Problem] = []

    @classmethod
    def run(cls, source: str) -> list[_Problem]:
        validator = cls()
        validator.feed(source)
        validator.close()
        return validator.problems

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._inside_raw() or not (tag == "mjml" or tag.startswith("mj-")):
            return
        self._check(tag, attrs)
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._inside_raw() and (tag == "mjml" or tag.startswith("mj-")):
            self._check(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        """Closes the innermost open `tag` and what it holds; an end tag that closes nothing is left
        to MRML, so that one typo in a tag name does not misplace every component after it."""
        if self.stack[-1:] == [tag] or (tag in self.stack and not self._inside_raw()):
            innermost = len(self.stack) - 1 - self.stack[::-1].index(tag)
            del self.stack[innermost:]

    def _inside_raw(self) -> bool:
        return bool(self.stack) and self.stack[-1] in RAW_CONTENT

    def _check(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        target = Target(tag, self.getpos()[0], in_defaults="mj-attributes" in self.stack)
        if tag not in COMPONENTS:
            hint = did_you_mean(tag, COMPONENTS) or "the templates may use: " + ", ".join(sorted(COMPONENTS))
            self.problems.append(_Problem(f"unknown MJML tag <{tag}>", hint, target))
            return
        allowed, parents = COMPONENTS[tag]
        parent = self.stack[-1] if self.stack else None
        # Under <mj-attributes> a component tag sets defaults: same attributes, any place.
        is_default = parent == "mj-attributes" and tag not in {"mj-all", "mj-class"}
        # Below an unknown tag nothing is misplaced: the unknown tag is the one problem.
        if parents and not is_default and parent not in parents and (parent is None or parent in COMPONENTS):
            where = f"inside <{parent}>" if parent else "at the top"
            hint = f"put it inside <{'> or <'.join(sorted(parents - {'mj-attributes'}))}>"
            self.problems.append(_Problem(f"<{tag}> is not allowed {where}", hint, target))
        # <mj-all> and an <mj-class> definition take any component's attributes.
        any_attribute = tag == "mj-all" or (tag == "mj-class" and parent == "mj-attributes")
        for name, value in attrs:
            if any_attribute or name in allowed:
                self._check_value(target, name, value or "")
            else:
                hint = (
                    did_you_mean(name, allowed) or f"<{tag}> accepts: {', '.join(sorted(allowed)) or 'none'}"
                )
                message = f"unknown attribute '{name}' on <{tag}>"
                self.problems.append(_Problem(message, hint, replace(target, attribute=name)))

    def _check_value(self, target: Target, name: str, value: str) -> None:
        problem = value_problem(target.tag, name, value)
        if problem:
            self.problems.append(_Problem(*problem, replace(target, attribute=name, value=value)))

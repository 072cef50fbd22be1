"""The templates' sandbox: a template sees plain values, calls only what templates need, and runs
within bounds of size and time.

Templates are files anyone with access to the repository can edit, and what they print goes to
every subscriber. Jinja's sandbox alone blocks `__class__` and friends but lets a template call any
method of any object it is given: handed a `pathlib.Path`, `{{ p.joinpath('/proc/self/environ')
.read_text() }}` prints the process's secrets. So the context is made of plain values only
(`template_data.plain`), and the environment refuses every call that is not a template's own (macros, `loop`,
`caller`), one of Jinja's globals, or a text method that cannot grow without bound. What remains
that could exhaust the machine — `'a' * 10**9`, `10**10**10`, huge paddings, endless loops — is
bounded here too, and ends as an error that names the template line.
"""

from __future__ import annotations

import ctypes
import re
import string
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import BlockReference, Context, LoopContext, Macro
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import Cycler, Joiner, Namespace

MAX_TEXT = 1_000_000  # characters one value or one whole template output may hold
MAX_WIDTH = 1_000  # widths and paddings in filters and format specifications
MAX_INT_BITS = 4_096  # numbers as large as 10**1200: more than any template needs
TIME_LIMIT = 5.0  # seconds one template may run; a real one takes milliseconds

# Text methods that return at most their input's size (or a bool, a number, a list of pieces).
SAFE_STR_METHODS = frozenset(
    {
        "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha",
        "isdigit", "islower", "isspace", "istitle", "isupper", "lower", "lstrip", "partition",
        "removeprefix", "removesuffix", "rfind", "rindex", "rpartition", "rsplit", "rstrip",
        "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper",
    }
)  # fmt: skip
SAFE_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})


class ProjectTemplateLoader(jinja2.FileSystemLoader):
    """Templates from the project's templates/ folder only: a template that is a symbolic link to a
    file elsewhere (`/proc/self/environ`, a key file), or not a regular file, is refused. Jinja's own
    loader follows links, and whatever it reads goes into every email."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        path = Path(filename)
        roots = [Path(root).resolve() for root in self.searchpath]
        if not path.resolve().is_file() or not any(path.resolve().is_relative_to(r) for r in roots):
            raise SecurityError(
                f"the template {template} is a link to {path.resolve()}, outside templates/; "
                "templates must be files in the project"
            )
        return source, filename, uptodate


class TemplateTimeout(Exception):
    """Raised inside a template that ran past its time. An Exception, not a BaseException, so that
    Jinja maps its traceback to template lines; should some `except Exception` swallow it, it is
    raised again until the template ends."""


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox, narrowed to what templates need and bounded in what they can make."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for name in ("lipsum",):  # makes text of any size; no newsletter needs it
            self.globals.pop(name, None)
        self.globals["namespace"] = BoundedNamespace
        self.filters.update(_bounded_filters(self.filters))

    def is_safe_callable(self, obj: Any) -> bool:
        return super().is_safe_callable(obj) and _allowed_call(obj, self.globals)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if not __self.is_safe_callable(__obj):
            raise SecurityError(f"calling {_describe(__obj)} is not allowed in templates")
        return __context.call(__obj, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        result = self.binop_table[operator](left, right)
        if isinstance(result, str | list | tuple):
            _check_size(len(result))
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None

        def bounded(*args: Any, **kwargs: Any) -> str:
            _check_format_spec(value.__self__)
            return wrapped(*args, **kwargs)

        bounded.bounded_format = True  # type: ignore[attr-defined]
        return bounded


def _allowed_call(obj: Any, globals_: Mapping[str, Any]) -> bool:
    """Template machinery, Jinja's globals, and methods of text and mappings that stay small."""
    if isinstance(obj, Macro | LoopContext | BlockReference | Joiner):
        return True
    if any(obj is value for value in globals_.values()):
        return True
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if isinstance(owner, str):
        return name in SAFE_STR_METHODS
    if isinstance(owner, dict):
        return name in SAFE_MAPPING_METHODS
    if isinstance(owner, LoopContext):
        return name in {"cycle", "changed"}
    if isinstance(owner, Cycler):
        return name in {"next", "reset"}
    return getattr(obj, "bounded_format", False) is True


def _describe(obj: Any) -> str:
    name = getattr(obj, "__name__", None)
    owner = getattr(obj, "__self__", None)
    if name and owner is not None:
        return f"'{name}' of a {type(owner).__name__}"
    return f"'{name}'" if name else f"a {type(obj).__name__}"


class BoundedNamespace(Namespace):
    """`namespace()`, whose values are held to the size bound: `{% set ns.x = ns.x ~ ns.x %}` in a
    loop doubles a text thirty times over without any operator the sandbox can see."""

    def __setitem__(self, name: str, value: Any) -> None:
        _check_size(weight(value))
        super().__setitem__(name, value)


class TemplateTooLarge(ValueError):
    """A template made, or was about to make, more than the bounds allow."""


def _check_size(size: int) -> None:
    if size > MAX_TEXT:
        raise TemplateTooLarge(f"the result would hold {size:,} items; templates may make up to {MAX_TEXT:,}")


def weight(value: Any, depth: int = 3) -> int:
    """About how much text `value` holds, counting what nested lists repeat: `[s] * 1000` is a
    short list, but printing or joining it makes 1000 copies of s."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple) and depth > 0:
        return len(value) + sum(weight(item, depth - 1) for item in value)
    return 1


def _check_binop(op: str, left: Any, right: Any) -> None:
    if op == "*":
        for sequence, times in ((left, right), (right, left)):
            if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                _check_size(weight(sequence) * max(times, 0))
        if isinstance(left, int) and isinstance(right, int):
            _check_bits(abs(left).bit_length() + abs(right).bit_length())
    elif op == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        _check_bits(max(abs(left).bit_length() - 1, 1) * right)
    elif op == "%" and isinstance(left, str):
        _check_percent_format(left)


def _check_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise TemplateTooLarge(
            f"the number would have about {bits:,} bits; templates may use up to {MAX_INT_BITS:,}"
        )


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_percent_format(text: str) -> None:
    for width, precision in _PERCENT_SPEC.findall(text):
        _check_width(width)
        _check_width(precision)


def _check_format_spec(text: str) -> None:
    for _, _, spec, _ in string.Formatter().parse(text):
        if spec and "{" in spec:
            raise TemplateTooLarge("nested format fields are not allowed in templates")
        for number in re.findall(r"\d+", spec or ""):
            _check_width(number)


def _check_width(value: str | int) -> None:
    if value == "*":
        raise TemplateTooLarge("'*' widths are not allowed in templates")
    if value not in ("", None) and int(value) > MAX_WIDTH:
        raise TemplateTooLarge(f"a width of {int(value):,} is too large; the most is {MAX_WIDTH:,}")


def _bounded_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """The built-in filters whose output can be much larger than their input, with their growth
    checked first: a template cannot pad, indent or replace its way to gigabytes."""
    center, indent, replace, fmt = filters["center"], filters["indent"], filters["replace"], filters["format"]
    join, total = filters["join"], filters["sum"]

    def bounded_center(value: Any, width: int = 80) -> str:
        _check_width(width)
        return str(center(value, width))

    def bounded_indent(value: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
        lines = str(value).count("\n") + 1
        _check_size(len(str(value)) + lines * (width if isinstance(width, int) else len(width)))
        return str(indent(value, width, first, blank))

    def bounded_replace(
        eval_ctx: nodes.EvalContext, value: Any, old: Any, new: Any, count: int | None = None
    ) -> str:
        text, old, new = str(value), str(old), str(new)
        hits = (text.count(old) if old else len(text) + 1) if count is None else count
        _check_size(len(text) + hits * max(len(new) - len(old), 0))
        return str(replace(eval_ctx, value, old, new, count))

    def bounded_format(value: Any, *args: Any, **kwargs: Any) -> str:
        _check_percent_format(str(value))
        return str(fmt(value, *args, **kwargs))

    @jinja2.pass_environment
    def bounded_sum(
        environment: jinja2.Environment, iterable: Any, attribute: Any = None, start: Any = 0
    ) -> Any:
        if not isinstance(start, int | float | Decimal):  # summing lists or text: one long C call
            raise TemplateTooLarge("sum adds numbers only in templates; use join for text")
        return total(environment, iterable, attribute, start)

    @jinja2.pass_eval_context
    def bounded_join(eval_ctx: nodes.EvalContext, value: Any, d: str = "", attribute: Any = None) -> str:
        items = list(value)
        _check_size(sum(weight(item) for item in items) + len(items) * len(d))
        return str(join(eval_ctx, items, d, attribute))

    return {
        "sum": bounded_sum,
        "join": bounded_join,
        "center": bounded_center,
        "indent": bounded_indent,
        "replace": jinja2.pass_eval_context(bounded_replace),
        "format": bounded_format,
    }


def render_bounded(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """Render within MAX_TEXT characters of output and TIME_LIMIT seconds.

    Python cannot stop a thread from outside, except by an exception delivered asynchronously
    (CPython's PyThreadState_SetAsyncExc), which lands between two bytecodes of the template's
    compiled code: a loop that never prints, or never ends, is stopped all the same.
    """
    parts: list[str] = []
    size = 0
    try:
        with _Deadline(TIME_LIMIT):
            for chunk in template.generate(context):
                size += len(chunk)
                if size > MAX_TEXT:
                    raise TemplateTooLarge(f"the template's output exceeds {MAX_TEXT:,} characters")
                parts.append(chunk)
    except TemplateTimeout as exc:
        exc.args = (TIME_LIMIT,)  # raised as a bare class by the timer; kept, for its traceback
        raise
    return "".join(parts)


class _Deadline:
    """Raises TemplateTimeout in the current thread once `seconds` have passed, unless left before."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.thread_id = threading.get_ident()
        self.lock = threading.Lock()
        self.left = threading.Event()
        self.watcher = threading.Thread(target=self._watch, name="template-deadline", daemon=True)

    def __enter__(self) -> _Deadline:
        self.watcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.left.set()
            # An exception the watcher set just now but that has not been raised yet is withdrawn,
            # so that it cannot go off later in code that has nothing to do with the template.
            _set_async_exc(self.thread_id, None)
        self.watcher.join()

    def _watch(self) -> None:
        if self.left.wait(self.seconds):
            return
        while True:
            with self.lock:
                if self.left.is_set():
                    return
                _set_async_exc(self.thread_id, TemplateTimeout)
            if self.left.wait(0.2):
                return


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else ctypes.c_void_p(0)
    )

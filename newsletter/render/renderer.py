"""Campaign to email: Jinja2 makes MJML, MRML makes responsive HTML, premailer inlines the CSS,
and a plain-text part is made from its own template beside it.

Rendering happens once per campaign. Everything a template prints is decided first (the view,
`view.py`), so templates stay simple and every link is known before the email exists. This module
runs the user's templates in a sandbox and turns their errors into ones that name the template line.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import re
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jinja2

from newsletter.errors import NewsletterError
from newsletter.files import read_user_text
from newsletter.project.models import Campaign
from newsletter.project.settings import Project, Settings
from newsletter.render.inline import to_html
from newsletter.render.links import Link, OrderLinkProvider, kind_of, shop_page_link
from newsletter.render.merge import MergeTemplate, escape_html
from newsletter.render.mjml.engine import load_engine, validate_mjml
from newsletter.render.mjml.errors import MrmlParseError, parse_error
from newsletter.render.order_policy import OrderIssue, order_link_problems
from newsletter.render.sandbox import BoundedSandbox, ProjectTemplateLoader, TemplateTimeout, render_bounded
from newsletter.render.text import tidy_text, underline, wrap
from newsletter.render.view import build_view

GMAIL_CLIP_BYTES = 102 * 1024  # Gmail hides everything after this many bytes of HTML


@dataclass(frozen=True)
class Rendered:
    """One campaign, ready to write, check, preview or send.

    `html` and `text` are what the web version and every review show: the merge fields filled with
    the values for no one in particular ("Beste lezer,", the plain unsubscribe page).
    `html_source` and `text_source` still hold the merge markers, for `message.py` to personalise.
    """

    campaign: Campaign
    mjml: str
    html: str
    text: str
    links: tuple[Link, ...]
    warnings: tuple[str, ...] = ()
    html_source: str = ""
    text_source: str = ""
    merge_defaults: Mapping[str, str] = field(default_factory=dict)

    @property
    def html_bytes(self) -> int:
        return len(self.html.encode("utf-8"))

    @property
    def text_bytes(self) -> int:
        return len(self.text.encode("utf-8"))


class Renderer:
    """Holds what is expensive to set up (Jinja environment, MJML engine) for many campaigns in one run."""

    def __init__(
        self,
        project: Project,
        order_link: OrderLinkProvider = shop_page_link,
        *,
        expect_payment_links: bool = False,
    ) -> None:
        self.project = project
        self.order_link = order_link
        self.expect_payment_links = expect_payment_links
        self.env = make_environment(project.templates_dir)
        self.compile_mjml = load_engine()

    def render(self, campaign: Campaign) -> Rendered:
        view = build_view(campaign, self.project.settings, self.order_link)
        context = view.context()
        mjml_source = self._render_template(f"{campaign.template}.mjml.j2", context)
        validate_mjml(mjml_source, self._template_files())
        try:
            html_source = to_html(mjml_source, self.compile_mjml)
        except MrmlParseError as exc:
            main = self.project.templates_dir / f"{campaign.template}.mjml.j2"
            raise parse_error(exc, self._template_files(), main) from None
        text_source = tidy_text(self._render_template(f"{campaign.template}.txt.j2", context))
        defaults = view.merge_defaults
        html = MergeTemplate.parse(html_source, defaults).fill(defaults, escape_html)
        text = MergeTemplate.parse(text_source, defaults).fill(defaults)
        links = view.links + _template_links(html, view.links, self.project.settings)
        rendered = Rendered(
            campaign=campaign,
            mjml=mjml_source,
            html=html,
            text=text,
            links=links,
            html_source=html_source,
            text_source=text_source,
            merge_defaults=defaults,
        )
        live = self.project.settings.stripe_live
        return replace(rendered, warnings=warnings_for(rendered, self.expect_payment_links, live=live))

    def _render_template(self, name: str, context: dict[str, Any]) -> str:
        try:
            return render_bounded(self.env.get_template(name), context)
        except jinja2.TemplateSyntaxError as exc:
            path = Path(exc.filename) if exc.filename else self.project.templates_dir / name
            raise NewsletterError(
                f"template syntax error: {exc.message}", path=path, line=exc.lineno
            ) from None
        except jinja2.TemplateNotFound as exc:
            raise NewsletterError(
                f"template not found: {exc.name}", path=self.project.templates_dir
            ) from None
        except UnicodeDecodeError:
            raise self._undecodable_template() from None
        except TemplateTimeout as exc:
            raise self._runtime_error(
                exc, name, f"the template ran for more than {exc.args[0]:g} s (a loop that does not end?)"
            ) from None
        except RecursionError as exc:
            raise self._runtime_error(exc, name, "the template calls itself too deeply") from None
        except Exception as exc:  # any mistake inside a template is the template's, at its line
            raise self._runtime_error(exc, name, _describe_template_error(exc)) from None

    def _runtime_error(self, exc: BaseException, name: str, message: str) -> NewsletterError:
        frame, line = _template_frame(exc, self.project.templates_dir)
        return NewsletterError(message, path=frame or self.project.templates_dir / name, line=line)

    def _undecodable_template(self) -> NewsletterError:
        """Jinja's loader does not say which file held the bad byte: the first template that does
        not read as UTF-8 is named, with its line."""
        for path in sorted(self.project.templates_dir.rglob("*.j2")):
            try:
                read_user_text(path, what="template")
            except NewsletterError as error:
                return error
        return NewsletterError("a template is not UTF-8 text", path=self.project.templates_dir)

    def _template_files(self) -> Iterator[Path]:
        """Lazily: only an error needs the templates searched, so a good render never lists them."""
        yield from sorted(self.project.templates_dir.rglob("*.mjml.j2"))


# The compiled code depends on how the environment is made here and on the sandbox's intercepted
# operators (sandbox.py): both sources are in the cache key.
_ENVIRONMENT_KEY = hashlib.sha256(
    Path(__file__).read_bytes()
    + Path(__file__).with_name("sandbox.py").read_bytes()
    + jinja2.__version__.encode()
).hexdigest()[:16]


def make_environment(templates_dir: Path) -> BoundedSandbox:
    """Templates are the user's: sandboxed, autoescaped (MJML is HTML), and strict about typos."""
    env = BoundedSandbox(
        loader=ProjectTemplateLoader(templates_dir),
        autoescape=jinja2.select_autoescape(enabled_extensions=("mjml.j2", "html.j2"), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Compiled templates are cached (per user, in the temp folder, keyed by a hash of the source):
        # compiling them is a third of the time of a one-campaign build. The compiled code also
        # depends on how the environment is made (autoescape, the sandbox's operators), so the cache
        # files are named for this module's and the sandbox's source: changes never meet stale code.
        bytecode_cache=jinja2.FileSystemBytecodeCache(pattern=f"__newsletter_{_ENVIRONMENT_KEY}_%s.cache"),
    )
    env.filters["wrap"] = wrap
    env.filters["underline"] = underline
    return env


def _describe_template_error(exc: Exception) -> str:
    if isinstance(exc, jinja2.UndefinedError | jinja2.exceptions.SecurityError):
        kind = "undefined template variable" if isinstance(exc, jinja2.UndefinedError) else "not allowed"
        # "'newsletter.project.campaign.Campaign object' has no attribute" reads better as "'Campaign'"
        return f"{kind}: " + re.sub(r"'(?:\w+\.)*(\w+) object'", r"'\1'", exc.message or "")
    if isinstance(exc, MemoryError):
        return "the template ran out of memory"
    return f"template error: {exc}" if str(exc) else f"template error: {type(exc).__name__}"


def _template_frame(exc: BaseException, templates_dir: Path) -> tuple[Path | None, int | None]:
    """Jinja puts template file and line into the traceback; the innermost template frame is the culprit."""
    root = templates_dir.resolve()
    found: tuple[Path | None, int | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if path.suffix == ".j2" and path.resolve().is_relative_to(root):
            found = (path, frame.lineno)
    return found


def _template_links(html: str, known: Sequence[Link], settings: Settings) -> tuple[Link, ...]:
    """Links a template wrote itself (a social profile, say) are listed too, as they are, so that the
    inventory is complete and the checks can see an own-site link that lacks UTM parameters."""
    seen = {link.url for link in known}
    extra: list[Link] = []
    for href in re.findall(r"<a\b[^>]*?\shref=\"([^\"]*)\"", html):
        url = html_lib.unescape(href)
        if url not in seen:
            seen.add(url)
            extra.append(Link(url=url, block="template", kind=kind_of(url, settings), label=""))
    return tuple(extra)


def warnings_for(
    rendered: Rendered, expect_payment_links: bool = False, *, live: bool = False
) -> tuple[str, ...]:
    """What `build` warns about: what reading a column had to clean up, order buttons that fall back
    to the shop page in a project that sells through Stripe (order_policy.py decides which), and an
    email that Gmail would clip."""
    problems = order_link_problems(rendered, sells_through_stripe=expect_payment_links, live=live)
    warnings = [*rendered.campaign.warnings]
    warnings += [
        f"{problem.block} ({problem.sku or problem.block}) has no active Stripe Payment Link: its order "
        "button goes to the shop page (run `newsletter links sync`, or `newsletter links activate` "
        "for a campaign switched off)"
        for problem in problems
        if problem.issue is OrderIssue.SHOP_FALLBACK
    ]
    if rendered.html_bytes > GMAIL_CLIP_BYTES:
        warnings.append(
            f"HTML is {rendered.html_bytes / 1024:.0f} KB: Gmail clips messages above 102 KB, "
            "hiding the rest of the email including the unsubscribe link"
        )
    return tuple(warnings)

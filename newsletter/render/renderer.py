"""Campaign to email: Jinja2 makes MJML, MRML makes responsive HTML, premailer inlines the CSS,
and a plain-text part is made from its own template beside it.

Rendering happens once per campaign. Everything a template prints is decided here first (the
view), so templates stay simple and every link is known before the email exists.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
import textwrap
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from newsletter.errors import NewsletterError
from newsletter.project.campaign import Book, Campaign, Teaser
from newsletter.project.settings import Project, Settings
from newsletter.render.i18n import STRINGS, format_co_authors, format_price
from newsletter.render.links import Link, LinkKind, OrderLinkProvider, content_link, shop_page_link
from newsletter.render.merge import MergeTemplate, escape_html, marker, with_first_name_marker
from newsletter.render.mjml_engine import load_engine, validate_mjml

GMAIL_CLIP_BYTES = 102 * 1024  # Gmail hides everything after this many bytes of HTML
INLINE_STYLE = re.compile(r"<mj-style\s+inline\s*=\s*[\"']inline[\"']\s*>(.*?)</mj-style>", re.DOTALL | re.I)


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


# -- the view: everything the templates print ----------------------------------------------------


@dataclass(frozen=True)
class TeaserView:
    block: str
    title: str
    label: str | None
    url: str
    excerpt: str
    author_name: str
    author_handle: str | None
    author_bio: str | None
    image: str | None
    image_alt: str | None


@dataclass(frozen=True)
class BookView:
    block: str
    title: str
    subtitle: str | None
    co_authors: str
    price: str
    cover_url: str
    cover_alt: str
    order_url: str
    order_kind: str
    cta: str


@dataclass(frozen=True)
class View:
    campaign: Campaign
    settings: Settings
    t: dict[str, str]
    intro: tuple[str, ...]
    sign_off: tuple[str, ...]
    teasers: tuple[TeaserView, ...]
    books: tuple[BookView, ...]
    home_url: str
    web_version_url: str
    unsubscribe_url: str
    links: tuple[Link, ...] = field(repr=False, default=())
    merge_defaults: Mapping[str, str] = field(repr=False, default_factory=dict)

    def context(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "settings": self.settings,
            "brand": self.settings.brand,
            "colours": self.settings.colours,
            "t": self.t,
            "intro": self.intro,
            "sign_off": self.sign_off,
            "teasers": self.teasers,
            "books": self.books,
            "home_url": self.home_url,
            "web_version_url": self.web_version_url,
            "unsubscribe_url": self.unsubscribe_url,
        }


def build_view(
    campaign: Campaign, settings: Settings, order_link: OrderLinkProvider = shop_page_link
) -> View:
    words = dict(STRINGS[campaign.locale])
    words["why"] = words["why"].format(brand=settings.brand.name)
    home = content_link(
        settings.site_url,
        block="header",
        label=settings.brand.name,
        campaign_id=campaign.id,
        settings=settings,
    )
    links: list[Link] = [home]
    teasers = []
    for number, teaser in enumerate(campaign.teasers, start=1):
        view = _teaser_view(teaser, f"teaser-{number}", campaign, settings, words)
        teasers.append(view)
        links.append(
            Link(url=view.url, block=view.block, kind=_kind_of(view.url, settings), label=view.title)
        )
    books = []
    defaults = {"first_name": words["reader"], "unsubscribe_url": settings.unsubscribe_url}
    for number, book in enumerate(campaign.books, start=1):
        order = order_link(campaign, book, f"book-{number}")
        field_name = order_field(order.block)
        defaults[field_name] = order.url
        view_book = _book_view(book, replace(order, url=marker(field_name)), campaign.locale, words)
        books.append(view_book)
        links.append(Link(url=order.url, block=order.block, kind=order.kind, label=view_book.cta))
    web_version = settings.web_version(campaign.id)
    defaults["web_version_url"] = web_version
    links.append(
        Link(url=web_version, block="footer", kind=LinkKind.WEB_VERSION, label=words["view_in_browser"])
    )
    links.append(
        Link(
            url=settings.unsubscribe_url,
            block="footer",
            kind=LinkKind.UNSUBSCRIBE,
            label=words["unsubscribe"],
        )
    )
    return View(
        campaign=campaign,
        settings=settings,
        t=words,
        intro=paragraphs(with_first_name_marker(campaign.intro or "")),
        sign_off=paragraphs(with_first_name_marker(campaign.sign_off or "")),
        teasers=tuple(teasers),
        books=tuple(books),
        home_url=home.url,
        web_version_url=marker("web_version_url"),
        unsubscribe_url=marker("unsubscribe_url"),
        links=tuple(links),
        merge_defaults=defaults,
    )


def order_field(block: str) -> str:
    """The merge field of a book's order link: block "book-2" has field "order_book_2"."""
    return "order_" + block.replace("-", "_")


def _teaser_view(
    teaser: Teaser, block: str, campaign: Campaign, settings: Settings, words: dict[str, str]
) -> TeaserView:
    link = content_link(
        teaser.url, block=block, label=teaser.title, campaign_id=campaign.id, settings=settings
    )
    return TeaserView(
        block=block,
        title=teaser.title,
        label=teaser.label,
        url=link.url,
        excerpt=teaser.excerpt,
        author_name=teaser.author.name,
        author_handle=teaser.author.handle,
        author_bio=teaser.author.bio,
        image=teaser.image,
        image_alt=teaser.image_alt,
    )


def _book_view(book: Book, order: Link, locale: str, words: dict[str, str]) -> BookView:
    return BookView(
        block=order.block,
        title=book.title,
        subtitle=book.subtitle,
        co_authors=format_co_authors(book.co_authors, locale),
        price=format_price(book.price, book.currency, locale),
        cover_url=book.cover_url,
        cover_alt=book.cover_alt,
        order_url=order.url,
        order_kind=str(order.kind),
        cta=book.cta or words["order_now"],
    )


def _kind_of(url: str, settings: Settings) -> LinkKind:
    return LinkKind.SITE if settings.is_own_site(url) else LinkKind.EXTERNAL


def paragraphs(text: str | None) -> tuple[str, ...]:
    """Editors separate paragraphs with a blank line in YAML block text."""
    if not text:
        return ()
    return tuple(" ".join(part.split()) for part in re.split(r"\n\s*\n", text.strip()) if part.strip())


# -- the renderer ------------------------------------------------------------------------------


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
        html_source = to_html(mjml_source, self.compile_mjml)
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
        return replace(rendered, warnings=warnings_for(rendered, self.expect_payment_links))

    def _render_template(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self.env.get_template(name).render(context)
        except jinja2.TemplateSyntaxError as exc:
            path = Path(exc.filename) if exc.filename else self.project.templates_dir / name
            raise NewsletterError(
                f"template syntax error: {exc.message}", path=path, line=exc.lineno
            ) from None
        except jinja2.TemplateNotFound as exc:
            raise NewsletterError(
                f"template not found: {exc.name}", path=self.project.templates_dir
            ) from None
        except (jinja2.UndefinedError, jinja2.exceptions.SecurityError) as exc:
            frame, line = _template_frame(exc, self.project.templates_dir)
            kind = "undefined template variable" if isinstance(exc, jinja2.UndefinedError) else "not allowed"
            # "'newsletter.project.campaign.Campaign object' has no attribute" reads better as "'Campaign'"
            message = re.sub(r"'(?:\w+\.)*(\w+) object'", r"'\1'", exc.message or "")
            raise NewsletterError(
                f"{kind}: {message}", path=frame or self.project.templates_dir / name, line=line
            ) from None

    def _template_files(self) -> list[Path]:
        return sorted(self.project.templates_dir.rglob("*.mjml.j2"))


def make_environment(templates_dir: Path) -> SandboxedEnvironment:
    """Templates are the user's: sandboxed, autoescaped (MJML is HTML), and strict about typos."""
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=jinja2.select_autoescape(enabled_extensions=("mjml.j2", "html.j2"), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Compiled templates are cached (per user, in the temp folder, keyed by a hash of the source):
        # compiling them is a third of the time of a one-campaign build.
        bytecode_cache=jinja2.FileSystemBytecodeCache(),
    )
    env.filters["wrap"] = wrap
    env.filters["underline"] = underline
    return env


def _template_frame(exc: BaseException, templates_dir: Path) -> tuple[Path | None, int | None]:
    """Jinja puts template file and line into the traceback; the innermost template frame is the culprit."""
    root = templates_dir.resolve()
    found: tuple[Path | None, int | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if path.suffix == ".j2" and path.resolve().is_relative_to(root):
            found = (path, frame.lineno)
    return found


# -- MJML to inlined HTML ------------------------------------------------------------------------


def to_html(mjml_source: str, compile_mjml: Callable[[str], str]) -> str:
    """MRML leaves `mj-style inline` rules in a <style> block; premailer puts them on the elements.

    The inline rules are taken out of the MJML and given to premailer alone, and every style block
    MRML wrote is marked to be left as it is: its resets and media queries must stay in the head,
    and inlining them would only bloat every table cell.
    """
    inline_css = "\n".join(INLINE_STYLE.findall(mjml_source))
    html = compile_mjml(INLINE_STYLE.sub("", mjml_source))
    return inline(html, inline_css) if inline_css.strip() else html


def inline(html: str, css: str) -> str:
    from premailer import Premailer  # heavy (lxml, cssutils, requests): only when building

    marked = re.sub(
        r"<!--.*?-->|<style\b",
        lambda m: m.group(0) if m.group(0).startswith("<!--") else '<style data-premailer="ignore"',
        html,
        flags=re.DOTALL,
    )
    result: str = Premailer(
        marked,
        css_text=css,
        keep_style_tags=False,
        remove_classes=False,
        strip_important=False,
        disable_validation=True,
        disable_link_rewrites=True,
        allow_network=False,
        allow_loading_external_files=False,
        cssutils_logging_level=logging.CRITICAL,
        align_floating_images=False,  # MJML images are not floated; this pass only costs time
    ).transform()
    # lxml drops the doctype; without it clients render in quirks mode.
    return "<!doctype html>\n" + result.removeprefix("<!DOCTYPE html>").lstrip()


def _template_links(html: str, known: Sequence[Link], settings: Settings) -> tuple[Link, ...]:
    """Links a template wrote itself (a social profile, say) are listed too, as they are, so that the
    inventory is complete and the checks can see an own-site link that lacks UTM parameters."""
    seen = {link.url for link in known}
    extra: list[Link] = []
    for href in re.findall(r"<a\b[^>]*?\shref=\"([^\"]*)\"", html):
        url = html_lib.unescape(href)
        if url not in seen:
            seen.add(url)
            extra.append(Link(url=url, block="template", kind=_kind_of(url, settings), label=""))
    return tuple(extra)


def warnings_for(rendered: Rendered, expect_payment_links: bool = False) -> tuple[str, ...]:
    warnings = []
    if expect_payment_links:
        books = {f"book-{n}": book for n, book in enumerate(rendered.campaign.books, start=1)}
        for link in rendered.links:
            if link.kind is LinkKind.ORDER_SHOP:
                warnings.append(
                    f"{link.block} ({books[link.block].sku}) has no Stripe Payment Link yet: its order "
                    "button goes to the shop page (run `newsletter links sync`)"
                )
    if rendered.html_bytes > GMAIL_CLIP_BYTES:
        warnings.append(
            f"HTML is {rendered.html_bytes / 1024:.0f} KB: Gmail clips messages above 102 KB, "
            "hiding the rest of the email including the unsubscribe link"
        )
    return tuple(warnings)


# -- the text part ---------------------------------------------------------------------------


def wrap(text: str, width: int = 72) -> str:
    """Plain-text paragraphs wrapped for mail clients; URLs are never broken."""
    return "\n\n".join(
        textwrap.fill(" ".join(part.split()), width=width, break_long_words=False, break_on_hyphens=False)
        for part in re.split(r"\n\s*\n", text.strip())
    )


def underline(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}"


def tidy_text(text: str) -> str:
    """Template whitespace must not show: no trailing spaces, at most one blank line in a row."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"

"""Where the static site's pages go: the folders follow the URL paths of the settings, so that the
site folder copied to the web server's root answers at the addresses the emails link to.

`web_version_url = "https://host/nieuwsbrief/{campaign}"` puts a campaign's web version at
`nieuwsbrief/<id>/index.html` (`.../{campaign}.html` at `nieuwsbrief/<id>.html`), and the archive
in the folder above it: `nieuwsbrief/index.html` and `nieuwsbrief/feed.xml` for the default locale,
`nieuwsbrief/<locale>/index.html` and `feed.xml` for each other locale.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from newsletter.errors import NewsletterError
from newsletter.vocabulary import LOCALES

FIELD = "{campaign}"


@dataclass(frozen=True)
class Layout:
    web_version_url: str
    origin: str  # "https://www.uitgeverijlindenhof.nl"
    folder: str  # the archive folder's path below the origin: "nieuwsbrief/", or "" for the root
    segment: str  # the path's last part, holding the campaign id: "{campaign}", "{campaign}.html"
    trailing_slash: bool
    default_locale: str

    @classmethod
    def parse(cls, web_version_url: str, default_locale: str, settings_file: Path | None = None) -> Layout:
        """The layout of a `web_version_url`; one whose path cannot be a file on disk is an error."""
        parts = urlsplit(web_version_url)
        core = parts.path.rstrip("/")
        folder, _, segment = core.rpartition("/")
        folders = [unquote(name) for name in folder.split("/")[1:]]
        if FIELD not in segment or FIELD in folder or FIELD in parts.netloc:
            raise _bad(settings_file, "has no {campaign} in the last part of its path")
        if any(name in ("", ".", "..") or "\\" in name for name in folders):
            raise _bad(settings_file, "has an empty, '.' or '..' folder in its path")
        return cls(
            web_version_url=web_version_url,
            origin=f"{parts.scheme}://{parts.netloc}",
            folder="".join(f"{name}/" for name in folders),
            segment=unquote(segment),
            trailing_slash=parts.path.endswith("/"),
            default_locale=default_locale,
        )

    def web_version_file(self, campaign_id: str) -> str:
        name = self.segment.replace(FIELD, campaign_id)
        if not self.trailing_slash and name.endswith((".html", ".htm")):
            return self.folder + name
        return f"{self.folder}{name}/index.html"

    def web_version(self, campaign_id: str) -> str:
        """As `Settings.web_version` makes it: the address every email links to."""
        return self.web_version_url.replace(FIELD, campaign_id)

    def archive_folder(self, locale: str) -> str:
        return self.folder if locale == self.default_locale else f"{self.folder}{locale}/"

    def archive_url(self, locale: str) -> str:
        return f"{self.origin}/{self.archive_folder(locale)}"

    def feed_url(self, locale: str) -> str:
        return self.archive_url(locale) + "feed.xml"

    def locales(self, present: Collection[str]) -> tuple[str, ...]:
        """The locales with an archive: the default always (the archive folder's own page), the
        others once they have a published campaign."""
        others = tuple(locale for locale in LOCALES if locale in present and locale != self.default_locale)
        return (self.default_locale, *others)


def _bad(settings_file: Path | None, problem: str) -> NewsletterError:
    return NewsletterError(
        f"{problem}, so the static site cannot put the web versions there",
        path=settings_file,
        field="web_version_url",
        hint='use a URL like "https://www.example.nl/nieuwsbrief/{campaign}"',
    )

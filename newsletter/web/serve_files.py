"""The static site under `build/site/`, served as a web server's document root would serve it.

`newsletter build` lays the site out by the URL paths of the settings (`web/layout.py`), so a URL's
path is the file's path below `build/site/`. The folder sits beside the dry run's outbox (readers'
addresses, working unsubscribe links), so only what is plainly inside it is served: no `..`, no
empty, dot or backslash segments, no symbolic links anywhere below the site folder, no folder
listings (a folder answers with its `index.html`, or 404), and every file with a type from its
name, never sniffed by the browser.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from newsletter.web.responses import SITE_CSP, Response, not_found

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".pdf": "application/pdf",
}
FEED_TYPES = {b"<feed": "application/atom+xml; charset=utf-8", b"<rss": "application/rss+xml; charset=utf-8"}
UNKNOWN_TYPE = "application/octet-stream"  # with nosniff: downloaded, never run as a page
SITE_CACHE = "no-cache"  # the next build may change any file: revalidate, but let proxies keep it


class StaticSite:
    def __init__(self, root: Path) -> None:
        self.root = root

    def respond(self, url_path: str) -> Response:
        """The file at `url_path` ("/nieuwsbrief/feed.xml"), a redirect from a folder to its "/"
        (so the index's relative links work), or a 404 HttpError."""
        names = _safe_names(url_path)
        if names is None or not self.root.is_dir():
            raise not_found()
        try:
            return self._file(url_path, names)
        except OSError:  # a name too long for the file system, a file gone meanwhile: not there
            raise not_found() from None

    def _file(self, url_path: str, names: list[str]) -> Response:
        target = self._inside(names)
        if target.is_dir():
            if not url_path.endswith("/"):
                return Response(301, b"", headers=[("Location", quote(url_path + "/"))], csp=SITE_CSP)
            target = self._inside([*names, "index.html"])
        elif url_path.endswith("/"):
            raise not_found()
        if not target.is_file():
            raise not_found()
        data = target.read_bytes()
        return Response(
            200, data, content_type=content_type(target.name, data), csp=SITE_CSP, cache=SITE_CACHE
        )

    def _inside(self, names: list[str]) -> Path:
        """The path of `names` below the root when no part of it is a symbolic link (or escapes)."""
        root = self.root.resolve()
        candidate = root.joinpath(*names)
        if candidate.resolve() != candidate:
            raise not_found()
        return candidate


def content_type(name: str, data: bytes) -> str:
    suffix = Path(name).suffix.lower()
    if suffix == ".xml":
        head = data[:512]
        for marker, feed_type in FEED_TYPES.items():
            if marker in head:
                return feed_type
    return TYPES.get(suffix, UNKNOWN_TYPE)


def _safe_names(url_path: str) -> list[str] | None:
    """The path's segments, or None when any is empty, '.', '..', hidden, or holds a backslash or NUL."""
    if not url_path.startswith("/"):
        return None
    parts = url_path[1:].split("/")
    names = parts[:-1] if parts[-1] == "" else parts
    for name in names:
        if not name or name.startswith(".") or "\\" in name or "\x00" in name:
            return None
    return names

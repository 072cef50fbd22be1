"""What readers touch after delivery: the static site (web versions, archive, feed) and the
reader-facing endpoints of `newsletter serve` (one-click unsubscribe, webhooks)."""

from __future__ import annotations

import importlib


def __getattr__(name: str) -> object:
    """`newsletter.web:app`, the WSGI app for gunicorn and uwsgi, made on first use (so importing the
    package for the static site costs nothing): the project comes from NEWSLETTER_PROJECT or the
    current folder, the secret from NEWSLETTER_UNSUBSCRIBE_SECRET. Made here, as the server loads
    it, so that a missing secret or project stops the server from starting."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module("newsletter.web.app")
    module.default_app()
    return module  # callable: it answers with default_app(), see newsletter/web/app.py

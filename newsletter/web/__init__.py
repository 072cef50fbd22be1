"""What readers touch after delivery: the reader-facing endpoints of `newsletter serve` (one-click
unsubscribe, webhooks) and the static site it serves."""

from __future__ import annotations


def __getattr__(name: str) -> object:
    """`newsletter.web:app`, kept for servers configured before `newsletter.wsgi:app` existed: the
    same application, made when first asked for."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from newsletter.web.application import environment_app

    return environment_app()

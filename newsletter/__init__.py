"""newsletter: campaign files in, responsive CSS-inlined newsletters out.

The Python API (api.py) is the package's face::

    import newsletter

    project = newsletter.open_project("/srv/nieuwsbrief")
    project.build()

The names below are imported when first used, so that `import newsletter` (and every command of the
CLI, which is one of its callers) starts fast. One subpackage per stage, in the order data flows
through them: `project` reads the files, `store` keeps the subscribers and the send log, `render`
turns a campaign into HTML and text, `payments` keeps the Stripe Payment Links, `pipeline` loads and
renders for every command, `review` checks and shows the result, `site` writes the web versions,
`build` puts a build in order, `audience`, `sending` and `bounces` work on the list, `api` is this
face, `web` the reader-facing WSGI app and `cli` the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsletter.api import CampaignReport, Newsletter, open_project
    from newsletter.errors import NewsletterError, NewsletterErrors
    from newsletter.project.environment import Secrets

__all__ = ["CampaignReport", "Newsletter", "NewsletterError", "NewsletterErrors", "Secrets", "open_project"]

_WHERE = {
    "CampaignReport": "newsletter.api",
    "Newsletter": "newsletter.api",
    "open_project": "newsletter.api",
    "NewsletterError": "newsletter.errors",
    "NewsletterErrors": "newsletter.errors",
    "Secrets": "newsletter.project.environment",
}


def __getattr__(name: str) -> object:
    if name not in _WHERE:
        raise AttributeError(f"module 'newsletter' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_WHERE[name]), name)

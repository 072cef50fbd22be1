"""The WSGI application for a server of your choosing: `gunicorn 'newsletter.wsgi:app'`.

As Django's wsgi.py does, this module makes the application when it is imported, so that a server
with no project or no unsubscribe secret refuses to start instead of answering every request with
an error. The project is NEWSLETTER_PROJECT, or the current folder (or the nearest above it that
holds newsletter.toml); its secrets come from the environment. `newsletter serve` makes the same
application (`newsletter.web.application.make_app`) for the project it is given.
"""

from __future__ import annotations

from newsletter.web.application import environment_app

app = environment_app()

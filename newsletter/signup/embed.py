"""The sign-up form a publisher pastes into their own site (`newsletter form`).

Plain HTML: no script, no style sheet, nothing loaded from elsewhere, so it works in any site
builder and under any Content-Security-Policy (the honeypot is `hidden`, not hidden by a style a
strict policy would block). It posts across origins to `serve`, which a form may
do without CORS. Without the proof-of-work widget it is held to the stricter limit per network
(`[signup] per_ip_per_hour_without_script`); the hosted page has the widget.
"""

from __future__ import annotations

from html import escape

from newsletter.project.settings import Settings
from newsletter.signup.forms import FORM_NAME

LABELS = {
    "nl": (
        "E-mailadres",
        "Naam (niet verplicht)",
        "Waarover wil je lezen?",
        "Laat dit veld leeg",
        "Aanmelden",
    ),
    "en": (
        "Email address",
        "Name (optional)",
        "What would you like to read about?",
        "Leave this field empty",
        "Sign up",
    ),
}


def form_snippet(settings: Settings, locale: str, *, name: str, consent: str, redirect: str | None) -> str:
    """The form's HTML. `name` is kept with each consent ("form:<name>"), `redirect` is where the
    reader goes after posting (a page of site_url)."""
    if settings.signup is None:
        raise ValueError("no [signup] settings")
    if not FORM_NAME.fullmatch(name):
        raise ValueError("a form name is 1-40 lower-case letters, digits or '-'")
    email, your_name, topics, honeypot, submit = LABELS[locale]
    prefix = f"{name}-{locale}-signup"  # the forms of two languages or sites on one page: ids apart
    action = f"{settings.signup.url.rstrip('/')}/{locale}"
    lines = [
        f'<form method="post" action="{escape(action)}" class="newsletter-signup">',
        f'  <input type="hidden" name="form" value="{escape(name)}">',
        f'  <input type="hidden" name="locale" value="{locale}">',
    ]
    if redirect:
        lines.append(f'  <input type="hidden" name="redirect" value="{escape(redirect)}">')
    lines += [
        f'  <label for="{prefix}-email">{email}</label>',
        f'  <input type="email" id="{prefix}-email" name="email" autocomplete="email" required>',
        f'  <label for="{prefix}-name">{your_name}</label>',
        f'  <input type="text" id="{prefix}-name" name="name" autocomplete="name" maxlength="100">',
    ]
    if settings.topics:
        lines.append(f"  <fieldset><legend>{topics}</legend>")
        for topic in settings.topics:
            ident = f"{prefix}-topic-{topic.key}"
            lines.append(
                f'    <input type="checkbox" id="{ident}" name="topics" value="{topic.key}">'
                f' <label for="{ident}">{escape(topic.label(locale))}</label><br>'
            )
        lines.append("  </fieldset>")
    lines += [
        '  <div hidden aria-hidden="true" style="position:absolute;left:-10000px">',
        f'    <label for="{prefix}-website">{honeypot}</label>',
        f'    <input type="text" id="{prefix}-website" name="website" tabindex="-1" autocomplete="off">',
        "  </div>",
        f"  <p>{escape(consent)}</p>",
        f'  <button type="submit">{submit}</button>',
        "</form>",
    ]
    return "\n".join(lines) + "\n"

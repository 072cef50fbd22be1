"""CSS that major email clients drop: the small table behind the `css-unsupported` check.

Each entry comes from caniemail.com (the data is the `_features/<slug>.md` files of
https://github.com/hteumeuleu/caniemail; the page is https://www.caniemail.com/features/<slug>/).
Only features that a template could plausibly use and that a client with a large share of readers
ignores entirely are listed: a warning must mean "this part of the design will be lost", not "this
client renders it slightly differently". MJML's own output (tables, `max-width`, `border-radius` on
buttons, media queries) degrades gracefully and is deliberately not listed.

To add a feature: read its caniemail page, write down the clients that show "not supported" and the
page's test date, and give the declaration pattern. The check matches `pattern` against each CSS
declaration, normalised to `property:value` (lower case, no spaces around the colon, `!important`
removed), in inline `style` attributes and in `<style>` blocks (not inside conditional comments).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    slug: str  # caniemail.com/features/<slug>/
    name: str  # as a template author knows it
    pattern: re.Pattern[str]  # matched (re.search) against one normalised declaration
    dropped_by: str  # the major clients that do not support it, per caniemail
    tested: str  # caniemail's last test date for the feature
    fix: str  # what to do instead, for the finding's message
    needs_background_colour: bool = False  # only a problem when no background colour is set beside it

    @property
    def source(self) -> str:
        return f"https://www.caniemail.com/features/{self.slug}/"


FEATURES: tuple[Feature, ...] = (
    Feature(
        slug="css-display-flex",
        name="display:flex",
        pattern=re.compile(r"^display:(inline-)?flex\b"),
        dropped_by="Outlook for Windows (2007-2019) and Windows Mail",
        tested="2020-11-12",
        fix="lay out columns with mj-section/mj-column (tables)",
    ),
    Feature(
        slug="css-display-grid",
        name="display:grid",
        pattern=re.compile(r"^display:(inline-)?grid\b"),
        dropped_by="Gmail (web and apps), Outlook for Windows, Outlook for iOS and Android, Yahoo and AOL",
        tested="2019-02-28",
        fix="lay out columns with mj-section/mj-column (tables)",
    ),
    Feature(
        slug="css-position",
        name="position",
        pattern=re.compile(r"^position:(relative|absolute|fixed|sticky)\b"),
        dropped_by="Gmail (web and apps), Outlook for Windows and Outlook for iOS",
        tested="2021-05-16",
        fix="place elements in the normal flow of tables instead",
    ),
    Feature(
        slug="css-variables",
        name="CSS variables (var())",
        pattern=re.compile(r"^--|var\("),
        dropped_by="Gmail, Outlook (Windows, Outlook.com, iOS, Android), Yahoo and AOL",
        tested="2020-02-25",
        fix="write the value itself; templates can use a Jinja variable instead",
    ),
    Feature(
        slug="css-background-image",
        name="background-image",
        pattern=re.compile(r"^background(-image)?:.*url\("),
        dropped_by="Outlook for Windows (2007-2019) and Windows Mail",
        tested="2019-02-28",
        fix="nothing here sets a background-color to fall back on, so add one that keeps the text readable",
        needs_background_colour=True,
    ),
)

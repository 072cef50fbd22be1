"""`newsletter build` writes the static site: web versions of the published campaigns, and per locale
an archive page and an Atom feed, under build/site/ as the URLs in the settings lay it out."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from newsletter.pipeline import read_build_record
from newsletter.site import pages
from newsletter.site import writer as site_module
from tests.conftest import LOCKED, Run, write, write_lock
from tests.smtp_fake import FakeSMTP, configure

NL, EN = "2026-12-schrijven", "2026-12-paper"
ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def site(project: Path) -> Path:
    return project / "build" / "site"


def web_version(project: Path, campaign: str) -> Path:
    return site(project) / "nieuwsbrief" / campaign / "index.html"


def archive(project: Path, locale: str = "nl") -> str:
    folder = site(project) / "nieuwsbrief" / ("" if locale == "nl" else locale)
    return (folder / "index.html").read_text(encoding="utf-8")


def feed(project: Path, locale: str = "nl") -> ET.Element:
    folder = site(project) / "nieuwsbrief" / ("" if locale == "nl" else locale)
    return ET.parse(folder / "feed.xml").getroot()


def files(project: Path) -> list[str]:
    return sorted(
        path.relative_to(site(project)).as_posix() for path in site(project).rglob("*") if path.is_file()
    )


def add(project: Path, campaign: str, yaml: str) -> Path:
    path = project / "campaigns" / f"{campaign}.yaml"
    path.write_text(path.read_text(encoding="utf-8") + yaml, encoding="utf-8")
    return path


def dated(path: Path, day: str) -> None:
    """A campaign file last changed at noon UTC on `day`: the date of a campaign published unsent."""
    moment = int(datetime.fromisoformat(f"{day}T12:00:00+00:00").timestamp())
    os.utime(path, (moment, moment))


def build(run: Run, *args: str) -> str:
    result = run("build", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_campaigns_never_sent_are_not_on_the_site(project: Path, run: Run) -> None:
    out = build(run)
    assert out.splitlines()[-1] == "site: 0 web versions, 1 archive, 1 feed in build/site/"
    assert files(project) == ["nieuwsbrief/feed.xml", "nieuwsbrief/index.html"]
    assert "Er zijn nog geen nieuwsbrieven verschenen." in archive(project)
    assert feed(project).findall(f"{ATOM}entry") == []


def test_publish_true_puts_the_built_email_on_the_site(project: Path, run: Run) -> None:
    add(project, NL, "publish: true\n")
    out = build(run)
    assert "site: 1 web version, 1 archive, 1 feed in build/site/" in out
    built = (project / "build" / NL / "email.html").read_bytes()
    assert web_version(project, NL).read_bytes() == pages.web_version(
        built, "De kunst van het weglaten – en een boek dat je erbij helpt"
    )
    assert 'href="https://www.uitgeverijlindenhof.nl/nieuwsbrief/2026-12-schrijven"' in archive(project)
    assert not (site(project) / "nieuwsbrief" / EN).exists()


def test_publish_must_be_true_or_false(project: Path, run: Run) -> None:
    add(project, NL, "publish: misschien\n")
    result = run("build")
    assert result.exit_code == 2
    assert "publish: must be true or false" in result.stderr
    assert "site: not updated" in result.stderr


def send_for_real(project: Path, run: Run, monkeypatch: pytest.MonkeyPatch, smtp: FakeSMTP) -> None:
    """A real send over SMTP to two Dutch readers (forced: a test-mode Payment Link blocks a real send)."""
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", "a-test-secret-of-enough-length")
    monkeypatch.delenv("NEWSLETTER_SMTP_PASSWORD", raising=False)
    result = run("send", NL, "--yes", "--force")
    assert result.exit_code == 0, result.output
    assert len(smtp.messages) == 2


def test_a_send_publishes_the_campaign_without_any_input_changing(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    readers = write(
        project / "readers.csv", "email,name,locale\nan@example.org,An,nl\nbo@example.org,Bo,nl\n"
    )
    assert run("audience", "import", str(readers), "--consent", "testlijst").exit_code == 0
    with FakeSMTP() as smtp:
        configure(project, smtp.port)
        first = build(run)
        assert "site: 0 web versions" in first
        record = read_build_record(project / "build")["campaigns"][NL]
        send_for_real(project, run, monkeypatch, smtp)
        sent = "\n".join(message.data.decode() for message in smtp.messages)
    again = build(run)
    assert again.splitlines()[:2] == first.splitlines()[:2]  # as before: nothing was rendered
    assert read_build_record(project / "build")["campaigns"][NL] == record
    assert "site: 1 web version, 1 archive, 1 feed in build/site/" in again
    page = web_version(project, NL).read_text(encoding="utf-8")
    assert "an@example.org" in sent and "bo@example.org" in sent and "token=" in sent  # personal ...
    for personal in ("an@example.org", "bo@example.org", "token=", "__merge_"):
        assert personal not in page  # ... the web version is not
    assert 'href="https://www.uitgeverijlindenhof.nl/nieuwsbrief/afmelden"' in page
    assert "Beste lezer," in page
    with sqlite3.connect(project / "audience.sqlite3") as db:
        (first_sent,) = db.execute("SELECT MIN(sent_at) FROM sends WHERE state = 'sent'").fetchone()
    assert f'<time datetime="{first_sent[:10]}">' in archive(project)  # the day of the first delivery
    (entry,) = feed(project).findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}updated") == first_sent


def test_the_web_version_has_the_plain_payment_link_for_no_one_in_particular(project: Path, run: Run) -> None:
    write_lock(project, LOCKED)
    add(project, NL, "publish: true\n")
    build(run)
    page = web_version(project, NL).read_text(encoding="utf-8")
    assert 'href="https://buy.stripe.com/test_abc123"' in page
    assert "prefilled_email" not in page and "client_reference_id" not in page and "__merge_" not in page


def test_the_archive_lists_the_newest_first_with_dates_as_the_locale_writes_them(
    project: Path, run: Run
) -> None:
    older = project / "campaigns" / "2026-11-oud.yaml"
    write(
        older, (project / "campaigns" / f"{NL}.yaml").read_text(encoding="utf-8").replace("De kunst", "Oud:")
    )
    add(project, "2026-11-oud", "publish: true\n")
    add(project, NL, "publish: true\n")
    dated(older, "2026-11-03")
    dated(project / "campaigns" / f"{NL}.yaml", "2026-12-01")
    build(run)
    page = archive(project)
    assert page.index(f"/nieuwsbrief/{NL}") < page.index("/nieuwsbrief/2026-11-oud")
    assert '<time datetime="2026-12-01">1 december 2026</time>' in page
    assert '<time datetime="2026-11-03">3 november 2026</time>' in page
    entries = feed(project).findall(f"{ATOM}entry")
    assert [entry.findtext(f"{ATOM}updated") for entry in entries] == [
        "2026-12-01T12:00:00Z",
        "2026-11-03T12:00:00Z",
    ]


def test_the_atom_feed_has_what_rfc_4287_requires(project: Path, run: Run) -> None:
    add(project, NL, "publish: true\n")
    dated(project / "campaigns" / f"{NL}.yaml", "2026-12-01")
    build(run)
    root = feed(project)
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}id") == "https://www.uitgeverijlindenhof.nl/nieuwsbrief/"
    assert root.findtext(f"{ATOM}title") == "Uitgeverij Lindenhof – Nieuwsbrief"
    assert root.findtext(f"{ATOM}updated") == "2026-12-01T12:00:00Z"
    assert root.findtext(f"{ATOM}author/{ATOM}name") == "Uitgeverij Lindenhof"
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links == {
        "self": "https://www.uitgeverijlindenhof.nl/nieuwsbrief/feed.xml",
        "alternate": "https://www.uitgeverijlindenhof.nl/nieuwsbrief/",
    }
    (entry,) = root.findall(f"{ATOM}entry")
    url = f"https://www.uitgeverijlindenhof.nl/nieuwsbrief/{NL}"
    assert entry.findtext(f"{ATOM}id") == url
    assert entry.findtext(f"{ATOM}title") == "De kunst van het weglaten – en een boek dat je erbij helpt"
    assert RFC3339.fullmatch(entry.findtext(f"{ATOM}updated") or "")
    link = entry.find(f"{ATOM}link")
    assert link is not None and link.get("href") == url
    assert entry.findtext(f"{ATOM}summary", "").startswith("Marieke de Wit over het rode potlood")


def test_each_locale_has_its_own_archive_and_feed(project: Path, run: Run) -> None:
    add(project, NL, "publish: true\n")
    add(project, EN, "publish: true\n")
    dated(project / "campaigns" / f"{EN}.yaml", "2026-12-02")
    out = build(run)
    assert "site: 2 web versions, 2 archives, 2 feeds in build/site/" in out
    assert files(project) == [
        f"nieuwsbrief/{EN}/index.html",
        f"nieuwsbrief/{NL}/index.html",
        "nieuwsbrief/en/feed.xml",
        "nieuwsbrief/en/index.html",
        "nieuwsbrief/feed.xml",
        "nieuwsbrief/index.html",
    ]
    dutch, english = archive(project), archive(project, "en")
    assert '<html lang="nl">' in dutch and NL in dutch and EN not in dutch
    assert '<html lang="en">' in english and EN in english and NL not in english
    assert "2 December 2026" in english and "Past newsletters" in english
    assert feed(project, "en").get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert feed(project, "en").findtext(f"{ATOM}id") == "https://www.uitgeverijlindenhof.nl/nieuwsbrief/en/"
    assert '<meta name="viewport"' in dutch and '<meta charset="utf-8">' in dutch
    assert not re.search(
        r"""(?:src|href)=["']?(?:https?:)?//(?!www\.uitgeverijlindenhof\.nl/nieuwsbrief/)""", dutch
    )


def test_hostile_campaign_text_is_escaped_in_the_archive_and_the_feed(project: Path, run: Run) -> None:
    path = project / "campaigns" / f"{NL}.yaml"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^subject: .*$", "subject: \"<script>alert('x')</script> & {first_name}\"", text)
    text = re.sub(
        r"(?m)^preheader: .*$", 'preheader: "<img src=x onerror=alert(1)> lees dit, het is lang genoeg"', text
    )
    write(path, text + "publish: true\n")
    build(run)
    page = archive(project)
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</a>" in page  # no merge field, no "& lezer"
    (entry,) = feed(project).findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "<script>alert('x')</script>"
    assert entry.findtext(f"{ATOM}summary") == "<img src=x onerror=alert(1)> lees dit, het is lang genoeg"


def test_a_campaign_no_longer_published_leaves_no_page_behind(project: Path, run: Run) -> None:
    path = add(project, NL, "publish: true\n")
    build(run)
    assert web_version(project, NL).is_file()
    write(site(project) / "stray.html", "left by hand")
    path.write_text(path.read_text(encoding="utf-8").replace("publish: true\n", ""), encoding="utf-8")
    build(run)
    assert files(project) == ["nieuwsbrief/feed.xml", "nieuwsbrief/index.html"]
    assert sorted(p.name for p in (project / "build").iterdir() if p.name.startswith(".site")) == []


def test_an_unchanged_rebuild_leaves_the_site_alone_and_mends_a_page_changed_by_hand(
    project: Path, run: Run
) -> None:
    add(project, NL, "publish: true\n")
    build(run)
    page = web_version(project, NL)
    before = page.stat()
    assert "site: 1 web version" in build(run)
    assert page.stat().st_ino == before.st_ino and page.stat().st_mtime_ns == before.st_mtime_ns
    page.write_text("defaced", encoding="utf-8")
    build(run)
    built = (project / "build" / NL / "email.html").read_bytes()
    assert page.read_bytes() == pages.web_version(
        built, "De kunst van het weglaten – en een boek dat je erbij helpt"
    )


def test_a_crash_while_writing_leaves_the_old_site_whole(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(project, NL, "publish: true\n")
    build(run)
    old = {name: (site(project) / name).read_bytes() for name in files(project)}
    add(project, EN, "publish: true\n")
    written: list[Path] = []

    def crash(path: Path, data: bytes) -> None:
        if written:
            raise OSError(28, "No space left on device")
        written.append(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    monkeypatch.setattr(site_module, "_write", crash)
    result = run("build")
    assert result.exit_code == 2 and "cannot write the site: No space left on device" in result.stderr
    assert {name: (site(project) / name).read_bytes() for name in files(project)} == old
    assert [p.name for p in (project / "build").iterdir() if p.name.startswith(".site.new")] == []
    monkeypatch.undo()
    assert "site: 2 web versions" in build(run)


def test_a_build_stopped_between_the_two_renames_gets_its_site_back(project: Path, run: Run) -> None:
    add(project, NL, "publish: true\n")
    build(run)
    os.replace(site(project), project / "build" / ".site.old")  # where the swap had put it
    assert "site: 1 web version" in build(run)
    assert web_version(project, NL).is_file() and not (project / "build" / ".site.old").exists()


def test_a_web_version_url_ending_in_html_puts_pages_there(project: Path, run: Run) -> None:
    settings = project / "newsletter.toml"
    text = settings.read_text(encoding="utf-8").replace("/nieuwsbrief/{campaign}", "/archief/{campaign}.html")
    settings.write_text(text, encoding="utf-8")
    add(project, NL, "publish: true\n")
    build(run)
    assert files(project) == [f"archief/{NL}.html", "archief/feed.xml", "archief/index.html"]


def test_a_web_version_url_without_the_campaign_in_its_path_is_an_error(project: Path, run: Run) -> None:
    settings = project / "newsletter.toml"
    text = settings.read_text(encoding="utf-8").replace(
        "/nieuwsbrief/{campaign}", "/nieuwsbrief?id={campaign}"
    )
    settings.write_text(text, encoding="utf-8")
    result = run("build")
    assert result.exit_code == 2
    assert "newsletter.toml: web_version_url: has no {campaign} in the last part of its path" in result.stderr


def test_a_campaign_named_like_a_locale_archive_is_an_error(project: Path, run: Run) -> None:
    write(
        project / "campaigns" / "en.yaml", (project / "campaigns" / f"{EN}.yaml").read_text(encoding="utf-8")
    )
    add(project, "en", "publish: true\n")
    result = run("build")
    assert (
        result.exit_code == 2
        and "two pages of the static site would be nieuwsbrief/en/index.html" in result.stderr
    )


def test_building_one_campaign_while_another_is_broken_keeps_the_site_and_warns(
    project: Path, run: Run
) -> None:
    add(project, NL, "publish: true\n")
    build(run)
    add(project, EN, "subjct: typo\n")
    result = run("build", NL, "--force")
    assert result.exit_code == 0, result.output
    assert "site: not updated: 1 problem in other campaigns (run newsletter build)" in result.stdout
    assert web_version(project, NL).is_file()


def test_an_unchanged_rebuild_after_an_edit_the_site_does_not_show_imports_nothing_heavy(
    project: Path, run: Run
) -> None:
    add(project, NL, "publish: true\n")
    build(run)
    add(project, NL, "# a note to the editors\n")
    build(run)
    code = (
        "import sys\nfrom newsletter.cli import main\n"
        f"main(['--project', {str(project)!r}, 'build'], standalone_mode=False)\n"
        "heavy = {'pydantic', 'jinja2', 'yaml', 'babel', 'mjml', 'premailer'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-2:] == ["site: 1 web version, 1 archive, 1 feed in build/site/", "[]"]


def test_public_pages_show_no_merge_field_nor_its_fallback(project: Path, run: Run) -> None:
    """A personal subject ("{first_name}, ...") reads "lezer, ..." for no one in particular: the
    archive, the feed and the web version's <title> say the campaign's public title instead."""
    path = project / "campaigns" / f"{NL}.yaml"
    text = re.sub(r"(?m)^subject: .*$", 'subject: "{first_name}, schrappen is een kunst"', path.read_text())
    write(path, text + "publish: true\n")
    build(run)
    assert "<title>Schrappen is een kunst</title>" in web_version(project, NL).read_text(encoding="utf-8")
    assert ">Schrappen is een kunst</a>" in archive(project)
    (entry,) = feed(project).findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "Schrappen is een kunst"
    write(path, path.read_text(encoding="utf-8") + "title: De kunst van het schrappen\n")
    build(run)
    assert "<title>De kunst van het schrappen</title>" in web_version(project, NL).read_text(encoding="utf-8")
    assert "lezer" not in archive(project)


def test_the_web_version_has_a_main_landmark_and_a_visually_hidden_h1_the_email_neither(
    project: Path, run: Run
) -> None:
    """A page of the site needs a main landmark and a top heading; the email has neither and goes to
    inboxes unchanged. The heading is the public title, hidden from sight so that the page still
    looks exactly like the email; nothing else of the email changes."""
    add(project, NL, "publish: true\n")
    build(run)
    page = web_version(project, NL).read_text(encoding="utf-8")
    email = (project / "build" / NL / "email.html").read_text(encoding="utf-8")
    found = re.search(
        r'(<body[^>]*>)<main><h1 style="([^"]*)">([^<]*)</h1>(.*)</main></body>', page, re.DOTALL
    )
    assert found, page[:3000]
    body, style, heading, content = found.groups()
    assert heading == "De kunst van het weglaten – en een boek dat je erbij helpt"
    hidden = {"position:absolute", "width:1px", "height:1px", "overflow:hidden", "clip:rect(0 0 0 0)"}
    assert hidden <= set(style.split(";"))
    assert page.count("<main") == 1 and page.count("<h1") == 1
    assert "<main" not in email and "<h1" not in email
    assert page.replace(found.group(0), body + content + "</body>") == email


def test_the_web_version_names_its_article_and_heading_by_the_public_title(project: Path, run: Run) -> None:
    path = project / "campaigns" / f"{NL}.yaml"
    text = re.sub(r"(?m)^subject: .*$", 'subject: "{first_name}, schrappen & <schrijven>"', path.read_text())
    write(path, text + "publish: true\n")
    build(run)
    page = web_version(project, NL).read_text(encoding="utf-8")
    assert re.search(r'<h1 style="[^"]*">Schrappen &amp; &lt;schrijven&gt;</h1>', page)
    assert re.search(r'<div aria-label="Schrappen &amp; &lt;schrijven&gt;"[^>]*role="article"', page)
    assert "lezer, schrappen" not in page  # the subject as no one in particular would have it


@pytest.mark.parametrize(
    ("line", "public"),
    [
        ('title: "Over {{accolades}} en }}"', "Over {accolades} en }"),
        ('subject: "{first_name}!"', NL),
        ('subject: "{first_name}, — {{x}} leest"', "{x} leest"),
    ],
)
def test_a_public_title_writes_braces_once_and_is_never_only_punctuation(
    project: Path, run: Run, line: str, public: str
) -> None:
    """`{{` is a literal brace in a title as in the subject, and a subject that is only its merge
    field and punctuation leaves no title: the pages say the campaign's id rather than "!"."""
    path = project / "campaigns" / f"{NL}.yaml"
    key = line.partition(":")[0]
    text = re.sub(rf"(?m)^{key}: .*$", "", path.read_text(encoding="utf-8"))
    write(path, text + f"{line}\npublish: true\n")
    build(run)
    assert f"<title>{public}</title>" in web_version(project, NL).read_text(encoding="utf-8")
    (entry,) = feed(project).findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == public

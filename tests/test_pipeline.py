"""A rebuild whose inputs did not change renders nothing, and anything that can change the output does.

Through the CLI as a user runs it: the first `newsletter build` writes the record `build/.build.json`
(what each campaign, the gallery and the site were made from); the next one finds every input and
output as it was, prints the same lines and leaves every file alone (same inode: `atomic_write` would
have replaced it). Each kind of input is then changed in turn, and each must render the campaign
again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from newsletter import pipeline
from newsletter.build import build
from newsletter.files import atomic_write
from newsletter.payments.lock import LOCK_FILE
from newsletter.pipeline import RECORD
from newsletter.project.campaign import campaign_files
from newsletter.project.models import Campaign
from newsletter.project.settings import SETTINGS_FILE, find_project_root, open_project
from newsletter.render.renderer import Rendered, Renderer
from tests.conftest import LOCKED, Run, write, write_lock

SCHRIJVEN, PAPER = "2026-12-schrijven", "2026-12-paper"
FILES = ("email.html", "email.txt", "meta.json", "preview.html")


def identity(project: Path, campaign_id: str) -> dict[str, tuple[int, int]]:
    """Inode and modification time of each output: a rewrite (a rename over the file) changes both."""
    out = project / "build" / campaign_id
    return {name: (os.stat(out / name).st_ino, os.stat(out / name).st_mtime_ns) for name in FILES}


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the campaigns rendered from now on."""
    seen: list[str] = []
    original = Renderer.render

    def spy(self: Renderer, campaign: Campaign) -> Rendered:
        seen.append(campaign.id)
        return original(self, campaign)

    monkeypatch.setattr(Renderer, "render", spy)
    return seen


@pytest.fixture
def built(project: Path, run: Run) -> Iterator[str]:
    """The sample project built once; yields what that build printed."""
    first = run("build")
    assert first.exit_code == 0, first.output
    yield first.stdout


def test_an_unchanged_rebuild_renders_nothing_and_prints_the_same(
    project: Path, run: Run, built: str, renders: list[str]
) -> None:
    before = {key: identity(project, key) for key in (SCHRIJVEN, PAPER)}
    index = os.stat(project / "build" / "index.html")
    again = run("build")
    assert again.exit_code == 0, again.output
    assert again.stdout == built
    assert renders == []
    assert {key: identity(project, key) for key in (SCHRIJVEN, PAPER)} == before
    assert os.stat(project / "build" / "index.html").st_ino == index.st_ino
    assert sorted(p.name for p in (project / "build" / SCHRIJVEN).iterdir()) == sorted(FILES)
    assert (project / "build" / RECORD).is_file()


def test_force_renders_anyway(project: Path, run: Run, built: str, renders: list[str]) -> None:
    assert run("build", "--force").stdout == built
    assert sorted(renders) == [PAPER, SCHRIJVEN]


def test_the_stored_warnings_are_printed_again(project: Path, run: Run, renders: list[str]) -> None:
    write_lock(project, LOCKED)  # a project that sells through Stripe: a shop fallback is a warning
    first = run("build", PAPER)
    assert first.exit_code == 0, first.output
    assert "  1 warning, " in first.stdout and "  warning: book-1" in first.stdout
    again = run("build", PAPER)
    assert again.stdout == first.stdout
    assert renders == [PAPER]


def _append(path: str, text: str) -> Callable[[Path], object]:
    return lambda project: write(project / path, (project / path).read_text(encoding="utf-8") + text)


EDITS: dict[str, Callable[[Path], object]] = {
    "campaign": _append(f"campaigns/{SCHRIJVEN}.yaml", "# edited\n"),
    "column": _append("columns/de-kunst-van-het-weglaten.txt", "\n"),
    "template": _append("templates/partials/book.mjml.j2", "\n"),
    "settings": _append(SETTINGS_FILE, "# edited\n"),
    "book": _append("books/schrijven-is-schrappen.yaml", "# edited\n"),
    "authors": _append("authors.yaml", "# edited\n"),
    "lock": lambda project: write_lock(project, LOCKED),
    "new template": lambda project: write(project / "templates" / "other.mjml.j2", "<mjml></mjml>\n"),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_every_input_is_in_the_hash(
    project: Path, run: Run, renders: list[str], edit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("build", SCHRIJVEN).exit_code == 0
    before = identity(project, SCHRIJVEN)
    EDITS[edit](project)
    again = run("build", SCHRIJVEN)
    assert again.exit_code == 0, again.output
    assert renders == [SCHRIJVEN, SCHRIJVEN]
    now = identity(project, SCHRIJVEN)
    assert all(now[name] != before[name] for name in FILES)
    if edit == "lock":
        assert str(LOCKED["url"]) in (project / "build" / SCHRIJVEN / "email.html").read_text(
            encoding="utf-8"
        )
    assert run("build", SCHRIJVEN).exit_code == 0
    assert renders == [SCHRIJVEN, SCHRIJVEN], "and once built, it is unchanged again"


def test_a_new_version_of_the_tool_renders_again(
    project: Path, run: Run, built: str, renders: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "tool_identity", lambda: "another version")
    assert run("build").stdout == built
    assert sorted(renders) == [PAPER, SCHRIJVEN]


def test_strict_is_in_the_hash(project: Path, run: Run, built: str, renders: list[str]) -> None:
    assert run("build", "--strict").exit_code == 0
    assert sorted(renders) == [PAPER, SCHRIJVEN]
    assert run("build", "--strict").exit_code == 0
    assert sorted(renders) == [PAPER, SCHRIJVEN]


def test_only_the_campaigns_that_use_a_changed_book_render(
    project: Path, run: Run, built: str, renders: list[str]
) -> None:
    schrijven = identity(project, SCHRIJVEN)
    _append("books/the-quiet-page.yaml", "# edited\n")(project)
    again = run("build")
    assert again.stdout == built
    assert renders == [PAPER]
    assert identity(project, SCHRIJVEN) == schrijven


def test_a_changed_campaign_renders_alone_and_the_gallery_follows(
    project: Path, run: Run, built: str, renders: list[str]
) -> None:
    schrijven = identity(project, SCHRIJVEN)
    campaign = project / "campaigns" / f"{PAPER}.yaml"
    campaign.write_text(
        campaign.read_text(encoding="utf-8").replace("Why we still read on paper", "Paper, still"),
        encoding="utf-8",
    )
    again = run("build")
    assert again.exit_code == 0, again.output
    assert renders == [PAPER]
    assert identity(project, SCHRIJVEN) == schrijven
    lines = again.stdout.splitlines()
    assert lines[0].startswith(f"{PAPER}  'Paper, still'") and lines[1] == built.splitlines()[1]
    assert "Paper, still" in (project / "build" / "index.html").read_text(encoding="utf-8")
    assert run("build").stdout == again.stdout
    assert renders == [PAPER]


@pytest.mark.parametrize("output", [*FILES, "../index.html", f"../{RECORD}"])
def test_a_missing_output_renders_again(
    project: Path, run: Run, built: str, renders: list[str], output: str
) -> None:
    (project / "build" / SCHRIJVEN / output).unlink()
    again = run("build", SCHRIJVEN)
    assert again.exit_code == 0, again.output
    assert renders == [SCHRIJVEN]
    assert (project / "build" / SCHRIJVEN / output).is_file()


def test_an_output_edited_by_hand_is_rendered_again(
    project: Path, run: Run, built: str, renders: list[str]
) -> None:
    email = project / "build" / SCHRIJVEN / "email.html"
    email.write_text(email.read_text(encoding="utf-8") + "<!-- mine -->", encoding="utf-8")
    assert run("build", SCHRIJVEN).exit_code == 0
    assert renders == [SCHRIJVEN]
    assert "<!-- mine -->" not in email.read_text(encoding="utf-8")


ENTRY_CORRUPTIONS: dict[str, Callable[[dict[str, Any]], object]] = {
    "another key": lambda entry: entry | {"inputs": "0" + entry["inputs"]},
    "a wrong type": lambda entry: entry | {"html_bytes": "x"},
    "a field missing": lambda entry: {k: v for k, v in entry.items() if k != "books"},
    "a list": lambda entry: [],
}
RECORD_CORRUPTIONS: dict[str, Callable[[str], str]] = {
    "not JSON": lambda text: text[: len(text) // 2],
    "empty": lambda text: "",
    "another format": lambda text: text.replace('"format": 2', '"format": 99'),
    "a list": lambda text: "[]",
    "campaigns not a mapping": lambda text: json.dumps(json.loads(text) | {"campaigns": []}),
}


@pytest.mark.parametrize("corruption", sorted(ENTRY_CORRUPTIONS))
def test_a_corrupted_campaign_record_renders_that_campaign_again(
    project: Path, run: Run, built: str, renders: list[str], corruption: str
) -> None:
    record = project / "build" / RECORD
    data = json.loads(record.read_text(encoding="utf-8"))
    data["campaigns"][SCHRIJVEN] = ENTRY_CORRUPTIONS[corruption](data["campaigns"][SCHRIJVEN])
    record.write_text(json.dumps(data), encoding="utf-8")
    again = run("build")
    assert again.exit_code == 0, again.output
    assert again.stdout == built
    assert renders == [SCHRIJVEN]
    stored = pipeline.read_build_record(record.parent)["campaigns"][SCHRIJVEN]
    assert pipeline.Record.read(stored, FILES) is not None


@pytest.mark.parametrize("corruption", sorted(RECORD_CORRUPTIONS))
def test_a_corrupted_record_renders_everything(
    project: Path, run: Run, built: str, renders: list[str], corruption: str
) -> None:
    record = project / "build" / RECORD
    record.write_text(RECORD_CORRUPTIONS[corruption](record.read_text(encoding="utf-8")), encoding="utf-8")
    assert run("build").stdout == built
    assert sorted(renders) == [PAPER, SCHRIJVEN]
    assert set(pipeline.read_build_record(record.parent)["campaigns"]) == {PAPER, SCHRIJVEN}


def test_a_corrupted_gallery_record_renders_everything(
    project: Path, run: Run, built: str, renders: list[str]
) -> None:
    record = project / "build" / RECORD
    data = json.loads(record.read_text(encoding="utf-8"))
    record.write_text(json.dumps(data | {"gallery": {"index": 1}}), encoding="utf-8")
    assert run("build").stdout == built
    assert sorted(renders) == [PAPER, SCHRIJVEN]


def test_a_build_that_died_half_way_is_not_taken_for_done(
    project: Path, run: Run, built: str, renders: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _append(f"campaigns/{SCHRIJVEN}.yaml", "# edited\n")(project)

    class Died(Exception):
        pass

    def dies_at_the_text_part(path: Path, data: str | bytes, mode: int = 0o644) -> None:
        if path.name == "email.txt":
            raise Died
        atomic_write(path, data, mode)

    monkeypatch.setattr(pipeline, "atomic_write", dies_at_the_text_part)
    with pytest.raises(Died):
        run("build", SCHRIJVEN)
    monkeypatch.setattr(pipeline, "atomic_write", atomic_write)
    assert SCHRIJVEN not in pipeline.read_build_record(project / "build")["campaigns"]
    assert run("build", SCHRIJVEN).exit_code == 0
    assert renders == [SCHRIJVEN, SCHRIJVEN]


def test_a_deleted_campaign_leaves_the_gallery(
    project: Path, run: Run, built: str, renders: list[str]
) -> None:
    (project / "campaigns" / f"{PAPER}.yaml").unlink()
    assert run("build").exit_code == 0
    assert renders == [SCHRIJVEN], "the gallery must lose the card, so the one left is built"
    assert f'"id": "{PAPER}"' not in (project / "build" / "index.html").read_text(encoding="utf-8")


def test_a_touched_campaign_gets_its_new_date_on_the_card(
    project: Path, run: Run, built: str, renders: list[str]
) -> None:
    campaign = project / "campaigns" / f"{SCHRIJVEN}.yaml"
    os.utime(campaign, (86400 * 400, 86400 * 400))  # 1971-02-05, whatever the time zone
    assert run("build").stdout == built
    assert renders == [SCHRIJVEN]
    assert '"date": "1971-02-0' in (project / "build" / "index.html").read_text(encoding="utf-8")


def test_problems_are_reported_as_before(project: Path, run: Run, built: str, renders: list[str]) -> None:
    missing = run("build", "no-such-campaign")
    assert missing.exit_code == 2 and "no campaign 'no-such-campaign'" in missing.stderr
    write(project / "campaigns" / f"{PAPER}.yml", "subject: twice\n")
    duplicate = run("build", SCHRIJVEN)
    assert duplicate.exit_code == 2 and "duplicate campaign id" in duplicate.stderr
    assert renders == [SCHRIJVEN], "built as before, beside the error: nothing is skipped then"


def test_the_preview_server_s_build_renders_what_changed(
    project: Path, built: str, renders: list[str]
) -> None:
    report = build(open_project(project), site=False)
    assert report.built == [] and [s.id for s in report.skipped] == [PAPER, SCHRIJVEN]
    _append("columns/why-we-still-read-on-paper.md", "\n")(project)
    report = build(open_project(project), site=False)
    assert [b.rendered.campaign.id for b in report.built] == [PAPER, SCHRIJVEN]  # columns count whole
    assert [entry.id if isinstance(entry, pipeline.Stored) else "built" for entry in report.entries()] == [
        "built",
        "built",
    ]


def test_an_unchanged_rebuild_imports_none_of_the_heavy_libraries(project: Path, built: str) -> None:
    code = (
        "import sys\nfrom newsletter.cli import main\n"
        f"try:\n    main(['--project', {str(project)!r}, 'build'], standalone_mode=False)\n"
        "finally:\n"
        "    heavy = {'premailer', 'pydantic', 'mjml', 'jinja2', 'yaml', 'babel', 'lxml', 'requests'}\n"
        "    print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [*built.splitlines(), "[]"]


# -- the pipeline's copies of the project's rules ------------------------------------------------


def test_the_layout_names_are_the_project_s(project: Path) -> None:
    opened = open_project(project)
    assert pipeline.SETTINGS_FILE == SETTINGS_FILE and pipeline.LOCK_FILE == LOCK_FILE
    assert project / pipeline.AUTHORS_FILE == opened.authors_file
    assert [project / name for name in (pipeline.CAMPAIGNS, pipeline.COLUMNS, pipeline.BOOKS)] == [
        opened.campaigns_dir,
        opened.columns_dir,
        opened.books_dir,
    ]
    assert project / pipeline.TEMPLATES == opened.templates_dir
    assert pipeline.find_root(project / "campaigns") == find_project_root(project / "campaigns")
    assert pipeline.find_root(project.parent) is None


@pytest.mark.parametrize(
    ("files", "ids"),
    [
        ((), ()),
        (("a.yaml", "b.yml", "a-b.yaml"), ()),
        (("a.yaml", "b.yml", "a-b.yaml"), ("b", "a", "b")),
        (("a.yaml", "a.yml"), ()),
        (("a.yaml",), ("c",)),
    ],
)
def test_campaign_paths_finds_what_campaign_files_finds(
    project: Path, files: tuple[str, ...], ids: tuple[str, ...]
) -> None:
    for path in (project / "campaigns").iterdir():
        path.unlink()
    for name in files:
        write(project / "campaigns" / name, "subject: x\n")
    wanted, errors = campaign_files(open_project(project), ids)
    found = pipeline.campaign_paths(project, ids)
    if errors:
        assert found is None
    else:
        assert found is not None and list(found[0].items()) == list(wanted.items())

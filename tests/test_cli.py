"""The command line as users type it: build output, --out, --strict, `python -m`, `new`, --help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from newsletter.project.validation import load_yaml
from tests.conftest import REPO, Run, write


def test_build_prints_one_line_per_campaign_and_writes_three_files(project: Path, run: Run) -> None:
    result = run("build")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and lines[2] == "site: 0 web versions, 1 archive, 1 feed in build/site/"
    assert lines[1].startswith(
        "2026-12-schrijven  'De kunst van het weglaten – en een boek dat je erbij helpt'  "
    )
    assert lines[1].endswith(" KB  0 warnings, checks: 0 errors, 0 warnings")
    for campaign_id in ("2026-12-schrijven", "2026-12-paper"):
        out = project / "build" / campaign_id
        assert sorted(p.name for p in out.iterdir()) == [
            "email.html",
            "email.txt",
            "meta.json",
            "preview.html",
        ]
        data = json.loads((out / "meta.json").read_text(encoding="utf-8"))
        assert data["id"] == campaign_id
        assert data["sizes"]["html_bytes"] == len((out / "email.html").read_bytes())
        assert {link["kind"] for link in data["links"]} >= {
            "site",
            "order-shop",
            "unsubscribe",
            "web-version",
        }


def test_build_named_campaign_into_another_folder(project: Path, run: Run, tmp_path: Path) -> None:
    result = run("build", "2026-12-paper", "--out", str(tmp_path / "elders"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "elders" / "2026-12-paper" / "email.html").exists()
    assert not (tmp_path / "elders" / "2026-12-schrijven").exists()
    assert not (project / "build").exists()


def test_strict_refuses_a_campaign_with_warnings(project: Path, run: Run) -> None:
    excerpt = " ".join(["Een zin die de nieuwsbrief heel erg lang maakt."] * 2500)
    write(
        project / "campaigns" / "lang.yaml",
        "subject: Lang\npreheader: Veel te lang voor Gmail\n"
        "teasers:\n  - column: de-kunst-van-het-weglaten.txt\n"
        f"    url: https://www.uitgeverijlindenhof.nl/a\n    excerpt: {excerpt}\nbooks: [the-quiet-page]\n",
    )
    relaxed = run("build", "lang")
    assert relaxed.exit_code == 0
    assert "1 warning" in relaxed.stdout and "Gmail clips" in relaxed.stdout
    (project / "build" / "lang" / "email.html").unlink()
    strict = run("build", "lang", "--strict")
    assert strict.exit_code == 1
    assert "not written (--strict)" in strict.stdout
    assert not (project / "build" / "lang" / "email.html").exists()


def test_failed_rebuild_keeps_the_previous_good_output(project: Path, run: Run) -> None:
    assert run("build").exit_code == 0
    before = (project / "build" / "2026-12-paper" / "email.html").read_text(encoding="utf-8")
    campaign = project / "campaigns" / "2026-12-paper.yaml"
    campaign.write_text(
        campaign.read_text(encoding="utf-8").replace("locale: en", "locale: xx"), encoding="utf-8"
    )
    assert run("build").exit_code == 2
    assert (project / "build" / "2026-12-paper" / "email.html").read_text(encoding="utf-8") == before
    assert not list((project / "build" / "2026-12-paper").glob(".*.tmp")), "no temporary files left behind"


def test_python_dash_m_works_like_the_command(project: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "--project", str(project), "build", "2026-12-paper"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2026-12-paper  'Why we still read on paper'")


def test_help_lists_the_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "--help"], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert "build" in result.stdout and "new" in result.stdout and "--project" in result.stdout


def test_help_does_not_import_the_heavy_libraries() -> None:
    code = (
        "import sys; from newsletter.cli import main\n"
        "heavy = {'premailer', 'pydantic', 'mjml', 'jinja2', 'yaml', 'babel'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_new_writes_a_campaign_that_builds(project: Path, run: Run) -> None:
    result = run(
        "new",
        "2027-01-papier",
        "--column",
        "columns/why-we-still-read-on-paper.md",
        "--book",
        "the-quiet-page",
        "--locale",
        "en",
    )
    assert result.exit_code == 0, result.output
    assert "wrote campaigns/2027-01-papier.yaml" in result.stdout
    data, _ = load_yaml(project / "campaigns" / "2027-01-papier.yaml")
    assert data == {
        "subject": "Why we still read on paper",
        "preheader": "Every few years someone announces the end of the printed book…",
        "locale": "en",
        "intro": "Dear {first_name},\n\nBelow is the new column by Thomas Verbeek.\n",
        "sign_off": "Kind regards,\n\nUitgeverij Lindenhof\n",
        "teasers": [{"column": "why-we-still-read-on-paper.md"}],
        "books": ["the-quiet-page"],
    }
    built = run("build", "2027-01-papier")
    assert built.exit_code == 0, built.output


def test_new_copies_a_column_from_outside_and_leaves_todos_that_fail_the_build(
    project: Path, run: Run, tmp_path: Path
) -> None:
    column = write(tmp_path / "elders.txt", "Een titel\n\nEen alinea over niets in het bijzonder.\n")
    result = run("new", "2027-02-x", "--column", str(column))
    assert result.exit_code == 0, result.output
    assert (project / "columns" / "elders.txt").exists()
    built = run("build", "2027-02-x")
    assert built.exit_code == 2
    assert "teasers[0].url: must be an absolute https:// URL (got 'TODO: the https:// address" in built.stderr


def test_new_refuses_existing_ids_unknown_books_and_bad_ids(project: Path, run: Run) -> None:
    column = "columns/why-we-still-read-on-paper.md"
    exists = run("new", "2026-12-paper", "--column", column)
    assert exists.exit_code == 2 and "a campaign with this id exists already" in exists.stderr
    book = run("new", "x", "--column", column, "--book", "the-quiet-pag")
    assert (
        book.exit_code == 2
        and "--book: unknown book 'the-quiet-pag' (did you mean 'the-quiet-page'?)" in book.stderr
    )
    bad = run("new", "Mijn Campagne", "--column", column)
    assert bad.exit_code == 2 and "'Mijn Campagne' cannot be a campaign id" in bad.stderr
    missing = run("new", "y", "--column", "columns/nope.md")
    assert missing.exit_code == 2 and "columns/nope.md: --column: column file not found" in missing.stderr
    assert sorted(p.name for p in (project / "campaigns").iterdir()) == [
        "2026-12-paper.yaml",
        "2026-12-schrijven.yaml",
    ]


def test_check_json_holds_the_errors_that_stopped_a_campaign(project: Path, run: Run) -> None:
    path = project / "campaigns" / "2026-12-paper.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("subject:", "subjct:", 1), encoding="utf-8")
    result = run("check", "--format", "json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert [c["id"] for c in document["campaigns"]] == ["2026-12-schrijven"]
    unknown = {
        "file": "campaigns/2026-12-paper.yaml",
        "line": 2,
        "field": "subjct",
        "message": "unknown key",
        "hint": "did you mean 'subject'?",
        "text": "campaigns/2026-12-paper.yaml:2: subjct: unknown key (did you mean 'subject'?)",
    }
    assert unknown in document["errors"] and len(document["errors"]) == 2


def test_a_current_folder_that_was_deleted_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    script = f"cd {gone} && rmdir {gone} && exec {sys.executable} -m newsletter build"
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 2, done.stderr
    assert "the current folder no longer exists" in done.stderr and "Traceback" not in done.stderr


def test_check_json_is_a_document_even_when_the_settings_are_broken(project: Path, run: Run) -> None:
    (project / "newsletter.toml").write_text("locale = \n", encoding="utf-8")
    result = run("check", "--format", "json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["campaigns"] == [] and document["errors"][0]["file"] == "newsletter.toml"
    assert "broken TOML" in document["errors"][0]["message"]


def test_build_lists_campaigns_in_natural_order(project: Path, run: Run) -> None:
    """An id before its extensions, and numbers as numbers: social, social-b, then issue 2 before 10."""
    source = (project / "campaigns" / "2026-12-paper.yaml").read_text(encoding="utf-8")
    for name in ("2027-01-social-b", "2027-01-social", "issue-10", "issue-2"):
        (project / "campaigns" / f"{name}.yaml").write_text(source, encoding="utf-8")
    result = run("build")
    assert result.exit_code == 0, result.output
    ids = [line.split()[0] for line in result.stdout.splitlines() if not line.startswith(("site:", " "))]
    assert ids == [
        "2026-12-paper",
        "2026-12-schrijven",
        "2027-01-social",
        "2027-01-social-b",
        "issue-2",
        "issue-10",
    ]

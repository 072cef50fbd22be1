"""Settings: `newsletter.toml` is validated like the campaigns, and found from any folder below it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter.cli import main
from newsletter.project.settings import open_project
from tests.conftest import Run


def edit_settings(project: Path, old: str, new: str) -> None:
    path = project / "newsletter.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "logo_width = 180",
            "logo_widht = 180",
            "newsletter.toml:12: brand.logo_widht: unknown key (did you mean 'logo_width'?)",
            id="unknown-key",
        ),
        pytest.param(
            'postal_address = "Lindengracht 214, 1015 KN Amsterdam"',
            "",
            "newsletter.toml:27: publisher.postal_address: is required",
            id="missing-postal-address",
        ),
        pytest.param(
            'primary = "#8c1c13"',
            'primary = "rood"',
            "newsletter.toml:15: colours.primary: must be a hex colour like #8c1c13 (got 'rood')",
            id="colour",
        ),
        pytest.param(
            'site_url = "https://',
            'site_url = "http://',
            "newsletter.toml:5: site_url: must be an absolute https:// URL",
            id="non-https",
        ),
        pytest.param(
            'address = "nieuwsbrief@uitgeverijlindenhof.nl"',
            'address = "nieuwsbrief"',
            "newsletter.toml:24: sender.address: must be an email address like",
            id="sender-address",
        ),
        pytest.param(
            'address = "nieuwsbrief@uitgeverijlindenhof.nl"',
            'address = "jörg@uitgeverijlindenhof.nl"',
            "newsletter.toml:24: sender.address: must be written in ASCII",
            id="sender-address-not-ascii",
        ),
        pytest.param(
            'locale = "nl"',
            'locale = "de"',
            "newsletter.toml:4: locale: input should be 'nl' or 'en'",
            id="locale",
        ),
        pytest.param("[brand]", "[brand", "newsletter.toml:9: broken TOML", id="broken-toml"),
        pytest.param(
            'name = "Uitgeverij Lindenhof"\nlogo_url',
            'name = "Lindenhof\\r\\nBcc: x@y.nl"\nlogo_url',
            "newsletter.toml:10: brand.name: must be a single line",
            id="header-injection",
        ),
        pytest.param(
            'name = "Uitgeverij Lindenhof"\nlogo_url',
            'name = "Uitgeverij \\u202eLindenhof"\nlogo_url',
            "newsletter.toml:10: brand.name: must not contain invisible formatting characters "
            "(found U+202E RIGHT-TO-LEFT OVERRIDE) (got 'Uitgeverij \\u202eLindenhof')",
            id="brand-name-format-character",
        ),
        pytest.param(
            'name = "Uitgeverij Lindenhof"\naddress',
            'name = "Uitgeverij\\u200bLindenhof"\naddress',
            "newsletter.toml:23: sender.name: must not contain invisible formatting characters "
            "(found U+200B ZERO WIDTH SPACE)",
            id="sender-name-format-character",
        ),
        pytest.param(
            'reply_to = "redactie@uitgeverijlindenhof.nl"',
            'reply_to = "redactie@uitgeverijlindenhof.nl"\nlist_id = "nieuwsbrief.lindenhof\\ufeff"',
            "newsletter.toml:26: sender.list_id: must not contain invisible formatting characters "
            "(found U+FEFF ZERO WIDTH NO-BREAK SPACE)",
            id="list-id-format-character",
        ),
    ],
)
def test_bad_settings_are_one_clear_message(
    project: Path, run: Run, old: str, new: str, expected: str
) -> None:
    edit_settings(project, old, new)
    result = run("build")
    assert result.exit_code == 2
    assert f"error: {expected}" in result.stderr
    assert "Traceback" not in result.output
    assert not (project / "build").exists()


def test_settings_that_are_not_utf8_are_an_error_at_the_line_of_the_bad_byte(project: Path, run: Run) -> None:
    path = project / "newsletter.toml"
    path.write_bytes(path.read_bytes().replace(b"\n\n", b"\n# caf\xe9 (Latin-1)\n", 1))
    result = run("build")
    assert result.exit_code == 2
    assert (
        "error: newsletter.toml:3: settings file is not UTF-8 text (save the file as UTF-8)" in result.stderr
    )
    assert "Traceback" not in result.output


def test_defaults_fill_in_what_the_settings_leave_out(project: Path) -> None:
    edit_settings(project, '[utm]\nsource = "nieuwsbrief"\nmedium = "email"\n', "")
    settings = open_project(project).settings
    assert (settings.utm.source, settings.utm.medium, settings.utm.enabled) == ("nieuwsbrief", "email", True)
    assert settings.web_version("x") == "https://www.uitgeverijlindenhof.nl/nieuwsbrief/x"


def test_project_is_found_from_a_folder_below_it(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project / "columns")
    result = CliRunner().invoke(main, ["build", "2026-12-paper"])
    assert result.exit_code == 0, result.output
    assert (project / "build" / "2026-12-paper" / "email.html").exists()


def test_outside_a_project_the_error_says_how_to_point_at_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 2
    assert "error: no newsletter.toml found in" in result.stderr
    assert "pass --project DIR" in result.stderr


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        pytest.param(
            '[smtp]\nhost = "smtp.example.nl"\nsecurity = "ssl"\n',
            "smtp.security: input should be 'starttls', 'tls' or 'none'",
            id="smtp-security",
        ),
        pytest.param(
            '[smtp]\nhost = "smtp.example.nl"\nport = 70000\n',
            "smtp.port: input should be less than or equal to 65535",
            id="smtp-port",
        ),
        pytest.param(
            '[smtp]\nhost = "smtp.example.nl"\nsecurity = "none"\nuser = "me"\n',
            'smtp: security = "none" would send the password unencrypted',
            id="smtp-password-in-clear",
        ),
        pytest.param(
            '[smtp]\nhost = "smtp.example.nl"\npassword = "geheim"\n',
            "smtp.password: unknown key",
            id="smtp-password-in-file",
        ),
        pytest.param(
            '[dkim]\ndomain = "uitgeverijlindenhof.nl"\nselector = "s1"\nkey_file = "missing.pem"\n',
            "missing.pem: dkim.key_file: cannot read the DKIM key: No such file or directory",
            id="dkim-key-missing",
        ),
    ],
)
def test_bad_sending_settings_are_one_clear_message(
    project: Path, run: Run, section: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", "a-test-secret-of-enough-length")
    path = project / "newsletter.toml"
    path.write_text(path.read_text(encoding="utf-8") + "\n" + section, encoding="utf-8")
    result = run("send", "2026-12-schrijven", "--dry-run")
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "geheim" not in result.output
    assert "Traceback" not in result.output

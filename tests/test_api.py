"""The Python API's own promises: where a project is found, that secrets are resolved once and never
shown, and that `import newsletter` costs nothing until a name is used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import newsletter
from newsletter.project.environment import Secrets

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("both_engines")


def test_open_project_finds_the_project_from_a_folder_inside_it(project: Path) -> None:
    opened = newsletter.open_project(project / "campaigns")
    assert opened.root == project and opened.settings.locale == "nl"
    assert repr(opened) == f"<Newsletter {project}>"


def test_open_project_outside_a_project_says_so(tmp_path: Path) -> None:
    with pytest.raises(newsletter.NewsletterError, match=r"no newsletter\.toml found"):
        newsletter.open_project(tmp_path)


def test_secrets_come_from_the_environment_by_default(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_SECRET", "  from-the-environment-1234 \n")
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_abc")
    opened = newsletter.open_project(project)
    assert opened.secrets.unsubscribe == "from-the-environment-1234"
    assert opened.secrets.stripe_api_key == "sk_test_abc"
    given = newsletter.open_project(project, secrets=Secrets(smtp_password="pw"))
    assert given.secrets == Secrets(smtp_password="pw"), "given secrets replace the environment's whole"


def test_a_secret_never_shows_in_a_repr(project: Path) -> None:
    secrets = Secrets(unsubscribe="unsubscribe-secret-value", smtp_password="smtp-password-value")
    opened = newsletter.open_project(project, secrets=secrets)
    for shown in (repr(secrets), repr(opened.project), str(opened.project)):
        assert "secret-value" not in shown and "password-value" not in shown
    assert repr(secrets) == "Secrets(set: unsubscribe, smtp_password)"
    assert repr(Secrets()) == "Secrets(set: none)"


def test_importing_the_package_imports_no_stage() -> None:
    code = (
        "import sys, newsletter\n"
        "print(sorted(m for m in sys.modules if m.startswith('newsletter.')))\n"
        "newsletter.Secrets\n"
        "print('newsletter.project.environment' in sys.modules, 'newsletter.api' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "True False"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        newsletter.nothing  # noqa: B018

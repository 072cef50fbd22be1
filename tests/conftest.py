"""Shared fixtures: a copy of the sample project in a temporary folder, and the CLI as a user runs it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from newsletter.cli import main

REPO = Path(__file__).resolve().parent.parent
PROJECT_PARTS = ["newsletter.toml", "authors.yaml", "books", "columns", "campaigns", "templates"]

Run = Callable[..., Result]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The repository's own sample project, copied so a test may break it."""
    return copy_sample(tmp_path / "project")


def copy_sample(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part)
        else:
            shutil.copy(source, root / part)
    return root


@pytest.fixture
def run(project: Path) -> Run:
    """`newsletter --project <copy> ARGS...`, through click's runner, like a user would type it."""

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, ["--project", str(project), *args], catch_exceptions=False)

    return invoke


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path

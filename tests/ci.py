"""Tests that need a tool pip cannot install (Chromium, SpamAssassin, PostgreSQL) skip without it,
except when CI is set: then they fail, so that CI cannot pass by skipping. `.ci/run` installs them."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def need(reason: str, package: str) -> NoReturn:
    """Skip for want of a tool, or fail in CI, naming the Debian package `.ci/run` installs."""
    if in_ci():
        pytest.fail(f"{reason}, and CI is set: install it (.ci/run installs Debian's {package})")
    pytest.skip(f"{reason} (with CI=true this fails instead)")

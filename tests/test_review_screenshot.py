"""Screenshots of a campaign's email at 600 and 375 px, in real headless Chromium.

Chromium is found by the fixture of tests/test_review_pages.py (and the test skips or fails the same way).
"""

from __future__ import annotations

import struct
from pathlib import Path

from tests.conftest import Run
from tests.test_review_pages import SAMPLE, fixture_chromium  # noqa: F401 - a fixture


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_screenshots_at_600_and_375_px(run: Run, chromium: str, tmp_path: Path) -> None:
    result = run("screenshot", SAMPLE, "--out", str(tmp_path / "shots"), "--chromium", chromium)
    assert result.exit_code == 0, result.output
    sizes = {path.name: png_size(path) for path in (tmp_path / "shots").iterdir()}
    assert sorted(sizes) == [f"{SAMPLE}-375.png", f"{SAMPLE}-600.png"]
    assert sizes[f"{SAMPLE}-600.png"][0] == 600
    assert sizes[f"{SAMPLE}-375.png"][0] == 375
    assert sizes[f"{SAMPLE}-375.png"][1] > sizes[f"{SAMPLE}-600.png"][1] > 800  # the whole email


def test_screenshot_without_chromium_says_what_to_do(run: Run, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-chromium"
    result = run("screenshot", SAMPLE, "--chromium", str(missing))
    assert result.exit_code == 2
    assert f"--chromium: no Chromium executable at {missing}" in result.stderr
    assert "apt-get install chromium" in result.stderr

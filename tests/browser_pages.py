"""Reports in a real browser: Debian's Chromium driven by the Python ``playwright`` package
(Playwright's own browser download is blocked here). Shared by the report tests; the
``browser`` fixture is in conftest.py."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

NO_CHROMIUM = "no Chromium found (chromium, chromium-browser or google-chrome on PATH)"


def find_chromium() -> str | None:
    return next((found for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
                 if (found := shutil.which(name))), None)


def cjk_font_installed() -> bool:
    fc_list = shutil.which("fc-list")
    return bool(fc_list and subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True,
                                           timeout=30).stdout.strip())


def launched_browser() -> Iterator[Any]:
    """A headless Chromium; the test skips without Chromium or playwright."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip(NO_CHROMIUM)
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium,
                                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield instance
        finally:
            instance.close()


@contextmanager
def opened(browser: Any, path: Path, width: int, height: int = 900) -> Iterator[Any]:
    """The report at ``path`` in a fresh page ``width`` px wide, charts drawn; no page errors."""
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(path.resolve().as_uri())
        page.wait_for_selector("svg.trend-chart")
        yield page
        assert errors == []
    finally:
        context.close()

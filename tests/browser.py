"""What every browser test needs: Playwright and Debian's Chromium (/usr/bin/chromium, which
scripts/setup.sh installs), with the flags it runs with here.

Without them a browser test skips on a developer's machine, but under `CI=true` it FAILS: a CI run
that quietly skipped every browser test would stay green while testing none of the pages' scripts.

    from tests.browser import CHROMIUM_ARGS, chromium_or_skip, playwright_or_skip

    sync_api = playwright_or_skip()  # at the top of the module

    @pytest.fixture(scope="module")
    def browser(django_db_setup, django_db_blocker):
        executable = chromium_or_skip()
        with sync_api.sync_playwright() as p:
            yield p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def browser_missing(reason: str) -> NoReturn:
    """Skip the test (or, at a module's top, the module), or fail it under CI=true."""
    if on_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests must run, not skip)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def playwright_or_skip() -> ModuleType:
    """playwright.sync_api, or a skip (a failure under CI=true) when Playwright is not installed."""
    try:
        from playwright import sync_api
    except ImportError:
        browser_missing("Playwright is not installed (pip install -e '.[dev]')")
    return sync_api


def chromium_or_skip(path: str = CHROMIUM) -> str:
    """The Chromium executable Playwright should launch, or a skip (a failure under CI=true) when
    Playwright or the browser is missing."""
    playwright_or_skip()
    if not Path(path).is_file() or not os.access(path, os.X_OK):
        browser_missing(f"Chromium is not installed at {path} (apt-get install chromium)")
    return path

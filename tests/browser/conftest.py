"""Fixtures for browser tests: the admin served by pytest-django's ``live_server``, driven by
Playwright in Debian's headless Chromium (``/usr/bin/chromium``, never a downloaded browser).

The tests commit their data (``transaction=True``): the live server's thread and the
``qcluster`` processes read the same test database (the role groups survive the flush
after each test: ``approvals.roles`` restores them on ``post_migrate``). Screenshots go to
``tests/screenshots/`` (ignored by git).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.campaigns.conftest import (  # noqa: F401  (fixtures and the hook that attaches qcluster logs)
    make_account,
    pytest_runtest_makereport,
    qcluster,
    template,
)
from tests.providers.conftest import start_emulator  # noqa: F401  (fixture)

CHROMIUM = os.environ.get("CRIER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "tests" / "screenshots"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser_context(django_db_setup) -> Iterator:
    """Return one Chromium context (fresh profile) per test module; skip without Chromium.

    Playwright's sync API runs an event loop in this thread for as long as the browser
    lives, and Django refuses ORM calls from a thread with a running loop; the calls the
    tests (and the database fixtures) make meanwhile are plain synchronous ones, so that
    check is lifted while the browser runs, and the browser closes with the module.
    """
    with chromium_context(locale="en-GB", timezone_id="UTC", prefix="crier-chromium-") as context:
        yield context


@contextlib.contextmanager
def chromium_context(*, locale: str, timezone_id: str, prefix: str) -> Iterator:
    """Debian's headless Chromium with a fresh profile and this locale and zone; skip (or,
    with CRIER_REQUIRE_BROWSER, fail) without it. Shared by tests/browser and tests/i18n."""
    if not shutil.which(CHROMIUM):
        missing = f"no Chromium at {CHROMIUM}: apt-get install chromium"
        if os.environ.get("CRIER_REQUIRE_BROWSER"):
            pytest.fail(missing)  # .ci/run: a browser test must never pass as skipped
        pytest.skip(missing)
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tempfile.mkdtemp(prefix=prefix)
    with pytest.MonkeyPatch.context() as patch, sync_api.sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1360, "height": 900},
            locale=locale,
            timezone_id=timezone_id,
        )
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


def new_tab(context) -> Iterator:
    """A new tab without cookies; a JavaScript error on any page fails the test."""
    context.clear_cookies()
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    tab.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def page(browser_context) -> Iterator:
    """Return a new tab without cookies; a JavaScript error on any page fails the test."""
    yield from new_tab(browser_context)


@pytest.fixture
def login(live_server) -> Callable:
    """Return ``login(page, username)``: sign in through the admin login form (password ``<name>-pw``)."""

    def sign_in(tab, username: str) -> None:
        # Leave the page first: a request it still makes (the campaign form's schedule and
        # audience-size fetches) would otherwise go out without the cleared cookies, be sent
        # to the login page, and set a new CSRF cookie under the login form just loaded
        # ("CSRF token from POST incorrect", seen once in CI).
        tab.goto("about:blank")
        tab.context.clear_cookies()
        tab.goto(f"{live_server.url}/admin/login/?next=/admin/")
        tab.fill("#id_username", username)
        tab.fill("#id_password", f"{username}-pw")
        tab.click("input[type=submit]")
        tab.wait_for_url(f"{live_server.url}/admin/")

    return sign_in


@pytest.fixture
def screenshot() -> Callable:
    """Return ``screenshot(page, name)``: save the whole page as tests/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(tab, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        return path

    return save

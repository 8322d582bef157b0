"""Browser fixtures for the zh-Hans tests of this folder: those of tests/browser (Chromium,
live server, login, screenshots), and ``zh_browser_context``, the same Chromium with the
locale ``zh-CN``. The locale is what sets Chromium's Accept-Language: Playwright's extra
HTTP headers do not replace that header in Debian's Chromium (measured: the request still
says en-GB), so a Chinese browser is a context of its own."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from tests.browser.conftest import (  # noqa: F401  (fixtures)
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    browser_context,
    login,
    page,
    screenshot,
)


@pytest.fixture(scope="module")
def zh_browser_context(django_db_setup) -> Iterator:
    """One Chromium context asking for zh-CN, per module (as tests/browser's browser_context)."""
    if not shutil.which(CHROMIUM):
        missing = f"no Chromium at {CHROMIUM}: apt-get install chromium"
        if os.environ.get("CRIER_REQUIRE_BROWSER"):
            pytest.fail(missing)
        pytest.skip(missing)
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tempfile.mkdtemp(prefix="crier-chromium-zh-")
    with pytest.MonkeyPatch.context() as patch, sync_api.sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1360, "height": 900},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def zh_page(zh_browser_context) -> Iterator:
    """A new tab of the Chinese browser; a JavaScript error on any page fails the test."""
    zh_browser_context.clear_cookies()
    tab = zh_browser_context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    tab.close()
    assert not errors, f"JavaScript errors: {errors}"

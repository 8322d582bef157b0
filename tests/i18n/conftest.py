"""Browser fixtures for the zh-Hans tests of this folder: those of tests/browser (Chromium,
live server, login, screenshots), and ``zh_browser_context``, the same Chromium with the
locale ``zh-CN``. The locale is what sets Chromium's Accept-Language: Playwright's extra
HTTP headers do not replace that header in Debian's Chromium (measured: the request still
says en-GB), so a Chinese browser is a context of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.conftest import (  # noqa: F401  (fixtures)
    browser_context,
    chromium_context,
    login,
    new_tab,
    page,
    screenshot,
)


@pytest.fixture(scope="module")
def zh_browser_context(django_db_setup) -> Iterator:
    """One Chromium context asking for zh-CN, per module (as tests/browser's browser_context)."""
    zh = {"locale": "zh-CN", "timezone_id": "Asia/Shanghai", "prefix": "crier-chromium-zh-"}
    with chromium_context(**zh) as context:
        yield context


@pytest.fixture
def zh_page(zh_browser_context) -> Iterator:
    """A new tab of the Chinese browser; a JavaScript error on any page fails the test."""
    yield from new_tab(zh_browser_context)

"""Fixtures for tests/config: the browser fixtures (Chromium on the live server) for the
login lockout's browser test."""

from tests.browser.conftest import browser_context, login, page, screenshot  # noqa: F401  (fixtures)

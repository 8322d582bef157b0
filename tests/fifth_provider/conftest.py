"""The fifth provider exists only while a test of this folder asks for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.registry import register
from tests.fifth_provider.provider import KIND


@pytest.fixture
def kestrel() -> Iterator[str]:
    """Register Kestrel push for the test; return its kind."""
    unregister = register(KIND, "tests.fifth_provider.provider.KestrelProvider")
    yield KIND
    unregister()

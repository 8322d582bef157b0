"""Fixtures for the hostile-input tests: the API tests' world and users, shared, not copied."""

from tests.api.conftest import fresh_throttles, superuser, world  # noqa: F401  (fixtures)

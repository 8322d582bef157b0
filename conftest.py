"""Root pytest configuration: shared fixtures live in tests/conftest.py."""

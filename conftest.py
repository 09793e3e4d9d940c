"""Root conftest: shared fixtures for every app's tests (settings pick PostgreSQL under pytest)."""

pytest_plugins = ["tests.fixtures"]

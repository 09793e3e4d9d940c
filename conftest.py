"""Root conftest: the test settings switch, set before Django reads its settings."""

import os

os.environ.setdefault("VMA_TESTING", "true")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vma")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")

pytest_plugins = ["tests.fixtures"]

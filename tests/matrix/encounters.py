"""Matrix entries for encounters (see tests/matrix/__init__.py)."""

from __future__ import annotations

from .base import Case, Entries  # noqa: F401

ENDPOINTS: Entries = {}
BODY_REFERENCES: dict[str, dict[str, list[str]]] = {}
ROUTER_ALIASES: dict[str, list[str]] = {}

"""Orders and the signing queue: REST endpoints. `register(router)` is called by vma/urls.py."""

from __future__ import annotations

from typing import Any


def register(router: Any) -> None:
    """Register this app's viewsets on the v1 router."""

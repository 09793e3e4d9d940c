"""What a matrix entry is: a request to send, built per (practice, user, own team?)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Case:
    method: str
    url: str
    data: Any = None
    json: bool = False


Builder = Callable[[Any, Any, bool], Case]
# name -> (permission required (None: any signed-in user), object-scoped?, builders)
Entries = dict[str, tuple[str | None, bool, list[Builder]]]

"""What a provider signs: the registry behind the one signing queue.

Orders (orders/), notes (encounters/) and refills (refills/) are signed in one batch from one page.
Each app registers a `SignableKind` in its AppConfig.ready(); the signing queue (orders/) lists
`pending_for(provider)` of every kind, grouped by patient, and hands the selected ids of each kind
back to that kind's `sign` or `send_back`.

The rules every kind keeps (tests check each):
- only a provider signs, only for patients of their care teams (guardian panel) and only what is
  pended for them; anything else answers as "not found" (no hint that it exists);
- exactly once: the row is locked (`select_for_update`) and its status checked under the lock, so
  two tabs or twenty clicks give one signature and the others a clear "already signed";
- the signature stores who, when and `content_hash` of exactly what was signed; the page posts the
  hash it showed, and an item that changed since (a different hash) is refused: it needs a new look;
- effects of signing run after commit (`transaction.on_commit` / the outbox), never inside the lock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

if TYPE_CHECKING:
    from patients.models import Patient

    from .models import User


def content_hash(payload: dict[str, Any]) -> str:
    """SHA-256 of a canonical JSON rendering (sorted keys, no whitespace, dates and decimals as str)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PendingSignature:
    """One line of the signing queue."""

    kind: str  # the registering kind's code: "order", "note", "refill"
    public_id: UUID
    patient: Patient
    title: str  # what it is: "Lipid panel", "Progress note 11/23", "Atorvastatin 20 mg refill"
    effect: str  # what signing will do: "Sent to the lab; result expected within 7 days"
    pended_by: str
    pended_at: datetime
    content_hash: str
    requires_second_factor: bool = False  # controlled-substance prescriptions
    detail: str = ""  # a second line (sig, diagnosis, protocol result)


@dataclass
class SignOutcome:
    kind: str
    public_id: UUID
    ok: bool
    message: str  # "Signed", "Already signed by Dr X at 10:02", "Changed since you reviewed it"


@dataclass
class BatchResult:
    outcomes: list[SignOutcome] = field(default_factory=list)

    @property
    def signed(self) -> list[SignOutcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def refused(self) -> list[SignOutcome]:
        return [o for o in self.outcomes if not o.ok]


class SignableKind(Protocol):
    code: str
    label: str  # plural, for the page: "Orders", "Notes", "Refills"

    def pending_for(self, provider: User) -> Sequence[PendingSignature]:
        """Everything awaiting this provider's signature, in a constant number of queries."""
        ...

    def sign(self, ids: Iterable[UUID], *, provider: User, hashes: dict[UUID, str]) -> list[SignOutcome]:
        """Sign each id (one outcome per id, in order). The second factor is checked by the caller."""
        ...

    def send_back(self, ids: Iterable[UUID], *, provider: User, comment: str) -> list[SignOutcome]:
        """Return each id to the VMA who pended it, with the provider's comment (a work item)."""
        ...


_KINDS: dict[str, SignableKind] = {}


def register_signable(kind: SignableKind) -> None:
    _KINDS[kind.code] = kind


def signable_kinds() -> list[SignableKind]:
    return list(_KINDS.values())


def signable_kind(code: str) -> SignableKind | None:
    return _KINDS.get(code)

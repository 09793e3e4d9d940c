"""Notes in the provider's one signing queue: the `note` SignableKind registered in EncountersConfig.ready()."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from vma.signing import PendingSignature, SignOutcome

from . import workflow
from .selectors import note_hash, pended_notes

if TYPE_CHECKING:
    from vma.models import User


class NoteSignable:
    code = workflow.KIND
    label = "Notes"

    def pending_for(self, provider: User) -> Sequence[PendingSignature]:
        """The provider's pended notes (two queries, whatever their number)."""
        out = []
        for enc in pended_notes(provider):
            diagnoses = list(enc.diagnoses.all())  # prefetched, in rank order
            codes = ", ".join(f"{d.code} {d.description}" for d in diagnoses[:3])
            more = f" (+{len(diagnoses) - 3})" if len(diagnoses) > 3 else ""
            out.append(
                PendingSignature(
                    kind=self.code,
                    public_id=enc.public_id,
                    patient=enc.patient,
                    title=f"Progress note {enc.date_of_service:%m/%d}: {enc.chief_complaint}"[:200],
                    effect="Locks the note (later changes become addenda); the after visit summary can then be sent.",
                    pended_by=str(enc.pended_by) if enc.pended_by else "",
                    pended_at=enc.pended_at or enc.updated_at,
                    content_hash=note_hash(enc, diagnoses),
                    detail=f"{codes}{more}",
                )
            )
        return out

    def sign(self, ids: Iterable[UUID], *, provider: User, hashes: dict[UUID, str]) -> list[SignOutcome]:
        return workflow.sign_notes(ids, provider=provider, hashes=hashes)

    def send_back(self, ids: Iterable[UUID], *, provider: User, comment: str) -> list[SignOutcome]:
        return workflow.send_back_notes(ids, provider=provider, comment=comment)

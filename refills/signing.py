"""Refills in the provider's one signing queue (vma.signing): what is pended, signing and sending back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from django.utils import timezone

from vma.access import panel_ids
from vma.exceptions import ActionRefused
from vma.signing import PendingSignature, SignOutcome

from . import workflow
from .models import RefillRequest

if TYPE_CHECKING:
    from vma.models import User

NOT_FOUND = "Not found."


def _effect(request: RefillRequest) -> str:
    supply = []
    if request.quantity:
        supply.append(f"#{request.quantity}")
    if request.days_supply:
        supply.append(f"{request.days_supply} days")
    supply.append(f"{request.refills or 0} refill{'s' if (request.refills or 0) != 1 else ''}")
    return f"Sent to {request.pharmacy} ({', '.join(supply)}); the patient is told"


class RefillSignable:
    """The `refill` kind: pended refill requests of the provider's own patients."""

    code = "refill"
    label = "Refills"

    def pending_for(self, provider: User) -> Sequence[PendingSignature]:
        """Pended refills awaiting this provider, in one query."""
        if not (provider.is_authenticated and provider.is_provider and provider.has_perm(workflow.SIGN_PERM)):
            return []
        rows = (
            RefillRequest.objects.filter(
                provider=provider,
                status=RefillRequest.Status.PENDED,
                patient__care_team_id__in=panel_ids(provider),
            )
            .select_related("patient", "provider", "pended_by")
            .order_by("due_at", "id")
        )
        return [
            PendingSignature(
                kind=self.code,
                public_id=r.public_id,
                patient=r.patient,
                title=f"{r.display_name} refill",
                effect=_effect(r),
                pended_by=str(r.pended_by) if r.pended_by else "Protocol check",
                pended_at=r.pended_at or r.received_at,
                content_hash=workflow.signing_hash(r),
                requires_second_factor=r.is_controlled,
                detail=" · ".join(p for p in (r.sig, r.pended_note) if p),
            )
            for r in rows
        ]

    def _each(self, ids: Iterable[UUID], provider: User) -> Iterable[tuple[UUID, RefillRequest | None]]:
        wanted = list(ids)
        found = {
            r.public_id: r
            for r in RefillRequest.objects.filter(
                public_id__in=wanted, provider=provider, patient__care_team_id__in=panel_ids(provider)
            ).select_related("patient", "provider")
        }
        for public_id in wanted:
            yield public_id, found.get(public_id)

    def sign(self, ids: Iterable[UUID], *, provider: User, hashes: dict[UUID, str]) -> list[SignOutcome]:
        """Sign each (own transaction each, row locked); the caller checked the second factor where required."""
        outcomes = []
        for public_id, request in self._each(ids, provider):
            if request is None:
                outcomes.append(SignOutcome(self.code, public_id, False, NOT_FOUND))
                continue
            try:
                signed = workflow.sign_refill(
                    request,
                    provider=provider,
                    content_hash=hashes.get(public_id, ""),
                    from_queue=True,
                    second_factor=True,
                )
            except ActionRefused as exc:
                outcomes.append(SignOutcome(self.code, public_id, False, exc.message))
                continue
            when = timezone.localtime(signed.signed_at) if signed.signed_at else None
            outcomes.append(SignOutcome(self.code, public_id, True, f"Signed at {when:%H:%M}" if when else "Signed"))
        return outcomes

    def send_back(self, ids: Iterable[UUID], *, provider: User, comment: str) -> list[SignOutcome]:
        outcomes = []
        for public_id, request in self._each(ids, provider):
            if request is None:
                outcomes.append(SignOutcome(self.code, public_id, False, NOT_FOUND))
                continue
            try:
                workflow.send_back(request, provider=provider, comment=comment)
            except ActionRefused as exc:
                outcomes.append(SignOutcome(self.code, public_id, False, exc.message))
                continue
            outcomes.append(SignOutcome(self.code, public_id, True, "Sent back to the VMAs"))
        return outcomes

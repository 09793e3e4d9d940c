"""Note states and transitions: the only code that sets Encounter.status (ready, signed, returned).

Signing keeps vma/signing.py's rules: only the encounter's own provider, on their own panel, signs;
the row is locked and its status checked under the lock, so twenty clicks give one signature; the
signature stores the hash of exactly the signed content and a page that showed another hash is
refused. The work items a transition opens or closes are rows of the same transaction (like the
outbox), so they exist exactly when the new state does; nothing external runs inside the lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted
from vma.roles import Role
from vma.signing import SignOutcome
from vma.workflow import close_work_item, open_work_item

from .models import Encounter
from .policy import SIGN, VIEW
from .selectors import diagnoses_of, missing_for_signature, note_hash
from .services import FIELD_LABELS, lock_for_edit

if TYPE_CHECKING:
    from vma.models import User, WorkItem

S = Encounter.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.PENDED, S.SIGNED}),  # marked ready by the scribe; or signed by its provider from the page
    S.PENDED: frozenset({S.DRAFT, S.SIGNED}),  # returned to the scribe with a comment; or signed
    S.SIGNED: frozenset(),  # locked: later changes are addenda
}
NOTE_RETURNED = "encounters.note_returned"
AVS_DELIVER = "encounters.avs_deliver"
KIND = "note"  # the signing registry's code for notes


def note_url(item: WorkItem) -> str:
    return reverse("encounters_note", args=[item.subject.public_id])  # type: ignore[union-attr]


def avs_url(item: WorkItem) -> str:
    return reverse("encounters_avs", args=[item.subject.public_id])  # type: ignore[union-attr]


def _move(enc: Encounter, *, to: str, **changes: Any) -> Encounter:
    """Refuse a move the table does not allow, save. Callers are atomic and hold the row lock."""
    if to not in TRANSITIONS[enc.status]:
        raise ActionRefused(f"This note is {enc.get_status_display().lower()}; it cannot become {to}.")
    enc.status = to
    fields = {"status", "updated_at"}
    for name, value in changes.items():
        setattr(enc, name, value)
        fields.add(name)
    enc.save(update_fields=sorted(fields))
    return enc


def _when(moment: datetime | None) -> str:
    return f"{timezone.localtime(moment):%m/%d %H:%M}" if moment else ""


@transaction.atomic
def mark_ready(encounter: Encounter, *, actor: User, now: datetime | None = None) -> Encounter:
    """The scribe hands the note to the provider: it appears in their signing queue. Idempotent."""
    enc = lock_for_edit(actor, encounter)
    if enc.status == S.PENDED:
        return enc
    missing = missing_for_signature(enc, diagnoses_of(enc))
    if missing:
        raise ActionRefused("Not ready for signature yet: " + "; ".join(missing) + ".")
    enc = _move(enc, to=S.PENDED, pended_by=actor, pended_at=now or timezone.now())
    close_work_item(kind=NOTE_RETURNED, subject=enc, note="Note marked ready for signature again.", actor=actor)
    return enc


def _may_sign(provider: User, enc: Encounter) -> bool:
    return bool(
        provider.is_active
        and provider.has_perm(SIGN)
        and enc.provider_id == provider.pk
        and can_access_patient(provider, enc.patient, VIEW)
    )


def _locked_for_signer(public_id: Any, provider: User) -> Encounter:
    """The row, locked, if this provider may sign it; otherwise "not found" (no hint that it exists)."""
    try:
        key = public_id if isinstance(public_id, UUID) else UUID(str(public_id))
    except ValueError:
        raise NotPermitted("Not found.") from None
    enc = (
        Encounter.objects.select_for_update(of=("self",))
        .select_related("patient", "signed_by", "pended_by")
        .filter(public_id=key)
        .first()
    )
    if enc is None or not _may_sign(provider, enc):
        raise NotPermitted("Not found.")
    return enc


def _last_change(enc: Encounter) -> str:
    changes = sorted(enc.field_changes.items(), key=lambda kv: kv[1].get("v", 0))
    if not changes:
        return ""
    field, change = changes[-1]
    when = timezone.localtime(datetime.fromisoformat(change["at"]))
    return f" (last change: {FIELD_LABELS.get(field, field)} by {change['by_name']} at {when:%H:%M})"


def sign_note(
    public_id: Any, *, provider: User, expected_hash: str, pended_only: bool = False, now: datetime | None = None
) -> Encounter:
    """Sign one note, exactly once. `expected_hash` is what the provider's page showed.

    From the signing queue (`pended_only`) only a pended note is signed; from the note page the
    provider may also sign their own draft. Raises NotPermitted ("not found") or ActionRefused.
    """
    with transaction.atomic():
        enc = _locked_for_signer(public_id, provider)
        if enc.is_signed:
            raise ActionRefused(f"Already signed by {enc.signed_by} at {_when(enc.signed_at)}.")
        if pended_only and enc.status != S.PENDED:
            raise ActionRefused("No longer awaiting signature: it was returned to the scribe.")
        diagnoses = diagnoses_of(enc)
        missing = missing_for_signature(enc, diagnoses)
        if missing:
            raise ActionRefused("Cannot be signed yet: " + "; ".join(missing) + ".")
        current = note_hash(enc, diagnoses)
        if not expected_hash:
            raise ActionRefused(
                "Review the note before signing: the request did not say which version you saw.", status_code=400
            )
        if expected_hash != current:
            raise ActionRefused(f"Changed since you reviewed it{_last_change(enc)}: look at it again before signing.")
        enc = _move(enc, to=S.SIGNED, signed_by=provider, signed_at=now or timezone.now(), signed_hash=current)
        close_work_item(kind=NOTE_RETURNED, subject=enc, note="Signed by the provider.", actor=provider)
        open_work_item(
            kind=AVS_DELIVER,
            subject=enc,
            patient=enc.patient,
            title=f"Send the after visit summary: {enc.patient.last_name}, {enc.patient.first_name}",
            detail=f"Note of {enc.date_of_service:%m/%d/%Y} signed by {provider}. Check the summary and deliver it.",
        )
    return enc


def _scribe_queue(scribe: User | None) -> str:
    if scribe is not None and not scribe.has_role(Role.CLINICAL_SUPPORT) and scribe.has_role(Role.NURSE):
        return Role.NURSE
    return Role.CLINICAL_SUPPORT


def send_back_note(public_id: Any, *, provider: User, comment: str, now: datetime | None = None) -> Encounter:
    """Return a pended note to its scribe with the provider's comment (a work item in the scribe's queue)."""
    comment = (comment or "").strip()
    if not comment:
        raise ActionRefused("Say what needs changing: a comment is required to return a note.", status_code=400)
    with transaction.atomic():
        enc = _locked_for_signer(public_id, provider)
        if enc.is_signed:
            raise ActionRefused(f"Already signed by {enc.signed_by} at {_when(enc.signed_at)}.")
        if enc.status != S.PENDED:
            raise ActionRefused("Not awaiting signature: there is nothing to return.")
        now = now or timezone.now()
        enc = _move(enc, to=S.DRAFT, returned_comment=comment[:500], returned_by=provider, returned_at=now)
        scribe = f"{enc.pended_by}" if enc.pended_by else "the scribe"
        open_work_item(
            kind=NOTE_RETURNED,
            subject=enc,
            patient=enc.patient,
            title=f"Note returned by {provider}: {enc.patient.last_name}, {enc.patient.first_name}",
            detail=f"{comment[:500]}\n\nPended by {scribe} {_when(enc.pended_at)}. Fix the note and mark it ready again.",
            queue=_scribe_queue(enc.pended_by),
        )
    return enc


def sign_notes(ids: Iterable[UUID], *, provider: User, hashes: dict[UUID, str]) -> list[SignOutcome]:
    """The signing queue's batch: one transaction per note, so one refusal never undoes the others."""
    outcomes = []
    for public_id in ids:
        try:
            expected = hashes.get(public_id) or hashes.get(str(public_id), "")  # type: ignore[call-overload]
            sign_note(public_id, provider=provider, expected_hash=expected, pended_only=True)
        except ActionRefused as exc:
            outcomes.append(SignOutcome(KIND, public_id, False, exc.message))
        else:
            outcomes.append(SignOutcome(KIND, public_id, True, "Signed"))
    return outcomes


def send_back_notes(ids: Iterable[UUID], *, provider: User, comment: str) -> list[SignOutcome]:
    outcomes = []
    for public_id in ids:
        try:
            send_back_note(public_id, provider=provider, comment=comment)
        except ActionRefused as exc:
            outcomes.append(SignOutcome(KIND, public_id, False, exc.message))
        else:
            outcomes.append(SignOutcome(KIND, public_id, True, "Returned to the scribe"))
    return outcomes

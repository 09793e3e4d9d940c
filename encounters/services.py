"""Drafting writes: open a visit's encounter, save one note field (optimistic, per field), code diagnoses, addenda.

Every write re-reads the encounter under a row lock and refuses a signed note: the lock is checked
here, where the change happens, so the page, the API and any other caller get the same refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from patients.icd10 import validate_billable
from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted

from .models import Addendum, EducationMaterial, Encounter, EncounterDiagnosis
from .policy import ADDENDUM, APPROVE_MATERIAL, DRAFT, OPEN
from .selectors import OPENABLE_STATUSES

if TYPE_CHECKING:
    from scheduling.models import Appointment
    from vma.models import User

EDITABLE_FIELDS: tuple[str, ...] = (*Encounter.NOTE_FIELDS, "modality")
FIELD_LABELS: dict[str, str] = {
    "chief_complaint": "Chief complaint",
    "hpi": "History of present illness",
    "ros": "Review of systems",
    "exam": "Exam",
    "assessment": "Assessment",
    "plan": "Plan",
    "modality": "Modality",
    "diagnoses": "Diagnoses",
}
MAX_TEXT = 20_000  # a note field longer than this is a paste gone wrong, not a note


class StaleEdit(ActionRefused):
    """A save based on an older version of a field someone else changed since: refused, nothing overwritten."""

    def __init__(self, encounter: Encounter, field: str, change: dict[str, Any]) -> None:
        when = timezone.localtime(datetime.fromisoformat(change["at"]))
        label = FIELD_LABELS[field]
        super().__init__(
            f"Not saved: {change['by_name']} changed {label} at {when:%H:%M:%S} while you were typing. "
            "Your text is still in the box; compare it with theirs below and choose which to keep."
        )
        self.field = field
        self.their_value: str = getattr(encounter, field)
        self.changed_by: str = change["by_name"]
        self.changed_at = when
        self.version = encounter.version


def lock_refusal(encounter: Encounter) -> ActionRefused:
    when = timezone.localtime(encounter.signed_at) if encounter.signed_at else None
    at = f" on {when:%m/%d/%Y at %H:%M}" if when else ""
    return ActionRefused(f"This note was signed by {encounter.signed_by}{at} and is locked. Add an addendum instead.")


def _lock(encounter: Encounter) -> Encounter:
    return (
        Encounter.objects.select_for_update(of=("self",))
        .select_related("patient", "signed_by", "provider")
        .get(pk=encounter.pk)
    )


def _check(actor: User, encounter: Encounter, perm: str) -> None:
    if not can_access_patient(actor, encounter.patient, perm):
        raise NotPermitted("You cannot change this note.")


def lock_for_edit(actor: User, encounter: Encounter) -> Encounter:
    """Lock, check, and refuse a signed note. Callers are atomic."""
    enc = _lock(encounter)
    _check(actor, enc, DRAFT)
    if enc.is_signed:
        raise lock_refusal(enc)
    return enc


def _stamp(enc: Encounter, key: str, actor: User, now: datetime) -> None:
    enc.version += 1
    enc.field_changes = {
        **enc.field_changes,
        key: {"v": enc.version, "by": actor.pk, "by_name": str(actor), "at": now.isoformat()},
    }
    enc.last_edited_by = actor


# ---------------------------------------------------------------------------------------------
# Opening
# ---------------------------------------------------------------------------------------------


def open_encounter(appointment: Appointment, *, actor: User) -> tuple[Encounter, bool]:
    """The visit's encounter, created on first open (idempotent: one per appointment, even when two open at once)."""
    if not can_access_patient(actor, appointment.patient, OPEN):
        raise NotPermitted("You cannot open a note for this visit.")
    existing = Encounter.objects.filter(appointment=appointment).first()
    if existing is not None:
        return existing, False
    if appointment.status not in OPENABLE_STATUSES:
        raise ActionRefused(
            f"This visit is {appointment.get_status_display().lower()}: a note is opened once the patient has "
            "checked in (or joined the video visit)."
        )
    modality = Encounter.Modality.VIDEO if appointment.telehealth else Encounter.Modality.IN_PERSON
    try:
        with transaction.atomic():
            encounter = Encounter.objects.create(
                appointment=appointment,
                patient=appointment.patient,
                provider=appointment.provider,
                date_of_service=timezone.localdate(appointment.start_at),
                modality=modality,
                # The reason given at booking is where the chief complaint starts; the scribe edits it.
                chief_complaint=(appointment.reason or "")[:300],
                last_edited_by=actor,
            )
    except IntegrityError:
        return Encounter.objects.get(appointment=appointment), False
    return encounter, True


# ---------------------------------------------------------------------------------------------
# Live drafting
# ---------------------------------------------------------------------------------------------


@dataclass
class Saved:
    encounter: Encounter
    field: str
    changed: bool
    version_before: int


def _clean(field: str, value: Any) -> str:
    if field not in EDITABLE_FIELDS:
        raise ActionRefused(f"“{field}” is not a field of the note.", status_code=400)
    text = str(value if value is not None else "").replace("\r\n", "\n")
    if field == "modality":
        if text not in Encounter.Modality.values:
            raise ActionRefused("Choose in person, video or audio only.", status_code=400)
        return text
    if field == "chief_complaint":
        text = text.strip()
        if "\n" in text or len(text) > 300:
            raise ActionRefused("Keep the chief complaint to one line of at most 300 characters.", status_code=400)
    elif len(text) > MAX_TEXT:
        raise ActionRefused(f"This field is limited to {MAX_TEXT:,} characters.", status_code=400)
    return text


@transaction.atomic
def save_field(
    encounter: Encounter, *, field: str, value: Any, base_version: int, actor: User, now: datetime | None = None
) -> Saved:
    """Save one field typed by `actor`, who last saw it at `base_version`.

    Refused (StaleEdit, 409) when someone else changed this field after that version: their text is
    kept and returned to the editor, whose own text stays on their screen. Changes to other fields
    since `base_version` do not matter, and neither do the editor's own earlier saves (their two
    windows write last-wins, as one person typing).
    """
    now = now or timezone.now()
    text = _clean(field, value)
    enc = lock_for_edit(actor, encounter)
    change = enc.field_changes.get(field)
    if change and change["v"] > base_version and change["by"] != actor.pk:
        raise StaleEdit(enc, field, change)
    before = enc.version
    if getattr(enc, field) == text:
        return Saved(enc, field, False, before)
    setattr(enc, field, text)
    _stamp(enc, field, actor, now)
    enc.save(update_fields=[field, "version", "field_changes", "last_edited_by", "updated_at"])
    return Saved(enc, field, True, before)


def save_fields(encounter: Encounter, *, values: dict[str, Any], version: int, actor: User) -> Encounter:
    """Several fields based on one read (the API): all or none, each checked as `save_field` does."""
    with transaction.atomic():
        enc = encounter
        for field, value in values.items():
            enc = save_field(enc, field=field, value=value, base_version=version, actor=actor).encounter
    return enc


# ---------------------------------------------------------------------------------------------
# Coded diagnoses
# ---------------------------------------------------------------------------------------------


def _renumber(enc: Encounter, ordered: list[EncounterDiagnosis]) -> None:
    # Ranks stay dense and in the given order (1 = primary); only moved rows are written.
    changed = []
    for rank, dx in enumerate(ordered, start=1):
        if dx.rank != rank:
            dx.rank = rank
            changed.append(dx)
    for dx in changed:
        dx.save(update_fields=["rank"])


@transaction.atomic
def add_diagnosis(encounter: Encounter, *, code: str, actor: User, now: datetime | None = None) -> EncounterDiagnosis:
    """Code a diagnosis (normalised, billable ICD-10-CM only), ranked after the others."""
    try:
        normalised, description = validate_billable(code)
    except ValidationError as exc:
        raise ActionRefused(" ".join(exc.message_dict.get("code", exc.messages)), status_code=400) from None
    enc = lock_for_edit(actor, encounter)
    if enc.diagnoses.filter(code=normalised).exists():
        raise ActionRefused(f"{normalised} is already on this note.", status_code=400)
    top = enc.diagnoses.aggregate(m=Max("rank"))["m"] or 0
    dx = EncounterDiagnosis.objects.create(encounter=enc, code=normalised, description=description[:250], rank=top + 1)
    _stamp(enc, "diagnoses", actor, now or timezone.now())
    enc.save(update_fields=["version", "field_changes", "last_edited_by", "updated_at"])
    return dx


@transaction.atomic
def remove_diagnosis(encounter: Encounter, diagnosis: EncounterDiagnosis, *, actor: User) -> None:
    enc = lock_for_edit(actor, encounter)
    rows = list(enc.diagnoses.select_for_update().order_by("rank", "pk"))
    target = next((d for d in rows if d.pk == diagnosis.pk), None)
    if target is None:
        return  # removed by someone else a moment ago: the wanted state holds
    if target.orders.exists():
        raise ActionRefused(
            f"{target.code} has orders linked to it; change those orders' diagnosis first.", status_code=409
        )
    target.delete()
    _renumber(enc, [d for d in rows if d.pk != target.pk])
    _stamp(enc, "diagnoses", actor, timezone.now())
    enc.save(update_fields=["version", "field_changes", "last_edited_by", "updated_at"])


@transaction.atomic
def move_diagnosis(encounter: Encounter, diagnosis: EncounterDiagnosis, *, to_rank: int, actor: User) -> None:
    """Re-rank one diagnosis (1 makes it primary); the others keep their order around it."""
    enc = lock_for_edit(actor, encounter)
    rows = list(enc.diagnoses.select_for_update().order_by("rank", "pk"))
    target = next((d for d in rows if d.pk == diagnosis.pk), None)
    if target is None:
        raise ActionRefused("That diagnosis was removed meanwhile.", status_code=409)
    others = [d for d in rows if d.pk != target.pk]
    position = min(max(to_rank, 1), len(rows)) - 1
    others.insert(position, target)
    _renumber(enc, others)
    _stamp(enc, "diagnoses", actor, timezone.now())
    enc.save(update_fields=["version", "field_changes", "last_edited_by", "updated_at"])


# ---------------------------------------------------------------------------------------------
# Addenda
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def add_addendum(encounter: Encounter, *, text: str, actor: User, now: datetime | None = None) -> Addendum:
    """Append to a signed note under the author's name and time. Before signing, the note itself is edited."""
    text = (text or "").replace("\r\n", "\n").strip()
    enc = _lock(encounter)
    if not can_access_patient(actor, enc.patient, ADDENDUM):
        raise NotPermitted("You cannot add an addendum to this note.")
    if not enc.is_signed:
        raise ActionRefused("This note is not signed yet: change the note itself instead of adding an addendum.")
    if not text:
        raise ActionRefused("Write the addendum's text.", status_code=400)
    if len(text) > MAX_TEXT:
        raise ActionRefused(f"An addendum is limited to {MAX_TEXT:,} characters.", status_code=400)
    return Addendum.objects.create(encounter=enc, author=actor, text=text, created_at=now or timezone.now())


# ---------------------------------------------------------------------------------------------
# The education library
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def propose_material(*, title: str, body: str, actor: User, now: datetime | None = None) -> EducationMaterial:
    """Add a handout to the library. A provider's own addition is approved by them; anyone else's waits."""
    title, body = (title or "").strip(), (body or "").replace("\r\n", "\n").strip()
    if not title or not body:
        raise ActionRefused("A handout needs a title and its text.", status_code=400)
    if len(title) > 200:
        raise ActionRefused("Keep the title under 200 characters.", status_code=400)
    if EducationMaterial.objects.filter(title__iexact=title).exists():
        raise ActionRefused(f"The library already has “{title}”.", status_code=400)
    approver = actor if actor.has_perm(APPROVE_MATERIAL) else None
    return EducationMaterial.objects.create(
        title=title,
        body=body,
        created_by=actor,
        approved_by=approver,
        approved_at=(now or timezone.now()) if approver else None,
    )


@transaction.atomic
def review_material(
    material: EducationMaterial, *, action: str, actor: User, now: datetime | None = None
) -> EducationMaterial:
    """A provider approves a handout (it becomes selectable) or retires it (no longer offered; kept for the record)."""
    if not actor.has_perm(APPROVE_MATERIAL):
        raise NotPermitted("Only a provider approves or retires education materials.")
    material = EducationMaterial.objects.select_for_update().get(pk=material.pk)
    if action == "approve":
        material.approved_by, material.approved_at, material.active = actor, now or timezone.now(), True
        material.save(update_fields=["approved_by", "approved_at", "active"])
    elif action == "retire":
        material.active = False
        material.save(update_fields=["active"])
    else:
        raise ActionRefused("Approve or retire a material.", status_code=400)
    return material

"""Demo data for encounters: today's two visits of dr.rivera (a signed note and a draft) and the education library.

Idempotent: the visits are found again by their reason, the materials by their title, and a note
that already exists is left as it is. Synthetic data only.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from patients.models import Patient
from scheduling.models import Appointment, AppointmentType
from vma.models import CareTeam, User

from . import avs, services, workflow
from .models import EducationMaterial, Encounter
from .selectors import note_hash

MATERIALS = [
    (
        "Lowering your blood pressure",
        "High blood pressure rarely causes symptoms but strains the heart, brain and kidneys.\n"
        "- Take your medicine every day, even when you feel well.\n"
        "- Eat less salt: check labels, cook at home more often.\n"
        "- Walk 30 minutes on most days.\n"
        "- Check your blood pressure at home and bring the readings to your next visit.",
    ),
    (
        "Cholesterol and your heart",
        "Cholesterol builds up in the arteries over years. A statin lowers it and the risk of heart attack "
        "and stroke. Take it at the same time each day. Tell us about muscle aches that do not go away.",
    ),
    (
        "Colds and coughs: caring for yourself",
        "Most coughs from a cold get better in 1 to 3 weeks without antibiotics. Rest, drink fluids, and use "
        "honey for the cough (not for children under 1). Call us for a fever over 102°F, shortness of breath, "
        "or a cough lasting more than 3 weeks.",
    ),
]
# (reason, preferred start, visit status, note state)
VISITS = [
    ("Demo: blood pressure follow-up", time(8, 0), Appointment.Status.COMPLETED, "signed"),
    ("Demo: cough for a week", time(8, 20), Appointment.Status.CHECKED_IN, "draft"),
]
FALLBACK_STARTS = [time(7, 0), time(7, 20), time(7, 40), time(17, 0), time(17, 20), time(17, 40)]


def _materials(provider: User) -> list[EducationMaterial]:
    out = []
    for title, body in MATERIALS:
        material, _ = EducationMaterial.objects.get_or_create(
            title=title,
            defaults={"body": body, "created_by": provider, "approved_by": provider, "approved_at": timezone.now()},
        )
        out.append(material)
    return out


def _visit(provider: User, patient: Patient, reason: str, start: time, status: str) -> Appointment:
    today = timezone.localdate()
    day_start = timezone.make_aware(datetime.combine(today, time.min))
    found = Appointment.objects.filter(
        provider=provider, reason=reason, start_at__gte=day_start, start_at__lt=day_start + timedelta(days=1)
    ).first()
    if found is not None:
        return found
    kind = AppointmentType.objects.filter(name="Follow-up").first()
    for at in [start, *FALLBACK_STARTS]:
        try:
            with transaction.atomic():
                # Another app's demo may hold the slot (double booking is refused): take the next free one.
                return Appointment.objects.create(
                    patient=patient,
                    provider=provider,
                    appointment_type=kind,
                    start_at=timezone.make_aware(datetime.combine(today, at)),
                    duration_minutes=20,
                    visit_type="Follow-up",
                    reason=reason,
                    status=status,
                    checked_in_at=timezone.make_aware(datetime.combine(today, at)) - timedelta(minutes=10),
                )
        except IntegrityError:
            continue
    raise RuntimeError("encounters demo: no free slot for dr.rivera today")


def _signed_note(enc: Encounter, scribe: User, provider: User, materials: list[EducationMaterial]) -> None:
    for field, value in (
        ("chief_complaint", "Blood pressure follow-up"),
        (
            "hpi",
            "Here for blood pressure. Home readings 148-156/88-94 over two weeks. "
            "No chest pain, headache or shortness of breath. Takes no medicine for it yet.",
        ),
        ("ros", "Negative for chest pain, palpitations, edema, vision changes."),
        ("exam", "BP 152/94, repeat 148/92. HR 76. Heart regular, no murmur. Lungs clear. No ankle edema."),
        ("assessment", "Stage 2 hypertension, untreated. LDL 162 last month; 10-year risk elevated."),
        (
            "plan",
            "Start lisinopril 10 mg daily. Basic metabolic panel in 2 weeks. Start atorvastatin 20 mg. "
            "Home BP log. Follow up in 4 weeks.",
        ),
    ):
        enc.refresh_from_db()
        services.save_field(enc, field=field, value=value, base_version=enc.version, actor=scribe)
    for code in ("I10", "E78.5"):
        services.add_diagnosis(enc, code=code, actor=scribe)
    enc.refresh_from_db()
    workflow.mark_ready(enc, actor=scribe)
    workflow.sign_note(enc.public_id, provider=provider, expected_hash=note_hash(enc))
    enc.refresh_from_db()
    avs.prepare(
        enc,
        education=[m.public_id for m in materials[:2]],
        follow_up="Bring your home blood pressure log to the next visit.",
        actor=provider,
    )


def _draft_note(enc: Encounter, scribe: User) -> None:
    for field, value in (
        ("chief_complaint", "Cough for a week"),
        ("hpi", "Dry cough for 7 days after a cold. No fever now. Sleeping poorly because of the cough."),
    ):
        enc.refresh_from_db()
        services.save_field(enc, field=field, value=value, base_version=enc.version, actor=scribe)
    services.add_diagnosis(enc, code="R05.2", actor=scribe)


@transaction.atomic
def seed() -> None:
    provider = User.objects.filter(username="dr.rivera").first()
    team = CareTeam.objects.filter(provider=provider).first() if provider else None
    if provider is None or team is None:
        return
    scribe = User.objects.filter(username="cs.eve").first() or provider
    materials = _materials(provider)
    patients = list(Patient.objects.filter(care_team=team).order_by("id")[:2])
    for patient, (reason, start, status, state) in zip(patients, VISITS, strict=False):
        visit = _visit(provider, patient, reason, start, status)
        enc, created = services.open_encounter(visit, actor=scribe)
        if not created:
            continue
        if state == "signed":
            _signed_note(enc, scribe, provider, materials)
        else:
            _draft_note(enc, scribe)

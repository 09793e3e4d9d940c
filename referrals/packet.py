"""The referral packet as a checklist: what goes to the specialist, and what is still missing.

Sending is refused until every required line is ready; the refusal lists what is missing in the
checklist's order. The plan check is a hard stop only where the plan makes it one: an HMO pays
only in-network specialists with an authorization; for other plans a specialist who does not list
the payer is a warning (the patient may pay out-of-network rates, and should be told).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.utils import timezone

from patients.models import Coverage

from .models import Referral


@dataclass(frozen=True)
class PacketLine:
    code: str  # specialist, reason, notes, results, insurance, authorization
    label: str
    ok: bool
    detail: str
    required: bool = True

    @property
    def missing(self) -> bool:
        return self.required and not self.ok


@dataclass
class Packet:
    lines: list[PacketLine]
    warnings: list[str] = field(default_factory=list)
    coverage: Coverage | None = None
    requires_authorization: bool = False

    @property
    def missing(self) -> list[PacketLine]:
        return [line for line in self.lines if line.missing]

    @property
    def complete(self) -> bool:
        return not self.missing

    def missing_text(self) -> str:
        return "; ".join(f"{line.label}: {line.detail}" for line in self.missing)


def plan_coverage(referral: Referral, day: date) -> Coverage | None:
    """The plan the referral goes under: the one chosen on it, else the patient's primary in force."""
    if referral.coverage_id is not None:
        return referral.coverage
    return next(
        (
            c
            for c in Coverage.objects.filter(patient_id=referral.patient_id, active=True)
            .select_related("payer")
            .order_by("rank", "id")
            if c.in_force_on(day)
        ),
        None,
    )


def requires_authorization(coverage: Coverage | None, *, self_pay: bool) -> bool:
    """HMO-style plans (Payer.requires_referral) pay a specialist only with the plan's referral authorization."""
    return bool(coverage is not None and not self_pay and coverage.payer.requires_referral)


def _insurance(referral: Referral, coverage: Coverage | None, day: date) -> PacketLine:
    label = "Insurance"
    if referral.self_pay:
        return PacketLine("insurance", label, True, "Self-pay confirmed with the patient.")
    if coverage is None:
        return PacketLine(
            "insurance", label, False, "No plan in force on file: choose the patient's plan or confirm self-pay."
        )
    if not coverage.in_force_on(day):
        return PacketLine(
            "insurance",
            label,
            False,
            f"{coverage.payer.name} is no longer in force: update the coverage or confirm self-pay.",
        )
    return PacketLine(
        "insurance",
        label,
        True,
        f"{coverage.payer.name}, member {coverage.member_id} ({coverage.get_rank_display().lower()}).",
    )


def _authorization(referral: Referral, coverage: Coverage | None, required: bool, day: date) -> PacketLine:
    label = "Referral authorization"
    if not required:
        why = f"not required by {coverage.payer.name}" if coverage is not None else "not required (no plan)"
        return PacketLine("authorization", label, True, why[0].upper() + why[1:] + ".", required=False)
    assert coverage is not None
    lacking = [
        name
        for name, value in (
            ("the authorization number", referral.authorization_number.strip()),
            ("the visits allowed", referral.visits_allowed),
            ("the expiry date", referral.authorization_expires_on),
        )
        if not value
    ]
    if lacking:
        return PacketLine(
            "authorization",
            label,
            False,
            f"{coverage.payer.name} is an HMO plan: enter " + ", ".join(lacking) + " from the plan.",
        )
    expires = referral.authorization_expires_on
    assert expires is not None
    if expires < day:
        return PacketLine(
            "authorization", label, False, f"Authorization expired on {expires:%m/%d/%Y}: ask the plan for a new one."
        )
    left = referral.visits_left
    if left == 0:
        return PacketLine(
            "authorization", label, False, f"All {referral.visits_allowed} authorized visits are used: ask for more."
        )
    return PacketLine(
        "authorization",
        label,
        True,
        f"{referral.authorization_number}: {left} of {referral.visits_allowed} visit(s) left, "
        f"valid to {expires:%m/%d/%Y}.",
    )


def _specialist(referral: Referral, coverage: Coverage | None, hmo: bool, warnings: list[str]) -> PacketLine:
    label = "Specialist"
    s = referral.specialist
    if s is None:
        return PacketLine("specialist", label, False, f"Choose the {referral.specialty} specialist to send it to.")
    if not s.active:
        return PacketLine("specialist", label, False, f"{s.name} ({s.organisation}) is no longer in the directory.")
    where = f"{s.name}, {s.organisation}: by {s.contact_detail}."
    if coverage is None or referral.self_pay:
        return PacketLine("specialist", label, True, where)
    accepted = s.accepted_payers.filter(pk=coverage.payer_id).exists()
    if accepted:
        return PacketLine("specialist", label, True, f"{where} In network for {coverage.payer.name}.")
    if hmo:
        return PacketLine(
            "specialist",
            label,
            False,
            f"{s.organisation} is not in network for {coverage.payer.name} (an HMO plan): choose an in-network "
            "specialist.",
        )
    warnings.append(
        f"{s.organisation} does not list {coverage.payer.name} as an accepted plan: the patient may pay "
        "out-of-network rates; tell the patient before sending."
    )
    return PacketLine("specialist", label, True, where)


def build_packet(referral: Referral, *, day: date | None = None) -> Packet:
    """The checklist of one referral as it stands (a few queries; a detail page, not a list)."""
    day = day or timezone.localdate()
    coverage = None if referral.self_pay else plan_coverage(referral, day)
    hmo = requires_authorization(coverage, self_pay=referral.self_pay) and coverage is not None
    hmo = hmo and coverage.in_force_on(day)  # type: ignore[union-attr]
    warnings: list[str] = []
    lines = [_specialist(referral, coverage, hmo, warnings)]
    reason = referral.reason.strip()
    lines.append(
        PacketLine(
            "reason",
            "Reason for referral",
            bool(reason),
            (reason[:200] + (f" (diagnosis {referral.diagnosis_code})" if referral.diagnosis_code else ""))
            if reason
            else "Say what the specialist should answer (the clinical question).",
        )
    )
    if reason and not referral.diagnosis_code:
        warnings.append("No diagnosis code: most plans want one on the referral.")
    encounter = referral.encounter
    signed_note = encounter is not None and encounter.status == "signed"
    if referral.clinical_notes.strip():
        notes = PacketLine("notes", "Relevant notes", True, "Clinical summary written for the specialist.")
    elif signed_note:
        assert encounter is not None
        notes = PacketLine(
            "notes", "Relevant notes", True, f"The signed visit note of {encounter.date_of_service:%m/%d/%Y}."
        )
    else:
        notes = PacketLine(
            "notes", "Relevant notes", False, "Write the relevant history and findings (or send a signed visit note)."
        )
    lines.append(notes)
    n_docs = referral.documents.count() if referral.pk else 0
    if n_docs:
        results = PacketLine("results", "Results", True, f"{n_docs} document(s) from the chart attached.")
    elif referral.results_not_needed and referral.results_note.strip():
        results = PacketLine("results", "Results", True, f"None sent: {referral.results_note.strip()}")
    else:
        results = PacketLine(
            "results", "Results", False, "Attach the relevant results, or say why none are needed (with a note)."
        )
    lines.append(results)
    lines.append(_insurance(referral, coverage, day))
    lines.append(_authorization(referral, coverage, hmo, day))
    return Packet(lines=lines, warnings=warnings, coverage=coverage, requires_authorization=hmo)

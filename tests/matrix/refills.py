"""Matrix entries for refills (see tests/matrix/__init__.py)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone

from .base import Builder, Case, Entries

VIEW, ADD, WORK, SIGN = (
    "refills.view_refillrequest",
    "refills.add_refillrequest",
    "refills.work_refillrequest",
    "refills.sign_refillrequest",
)


def _refill(practice: Any, user: Any, own: bool, status: str = "needs_review") -> Any:
    """A request of the team's (or the other team's) patient, decided by that team's provider."""
    from refills.models import RefillRequest
    from tests.factories import PatientFactory
    from vma.access import add_to_care_team
    from vma.roles import Role

    if Role.MANAGER in user.role_names:
        add_to_care_team(user, practice.team)  # the manager sees patients only on a care team
    patient = PatientFactory(care_team=practice.team if own else practice.other_team)
    return RefillRequest.objects.create(
        patient=patient,
        provider=patient.care_team.provider,
        source="phone",
        medication_text="Atorvastatin 20 mg",
        medication_key="atorvastatin",
        pharmacy="Main Street Pharmacy",
        requester="Patient",
        received_by=practice.users[Role.FRONT_OFFICE],
        due_at=timezone.now(),
        status=status,
    )


def _page(name: str, action: str, **data: Any) -> Builder:
    return lambda p, u, o: Case("post", reverse(name, args=[_refill(p, u, o).public_id, action]), data)


def _api(action: str, **data: Any) -> Builder:
    return lambda p, u, o: Case(
        "post", reverse(f"api-refillrequest-{action}", args=[_refill(p, u, o).public_id]), data, json=True
    )


def _create(p: Any, u: Any, own: bool) -> Case:
    from tests.factories import PatientFactory

    patient = PatientFactory(care_team=p.team if own else p.other_team)
    body = {"patient": str(patient.public_id), "medication": "Atorvastatin", "pharmacy": "Main St", "requester": "Pt"}
    return Case("post", reverse("api-refillrequest-list"), body, json=True)


ENDPOINTS: Entries = {
    "refills_list": (VIEW, False, [lambda p, u, o: Case("get", reverse("refills_list") + "?status=all")]),
    "refills_new": (ADD, False, [lambda p, u, o: Case("get", reverse("refills_new"))]),
    "refills_detail": (
        VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("refills_detail", args=[_refill(p, u, o).public_id]))],
    ),
    "refills_work": (
        WORK,
        True,
        [_page("refills_work", "check"), _page("refills_work", "cancel", reason="Stopped by the patient")],
    ),
    "refills_decide": (
        SIGN,
        True,
        [_page("refills_decide", "deny", reason="Needs a visit first"), _page("refills_decide", "approve")],
    ),
    "api-refillrequest-list": (VIEW, False, [lambda p, u, o: Case("get", reverse("api-refillrequest-list"))]),
    "api-refillrequest-create": (ADD, True, [_create]),
    "api-refillrequest-detail": (
        VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("api-refillrequest-detail", args=[_refill(p, u, o).public_id]))],
    ),
    "api-refillrequest-check": (WORK, True, [_api("check")]),
    "api-refillrequest-deny": (SIGN, True, [_api("deny", reason="Needs a visit first")]),
}
BODY_REFERENCES: dict[str, dict[str, list[str]]] = {"api-refillrequest-create": {"patient": ["No such patient."]}}
ROUTER_ALIASES: dict[str, list[str]] = {
    "api-refillrequest-list": ["api-refillrequest-list", "api-refillrequest-create"]
}

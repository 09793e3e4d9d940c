"""Matrix entries for telehealth (see tests/matrix/__init__.py).

Each builder books a video visit starting in ten minutes for the own or the other team's patient
and puts its room in the state the action needs, with the acting user as the rooming VMA.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tests.factories import AppointmentFactory, PatientFactory

from .base import Builder, Case, Entries

VIEW, INVITE, ROOM, HOST, METRICS = (
    f"telehealth.{p}"
    for p in ("view_visitroom", "invite_visitroom", "room_visitroom", "host_visitroom", "view_telehealth_metrics")
)
ALL_DONE = {c: {"at": "2026-01-01T09:00:00+00:00", "by": "x"} for c in ("identity", "location", "consent", "reason")}
ALL_DONE |= {c: {"at": "2026-01-01T09:00:00+00:00", "by": "x"} for c in ("medications", "allergies")}


def _visit(p: Any, own: bool) -> Any:
    patient = PatientFactory(care_team=p.team if own else p.other_team)
    return AppointmentFactory(
        patient=patient,
        telehealth=True,
        telehealth_room="matrix",
        visit_type="Telehealth follow-up",
        start_at=timezone.now() + timedelta(minutes=10),
    )


def _room(p: Any, u: Any, own: bool, status: str = "created", visit_status: str = "scheduled", **fields: Any) -> Any:
    from scheduling.models import Appointment
    from telehealth.models import VisitRoom
    from telehealth.workflow import ensure_room

    visit = _visit(p, own)
    Appointment.objects.filter(pk=visit.pk).update(status=visit_status)
    room = ensure_room(visit)
    now = timezone.now()
    stamps = {
        "link_sent": {"link_sent_at": now - timedelta(minutes=5), "link_sends": 1},
        "patient_joined": {"patient_joined_at": now},
        "tech_check_passed": {"patient_joined_at": now, "tech_check_at": now, "vma": u, "checklist": ALL_DONE},
        "roomed": {"patient_joined_at": now, "roomed_at": now, "vma": u},
        "ready_for_provider": {"patient_joined_at": now, "ready_at": now, "handoff_note": "Ready"},
        "provider_joined": {"ready_at": now, "handoff_note": "Ready", "provider_joined_at": now},
    }.get(status, {})
    VisitRoom.objects.filter(pk=room.pk).update(status=status, **{**stamps, **fields})
    return visit


def page(name: str) -> Builder:
    return lambda p, u, o: Case("get", reverse(name))


def visit_page(p: Any, u: Any, own: bool) -> Case:
    return Case("get", reverse("telehealth_visit", args=[_visit(p, own).public_id]))


def room_action(action: str, status: str, visit_status: str = "scheduled", **data: Any) -> Builder:
    def build(p: Any, u: Any, own: bool) -> Case:
        fields = {"vma": u} if action in {"check", "roomed", "hand-off"} else {}
        visit = _room(p, u, own, status, visit_status, **fields)
        return Case("post", reverse("telehealth_room_action", args=[visit.public_id, action]), data)

    return build


def provider_action(action: str, status: str, **data: Any) -> Builder:
    def build(p: Any, u: Any, own: bool) -> Case:
        visit = _room(p, u, own, status, "in_room")
        return Case("post", reverse("telehealth_provider_action", args=[visit.public_id, action]), data)

    return build


def api_action(action: str, status: str, visit_status: str = "scheduled", **data: Any) -> Builder:
    def build(p: Any, u: Any, own: bool) -> Case:
        fields = {"vma": u} if action in {"checklist", "roomed", "hand-off"} else {}
        visit = _room(p, u, own, status, visit_status, **fields)
        return Case("post", reverse(f"api-televisit-{action}", args=[visit.public_id]), data, json=True)

    return build


ENDPOINTS: Entries = {
    "telehealth_waiting_room": (VIEW, False, [page("telehealth_waiting_room")]),
    "telehealth_provider": (HOST, False, [page("telehealth_provider")]),
    "telehealth_metrics": (METRICS, False, [page("telehealth_metrics")]),
    "telehealth_visit": (VIEW, True, [visit_page]),
    "telehealth_send_link": (
        INVITE,
        True,
        [lambda p, u, o: Case("post", reverse("telehealth_send_link", args=[_room(p, u, o).public_id]))],
    ),
    "telehealth_room_action": (
        ROOM,
        True,
        [
            room_action("join", "link_sent"),
            room_action("tech-check", "patient_joined", "checked_in"),
            room_action("check", "patient_joined", "checked_in", item="identity", done="1"),
            room_action("roomed", "tech_check_passed", "checked_in"),
            room_action("hand-off", "roomed", "in_room", note="BP 150/90 at home; wants to discuss a refill"),
            room_action("close", "link_sent", reason="Switched to a phone visit"),
        ],
    ),
    "telehealth_provider_action": (
        HOST,
        True,
        [provider_action("join", "ready_for_provider"), provider_action("end", "provider_joined")],
    ),
    "api-televisit-list": (VIEW, False, [lambda p, u, o: Case("get", reverse("api-televisit-list"))]),
    "api-televisit-detail": (
        VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("api-televisit-detail", args=[_visit(p, o).public_id]))],
    ),
    "api-televisit-send-link": (INVITE, True, [api_action("send-link", "created")]),
    "api-televisit-join": (ROOM, True, [api_action("join", "link_sent")]),
    "api-televisit-tech-check": (ROOM, True, [api_action("tech-check", "patient_joined", "checked_in")]),
    "api-televisit-checklist": (
        ROOM,
        True,
        [api_action("checklist", "patient_joined", "checked_in", item="identity", done=True)],
    ),
    "api-televisit-roomed": (ROOM, True, [api_action("roomed", "tech_check_passed", "checked_in")]),
    "api-televisit-hand-off": (ROOM, True, [api_action("hand-off", "roomed", "in_room", note="Ready to go")]),
    "api-televisit-close": (ROOM, True, [api_action("close", "link_sent", reason="Patient left")]),
    "api-televisit-provider-join": (HOST, True, [api_action("provider-join", "ready_for_provider", "in_room")]),
    "api-televisit-end": (HOST, True, [api_action("end", "provider_joined", "in_room")]),
}
BODY_REFERENCES: dict[str, dict[str, list[str]]] = {}
ROUTER_ALIASES: dict[str, list[str]] = {}
# The patient's waiting-room page: the signed link is the credential (tested in telehealth/tests).
PUBLIC = {"telehealth_patient"}

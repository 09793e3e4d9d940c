"""The role × endpoint matrix: every URL and API endpoint, every role, reads and writes.

The expected answer comes from vma.access.ROLE_PERMISSIONS (the table in code) and the
permission each endpoint requires (ENDPOINTS below). An object of another care team answers
404 for every role, pages and API alike. A URL the table does not list fails the test, so a
new endpoint cannot ship without being placed in the matrix.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from patients.models import ChartDocument
from vma import workflow
from vma.access import ROLE_PERMISSIONS
from vma.roles import Role

from .factories import CoverageFactory, PatientFactory, PayerFactory, UserFactory
from .matrix.base import Builder, Case

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _patient(practice: Any, own: bool) -> Any:
    return PatientFactory(care_team=practice.team if own else practice.other_team)


def _item(practice: Any, user: Any, own: bool, *, claimed: bool = False) -> Any:
    patient = _patient(practice, own)
    queue = next(iter(sorted(user.role_names - {Role.ADMIN})), Role.FRONT_OFFICE)
    item, _ = workflow.open_work_item(
        kind="patients.callback", subject=patient, patient=patient, title="Call back", queue=queue
    )
    if claimed and own and user.has_perm("vma.work_workitem"):
        item = workflow.claim_item(item, actor=user)
    return item


def _document(practice: Any, own: bool) -> tuple[Any, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    patient = _patient(practice, own)
    doc = ChartDocument(
        patient=patient, category="lab_result", title="CBC", content_type="image/png", size_bytes=len(PNG)
    )
    doc.file.save("x", SimpleUploadedFile("x.png", PNG), save=True)
    return patient, doc


def _teammate(practice: Any, user: Any) -> Any:
    role = next(iter(sorted(user.role_names - {Role.ADMIN})), Role.FRONT_OFFICE)
    mate = UserFactory(role=role)
    from vma.access import add_to_care_team

    add_to_care_team(mate, practice.team)
    return mate


def _eligibility_check(practice: Any, own: bool) -> Any:
    from eligibility.workflow import request_check

    return request_check(CoverageFactory(patient=_patient(practice, own)), service_date=timezone.localdate())


def _download(practice: Any, user: Any, own: bool) -> Case:
    patient, doc = _document(practice, own)
    return Case("get", reverse("document_download", args=[patient.public_id, doc.public_id]))


def item_action(action: str, **data: Any) -> Builder:
    def build(practice: Any, user: Any, own: bool) -> Case:
        item = _item(practice, user, own, claimed=action in {"release", "complete", "reassign", "snooze"})
        payload = dict(data)
        if action == "reassign":
            payload["user"] = str(_teammate(practice, user).public_id)
        return Case("post", reverse("work_item_action", args=[item.public_id, action]), payload)

    return build


def api_item_action(action: str, **data: Any) -> Builder:
    def build(practice: Any, user: Any, own: bool) -> Case:
        item = _item(practice, user, own, claimed=action in {"release", "complete", "reassign", "snooze"})
        payload = dict(data)
        if action == "reassign":
            payload["user"] = str(_teammate(practice, user).public_id)
        return Case("post", reverse(f"api-workitem-{action}", args=[item.public_id]), payload, json=True)

    return build


def _prior_auth(practice: Any, own: bool, status: str = "required") -> Any:
    from eligibility.models import PriorAuthorization

    coverage = CoverageFactory(patient=_patient(practice, own))
    now = timezone.now()
    submitted, approved = status != "required", status == "approved"
    return PriorAuthorization.objects.create(
        patient=coverage.patient,
        coverage=coverage,
        payer=coverage.payer,
        service_code="70551",
        status=status,
        submitted_at=now if submitted else None,
        decision_due_at=now + timedelta(days=7) if submitted else None,
        authorization_number="A-1" if approved else "",
        approved_units=10 if approved else None,
        valid_from=timezone.localdate() if approved else None,
        valid_to=timezone.localdate() + timedelta(days=90) if approved else None,
    )


def priorauth_action(action: str, status: str, **data: Any) -> Builder:
    def build(practice: Any, user: Any, own: bool) -> Case:
        auth = _prior_auth(practice, own, status)
        return Case("post", reverse("priorauth_action", args=[auth.public_id, action]), data)

    return build


def api_priorauth_action(action: str, status: str, **data: Any) -> Builder:
    def build(practice: Any, user: Any, own: bool) -> Case:
        auth = _prior_auth(practice, own, status)
        return Case("post", reverse(f"api-priorauthorization-{action}", args=[auth.public_id]), data, json=True)

    return build


PA_VIEW, PA_ADD, PA_CHANGE = (f"eligibility.{p}_priorauthorization" for p in ("view", "add", "change"))
_TODAY = timezone.localdate().isoformat()
_APPROVAL = {"authorization_number": "A-9", "approved_units": 4, "valid_from": _TODAY, "valid_to": _TODAY}


SOON = (timezone.now() + timedelta(days=1)).isoformat()

# name -> (permission required (None: any signed-in user), object-scoped?, builders)
ENDPOINTS: dict[str, tuple[str | None, bool, list[Builder]]] = {
    "home": (None, False, [lambda p, u, o: Case("get", reverse("home"))]),
    "queue": ("vma.view_workitem", False, [lambda p, u, o: Case("get", reverse("queue"))]),
    "claim_next": ("vma.work_workitem", False, [lambda p, u, o: Case("post", reverse("claim_next"))]),
    "work_item": (
        "vma.view_workitem",
        True,
        [lambda p, u, o: Case("get", reverse("work_item", args=[_item(p, u, o).public_id]))],
    ),
    "work_item_action": (
        "vma.work_workitem",
        True,
        [
            item_action("claim"),
            item_action("release"),
            item_action("complete", note="Done"),
            item_action("escalate", queue="nurse", reason="Red flag"),
            item_action("snooze", until=SOON[:16]),
            item_action("reassign"),
        ],
    ),
    "queue_health": ("vma.view_queue_health", False, [lambda p, u, o: Case("get", reverse("queue_health"))]),
    "audit_trail": ("vma.view_auditevent", False, [lambda p, u, o: Case("get", reverse("audit_trail"))]),
    "patient_search": (
        "patients.view_patient",
        False,
        [lambda p, u, o: Case("get", reverse("patient_search") + "?q=a")],
    ),
    "patient_detail": (
        "patients.view_patient",
        True,
        [lambda p, u, o: Case("get", reverse("patient_detail", args=[_patient(p, o).public_id]))],
    ),
    "document_upload": (
        "patients.add_chartdocument",
        True,
        [
            lambda p, u, o: Case(
                "post",
                reverse("document_upload", args=[_patient(p, o).public_id]),
                {"category": "lab_result", "title": "CBC", "file": io.BytesIO(PNG)},
            )
        ],
    ),
    "document_download": (
        "patients.view_chartdocument",
        True,
        [_download],
    ),
    "api-patient-list": (
        "patients.view_patient",
        False,
        [lambda p, u, o: Case("get", reverse("api-patient-list"))],
    ),
    "api-patient-create": (
        "patients.add_patient",
        False,
        [
            lambda p, u, o: Case(
                "post",
                reverse("api-patient-list"),
                {
                    "mrn": "NEW-0001",
                    "first_name": "Nia",
                    "last_name": "Newman",
                    "date_of_birth": "1990-02-03",
                    "sex": "F",
                    "care_team": str(p.team.public_id),
                },
                json=True,
            )
        ],
    ),
    "api-patient-detail": (
        "patients.view_patient",
        True,
        [lambda p, u, o: Case("get", reverse("api-patient-detail", args=[_patient(p, o).public_id]))],
    ),
    "api-patient-update": (
        "patients.change_patient",
        True,
        [
            lambda p, u, o: Case(
                "patch",
                reverse("api-patient-detail", args=[_patient(p, o).public_id]),
                {"phone": "555-0199"},
                json=True,
            )
        ],
    ),
    "api-coverage-list": ("patients.view_coverage", False, [lambda p, u, o: Case("get", reverse("api-coverage-list"))]),
    "api-coverage-create": (
        "patients.add_coverage",
        True,
        [
            lambda p, u, o: Case(
                "post",
                reverse("api-coverage-list"),
                {"patient": str(_patient(p, o).public_id), "payer": PayerFactory().payer_id, "member_id": "ZZ12345"},
                json=True,
            )
        ],
    ),
    "api-coverage-detail": (
        "patients.view_coverage",
        True,
        [
            lambda p, u, o: Case(
                "get", reverse("api-coverage-detail", args=[CoverageFactory(patient=_patient(p, o)).public_id])
            )
        ],
    ),
    "api-coverage-update": (
        "patients.change_coverage",
        True,
        [
            lambda p, u, o: Case(
                "patch",
                reverse("api-coverage-detail", args=[CoverageFactory(patient=_patient(p, o)).public_id]),
                {"group_number": "G-2"},
                json=True,
            )
        ],
    ),
    "api-workitem-list": ("vma.view_workitem", False, [lambda p, u, o: Case("get", reverse("api-workitem-list"))]),
    "api-workitem-detail": (
        "vma.view_workitem",
        True,
        [lambda p, u, o: Case("get", reverse("api-workitem-detail", args=[_item(p, u, o).public_id]))],
    ),
    "api-workitem-claim-next": (
        "vma.work_workitem",
        False,
        [lambda p, u, o: Case("post", reverse("api-workitem-claim-next"), {}, json=True)],
    ),
    "api-workitem-claim": ("vma.work_workitem", True, [api_item_action("claim")]),
    "api-workitem-release": ("vma.work_workitem", True, [api_item_action("release")]),
    "api-workitem-complete": ("vma.work_workitem", True, [api_item_action("complete", note="Done")]),
    "api-workitem-escalate": (
        "vma.work_workitem",
        True,
        [api_item_action("escalate", queue="nurse", reason="Red flag")],
    ),
    "api-workitem-snooze": ("vma.work_workitem", True, [api_item_action("snooze", until=SOON)]),
    "api-workitem-reassign": ("vma.work_workitem", True, [api_item_action("reassign")]),
    "api_schema": (None, False, [lambda p, u, o: Case("get", reverse("api_schema"))]),
    "api_docs": (None, False, [lambda p, u, o: Case("get", reverse("api_docs"))]),
    "api_redoc": (None, False, [lambda p, u, o: Case("get", reverse("api_redoc"))]),
    "eligibility_tomorrow": (
        "patients.view_coverage",
        False,
        [lambda p, u, o: Case("get", reverse("eligibility_tomorrow"))],
    ),
    "eligibility_panel": (
        "patients.view_coverage",
        True,
        [lambda p, u, o: Case("get", reverse("eligibility_panel", args=[_patient(p, o).public_id]))],
    ),
    "eligibility_check_now": (
        "patients.view_coverage",
        True,
        [
            lambda p, u, o: Case(
                "post", reverse("eligibility_check_now", args=[CoverageFactory(patient=_patient(p, o)).public_id])
            )
        ],
    ),
    "api-eligibilitycheck-list": (
        "patients.view_coverage",
        False,
        [lambda p, u, o: Case("get", reverse("api-eligibilitycheck-list"))],
    ),
    "api-eligibilitycheck-create": (
        "patients.view_coverage",
        True,
        [
            lambda p, u, o: Case(
                "post",
                reverse("api-eligibilitycheck-list"),
                {"coverage": str(CoverageFactory(patient=_patient(p, o)).public_id)},
                json=True,
            )
        ],
    ),
    "api-eligibilitycheck-detail": (
        "patients.view_coverage",
        True,
        [
            lambda p, u, o: Case(
                "get", reverse("api-eligibilitycheck-detail", args=[_eligibility_check(p, o).public_id])
            )
        ],
    ),
    "priorauth_list": (PA_VIEW, False, [lambda p, u, o: Case("get", reverse("priorauth_list"))]),
    "priorauth_detail": (
        PA_VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("priorauth_detail", args=[_prior_auth(p, o).public_id]))],
    ),
    "priorauth_action": (
        PA_CHANGE,
        True,
        [
            priorauth_action("submit", "required", urgency="standard"),
            priorauth_action("approve", "pending", **_APPROVAL),
            priorauth_action("record_use", "approved", units="1"),
            priorauth_action("withdraw", "submitted", reason="Visit cancelled"),
        ],
    ),
    "priorauth_panel": (
        PA_VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("priorauth_panel", args=[_patient(p, o).public_id]))],
    ),
    "api-priorauthorization-list": (
        PA_VIEW,
        False,
        [lambda p, u, o: Case("get", reverse("api-priorauthorization-list"))],
    ),
    "api-priorauthorization-create": (
        PA_ADD,
        True,
        [
            lambda p, u, o: Case(
                "post",
                reverse("api-priorauthorization-list"),
                {"coverage": str(CoverageFactory(patient=_patient(p, o)).public_id), "service_code": "70551"},
                json=True,
            )
        ],
    ),
    "api-priorauthorization-detail": (
        PA_VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("api-priorauthorization-detail", args=[_prior_auth(p, o).public_id]))],
    ),
    "api-priorauthorization-submit": (
        PA_CHANGE,
        True,
        [api_priorauth_action("submit", "required", urgency="expedited")],
    ),
    "api-priorauthorization-mark-pending": (
        PA_CHANGE,
        True,
        [api_priorauth_action("mark-pending", "submitted", payer_reference="R-1")],
    ),
    "api-priorauthorization-approve": (PA_CHANGE, True, [api_priorauth_action("approve", "pending", **_APPROVAL)]),
    "api-priorauthorization-deny": (PA_CHANGE, True, [api_priorauth_action("deny", "submitted", reason="No records")]),
    "api-priorauthorization-withdraw": (
        PA_CHANGE,
        True,
        [api_priorauth_action("withdraw", "required", reason="Not needed")],
    ),
    "api-priorauthorization-record-use": (PA_CHANGE, True, [api_priorauth_action("record-use", "approved", units=2)]),
    "admin:index": ("is_staff", False, [lambda p, u, o: Case("get", reverse("admin:index"))]),
}
# Open to everyone by design: signing in and out, and the health probe (no patient data).
PUBLIC = {"login", "logout", "healthz"}
# Endpoints whose object is named in the body rather than the URL.
BODY_REFERENCES = {
    "api-coverage-create": {"patient": ["No such patient."]},
    "api-eligibilitycheck-create": {"coverage": ["No such coverage."]},
    "api-priorauthorization-create": {"coverage": ["No such coverage."]},
}
# Router names that stand for several entries above (list/detail serve reads and writes).
ROUTER_ALIASES = {
    "api-patient-list": ["api-patient-list", "api-patient-create"],
    "api-patient-detail": ["api-patient-detail", "api-patient-update"],
    "api-coverage-list": ["api-coverage-list", "api-coverage-create"],
    "api-coverage-detail": ["api-coverage-detail", "api-coverage-update"],
    "api-eligibilitycheck-list": ["api-eligibilitycheck-list", "api-eligibilitycheck-create"],
    "api-priorauthorization-list": ["api-priorauthorization-list", "api-priorauthorization-create"],
}


# --- Scheduling (scheduling/): calendar, booking, moves and cancels, the appointment API ---------
SCHED_VIEW, SCHED_BOOK, SCHED_CHANGE = (
    "scheduling.view_appointment",
    "scheduling.add_appointment",
    "scheduling.change_appointment",
)


def _sched_setup(practice: Any) -> tuple[Any, Any, Any]:
    """The team's provider with office hours, a visit type, and a Monday two weeks ahead."""
    from scheduling.models import ScheduleTemplate
    from scheduling.tests.factories import AppointmentTypeFactory, next_monday, weekly_template

    provider = practice.team.provider
    if not ScheduleTemplate.objects.filter(provider=provider).exists():
        weekly_template(provider)
    return provider, AppointmentTypeFactory(name="Matrix visit", duration_minutes=30), next_monday()


def _visit(practice: Any, own: bool) -> Any:
    from scheduling.models import Appointment
    from scheduling.tests.factories import at

    provider, kind, monday = _sched_setup(practice)
    return Appointment.objects.create(
        patient=_patient(practice, own), provider=provider, appointment_type=kind, start_at=at(monday, 9)
    )


def _book_body(practice: Any, own: bool, *, api: bool) -> dict[str, str]:
    from scheduling.tests.factories import at

    provider, kind, monday = _sched_setup(practice)
    return {
        "patient": str(_patient(practice, own).public_id),
        "provider": str(provider.public_id),
        ("appointment_type" if api else "type"): str(kind.public_id),
        ("start_at" if api else "start"): at(monday, 9).isoformat(),
    }


def _in_two_weeks_at(hour: int) -> str:
    from scheduling.tests.factories import at, next_monday

    return at(next_monday(), hour).isoformat()


ENDPOINTS.update(
    {
        "scheduling_calendar": (
            SCHED_VIEW,
            False,
            [lambda p, u, o: Case("get", reverse("scheduling_calendar") + f"?provider={_sched_setup(p)[0].public_id}")],
        ),
        "scheduling_book_form": (
            SCHED_BOOK,
            False,
            [
                lambda p, u, o: Case(
                    "get",
                    reverse("scheduling_book_form"),
                    {"provider": str(_sched_setup(p)[0].public_id), "start": _in_two_weeks_at(9)},
                )
            ],
        ),
        "scheduling_book": (
            SCHED_BOOK,
            True,
            [lambda p, u, o: Case("post", reverse("scheduling_book"), _book_body(p, o, api=False))],
        ),
        "scheduling_appointment": (
            SCHED_VIEW,
            True,
            [lambda p, u, o: Case("get", reverse("scheduling_appointment", args=[_visit(p, o).public_id]))],
        ),
        "scheduling_reschedule": (
            SCHED_CHANGE,
            True,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse("scheduling_reschedule", args=[_visit(p, o).public_id]),
                    {"start": _in_two_weeks_at(14)},
                )
            ],
        ),
        "scheduling_cancel": (
            SCHED_CHANGE,
            True,
            [
                lambda p, u, o: Case(
                    "post", reverse("scheduling_cancel", args=[_visit(p, o).public_id]), {"reason": "Asked to"}
                )
            ],
        ),
        "api-appointment-list": (SCHED_VIEW, False, [lambda p, u, o: Case("get", reverse("api-appointment-list"))]),
        "api-appointment-create": (
            SCHED_BOOK,
            True,
            [lambda p, u, o: Case("post", reverse("api-appointment-list"), _book_body(p, o, api=True), json=True)],
        ),
        "api-appointment-detail": (
            SCHED_VIEW,
            True,
            [lambda p, u, o: Case("get", reverse("api-appointment-detail", args=[_visit(p, o).public_id]))],
        ),
        "api-appointment-reschedule": (
            SCHED_CHANGE,
            True,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse("api-appointment-reschedule", args=[_visit(p, o).public_id]),
                    {"start_at": _in_two_weeks_at(14)},
                    json=True,
                )
            ],
        ),
        "api-appointment-cancel": (
            SCHED_CHANGE,
            True,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse("api-appointment-cancel", args=[_visit(p, o).public_id]),
                    {"reason": "Asked to"},
                    json=True,
                )
            ],
        ),
        "api-appointment-confirm": (
            SCHED_CHANGE,
            True,
            [
                lambda p, u, o: Case(
                    "post", reverse("api-appointment-confirm", args=[_visit(p, o).public_id]), {}, json=True
                )
            ],
        ),
        "api-appointment-find-slots": (
            SCHED_VIEW,
            False,
            [
                lambda p, u, o: Case(
                    "get",
                    reverse("api-appointment-find-slots") + f"?appointment_type={_sched_setup(p)[1].public_id}",
                )
            ],
        ),
    }
)


def _started_visit(practice: Any, own: bool, status: str = "scheduled") -> Any:
    """A visit that began ten minutes ago (check-in and no-show are possible by the clock)."""
    from scheduling.models import Appointment

    provider, kind, _monday = _sched_setup(practice)
    return Appointment.objects.create(
        patient=_patient(practice, own),
        provider=provider,
        appointment_type=kind,
        start_at=timezone.now() - timedelta(minutes=10),
        status=status,
    )


def _waitlist_entry(practice: Any, own: bool) -> Any:
    from scheduling.models import WaitlistEntry

    return WaitlistEntry.objects.create(patient=_patient(practice, own), note="Any earlier slot")


def _api_move(action: str, status: str = "scheduled") -> Builder:
    return lambda p, u, o: Case(
        "post", reverse(f"api-appointment-{action}", args=[_started_visit(p, o, status).public_id]), {}, json=True
    )


ENDPOINTS.update(
    {
        "scheduling_action": (
            SCHED_CHANGE,
            True,
            [
                lambda p, u, o: Case(
                    "post", reverse("scheduling_action", args=[_started_visit(p, o).public_id, "check-in"])
                )
            ],
        ),
        "scheduling_waitlist": (SCHED_VIEW, False, [lambda p, u, o: Case("get", reverse("scheduling_waitlist"))]),
        "scheduling_waitlist_add": (
            SCHED_BOOK,
            True,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse("scheduling_waitlist_add"),
                    {"patient": str(_patient(p, o).public_id), "part_of_day": "any"},
                )
            ],
        ),
        "scheduling_waitlist_remove": (
            SCHED_BOOK,
            True,
            [
                lambda p, u, o: Case(
                    "post", reverse("scheduling_waitlist_remove", args=[_waitlist_entry(p, o).public_id])
                )
            ],
        ),
        "api-appointment-check-in": (SCHED_CHANGE, True, [_api_move("check-in")]),
        "api-appointment-in-room": (SCHED_CHANGE, True, [_api_move("in-room", "checked_in")]),
        "api-appointment-complete": (SCHED_CHANGE, True, [_api_move("complete", "in_room")]),
        "api-appointment-no-show": (SCHED_CHANGE, True, [_api_move("no-show")]),
        "api-appointment-waitlist": (
            SCHED_VIEW,
            False,
            [lambda p, u, o: Case("get", reverse("api-appointment-waitlist"))],
        ),
        "api-appointment-waitlist-add": (
            SCHED_BOOK,
            True,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse("api-appointment-waitlist"),
                    {"patient": str(_patient(p, o).public_id)},
                    json=True,
                )
            ],
        ),
        "api-appointment-waitlist-entry": (
            SCHED_BOOK,
            True,
            [
                lambda p, u, o: Case(
                    "delete", reverse("api-appointment-waitlist-entry", args=[_waitlist_entry(p, o).public_id])
                )
            ],
        ),
    }
)
BODY_REFERENCES["api-appointment-waitlist-add"] = {"patient": ["No such patient."]}
ROUTER_ALIASES["api-appointment-waitlist"] = ["api-appointment-waitlist", "api-appointment-waitlist-add"]


# A reminder's confirm/cancel link: no sign-in, its signature is the credential (scheduling/tests).
PUBLIC = PUBLIC | {"scheduling_link"}
BODY_REFERENCES["api-appointment-create"] = {"patient": ["No such patient."]}
ROUTER_ALIASES["api-appointment-list"] = ["api-appointment-list", "api-appointment-create"]


# --- intake ---------------------------------------------------------------------------------------
def _intake_packet(practice: Any, own: bool, *, with_change: bool = False) -> Any:
    """A submitted intake packet (one form); with a proposed phone change when asked."""
    from intake import services as intake_services
    from intake import workflow as intake_workflow
    from intake.models import IntakeRule, Questionnaire
    from tests.factories import AppointmentFactory

    form, _ = Questionnaire.objects.get_or_create(
        code="matrix",
        version=1,
        defaults={
            "title": "Matrix form",
            "definition": {
                "sections": [
                    {
                        "title": "A",
                        "questions": [{"id": "phone", "text": "Phone", "type": "text", "maps_to": "patient.phone"}],
                    }
                ]
            },
        },
    )
    rule, _ = IntakeRule.objects.get_or_create(visit_type="Matrix visit")
    rule.questionnaires.set([form])
    patient = _patient(practice, own)
    visit = AppointmentFactory(patient=patient, visit_type="Matrix visit", start_at=timezone.now() + timedelta(days=2))
    packet, _ = intake_services.create_packet(visit, rule)
    packet = intake_workflow.mark_sent(packet, channel="sms")
    packet.responses.update(answers={"phone": "555-0177" if with_change else patient.phone})
    intake_workflow.mark_opened(packet)
    return intake_services.submit_packet(packet)


def _intake_decide(practice: Any, user: Any, own: bool) -> Case:
    packet = _intake_packet(practice, own, with_change=True)
    change = packet.proposed_changes.get()
    return Case("post", reverse("intake_change_decide", args=[packet.public_id, change.public_id, "apply"]))


def _intake_questionnaire() -> Any:
    from intake.models import Questionnaire

    return Questionnaire.objects.create(
        code=f"mx{Questionnaire.objects.count()}",
        title="Matrix",
        definition={"sections": [{"title": "A", "questions": [{"id": "a", "text": "A", "type": "text"}]}]},
    )


INTAKE_VIEW, INTAKE_REVIEW, INTAKE_FORMS = (
    "intake.view_intakepacket",
    "intake.review_intakepacket",
    "intake.view_questionnaire",
)
ENDPOINTS.update(
    {
        "intake_packets": (INTAKE_VIEW, False, [lambda p, u, o: Case("get", reverse("intake_packets"))]),
        "intake_packet_detail": (
            INTAKE_VIEW,
            True,
            [lambda p, u, o: Case("get", reverse("intake_packet_detail", args=[_intake_packet(p, o).public_id]))],
        ),
        "intake_packet_review": (
            INTAKE_REVIEW,
            True,
            [lambda p, u, o: Case("post", reverse("intake_packet_review", args=[_intake_packet(p, o).public_id]))],
        ),
        "intake_change_decide": (INTAKE_REVIEW, True, [_intake_decide]),
        "api-intakequestionnaire-list": (
            INTAKE_FORMS,
            False,
            [lambda p, u, o: Case("get", reverse("api-intakequestionnaire-list"))],
        ),
        "api-intakequestionnaire-detail": (
            INTAKE_FORMS,
            False,
            [
                lambda p, u, o: Case(
                    "get", reverse("api-intakequestionnaire-detail", args=[_intake_questionnaire().public_id])
                )
            ],
        ),
        "api-intakepacket-list": (INTAKE_VIEW, False, [lambda p, u, o: Case("get", reverse("api-intakepacket-list"))]),
        "api-intakepacket-detail": (
            INTAKE_VIEW,
            True,
            [lambda p, u, o: Case("get", reverse("api-intakepacket-detail", args=[_intake_packet(p, o).public_id]))],
        ),
        "api-intakepacket-review": (
            INTAKE_REVIEW,
            True,
            [
                lambda p, u, o: Case(
                    "post", reverse("api-intakepacket-review", args=[_intake_packet(p, o).public_id]), {}, json=True
                )
            ],
        ),
        "api-intakeresponse-list": (
            INTAKE_VIEW,
            False,
            [lambda p, u, o: Case("get", reverse("api-intakeresponse-list"))],
        ),
        "api-intakeresponse-detail": (
            INTAKE_VIEW,
            True,
            [
                lambda p, u, o: Case(
                    "get", reverse("api-intakeresponse-detail", args=[_intake_packet(p, o).responses.get().public_id])
                )
            ],
        ),
    }
)
# The patient's intake pages: no sign-in; the signed link plus two identifiers are the credential,
# with their own tests (intake/tests/test_patient_pages.py: identity, lockout, bad and expired links).
PUBLIC = PUBLIC | {"intake_start", "intake_page", "intake_submit"}


# --- huddle (huddle/): the daily sheet, chart scrubs, their marks ---------------------------------
def _scrub(practice: Any, own: bool, *, all_marked: bool = False) -> Any:
    """A chart scrub of a visit on the next working day; with every line marked done when asked."""
    from huddle import services as huddle_services
    from huddle.days import next_working_day
    from huddle.models import ChartScrub, ScrubItem
    from tests.factories import AppointmentFactory

    day = next_working_day(timezone.localdate())
    start = timezone.make_aware(timezone.datetime.combine(day, timezone.datetime.min.time())) + timedelta(hours=9)
    visit = AppointmentFactory(patient=_patient(practice, own), start_at=start)
    huddle_services.build_scrubs()
    scrub = ChartScrub.objects.get(appointment=visit)
    if all_marked:
        scrub.items.filter(state=ScrubItem.State.NEEDS_ACTION).update(
            state=ScrubItem.State.DONE, note="matrix", marked_at=timezone.now()
        )
        ChartScrub.objects.filter(pk=scrub.pk).update(needs_action=0)
    return scrub


def _scrub_item_case(api: bool) -> Builder:
    def build(practice: Any, user: Any, own: bool) -> Case:
        from huddle.models import ScrubItem

        scrub = _scrub(practice, own)
        item = scrub.items.filter(state=ScrubItem.State.NEEDS_ACTION).first()
        if api:
            url = reverse("api-chartscrub-mark-item", args=[scrub.public_id, item.public_id])
            return Case("post", url, {"state": "done", "note": "ok"}, json=True)
        return Case("post", reverse("huddle_scrub_item", args=[scrub.public_id, item.public_id]), {"state": "done"})

    return build


HUDDLE_SHEET, HUDDLE_VIEW, HUDDLE_WORK = (
    "huddle.view_huddle_sheet",
    "huddle.view_chartscrub",
    "huddle.work_chartscrub",
)
ENDPOINTS.update(
    {
        "huddle_sheet": (HUDDLE_SHEET, False, [lambda p, u, o: Case("get", reverse("huddle_sheet"))]),
        "huddle_scrubs": (HUDDLE_VIEW, False, [lambda p, u, o: Case("get", reverse("huddle_scrubs"))]),
        "huddle_scrub": (
            HUDDLE_VIEW,
            True,
            [lambda p, u, o: Case("get", reverse("huddle_scrub", args=[_scrub(p, o).public_id]))],
        ),
        "huddle_scrub_item": (HUDDLE_WORK, True, [_scrub_item_case(api=False)]),
        "huddle_scrub_done": (
            HUDDLE_WORK,
            True,
            [
                lambda p, u, o: Case(
                    "post", reverse("huddle_scrub_done", args=[_scrub(p, o, all_marked=True).public_id])
                )
            ],
        ),
        "api-huddlesheet-list": (
            HUDDLE_SHEET,
            False,
            [
                lambda p, u, o: Case(
                    "get", reverse("api-huddlesheet-list") + f"?provider={p.users[Role.PROVIDER].public_id}"
                )
            ],
        ),
        "api-chartscrub-list": (HUDDLE_VIEW, False, [lambda p, u, o: Case("get", reverse("api-chartscrub-list"))]),
        "api-chartscrub-detail": (
            HUDDLE_VIEW,
            True,
            [lambda p, u, o: Case("get", reverse("api-chartscrub-detail", args=[_scrub(p, o).public_id]))],
        ),
        "api-chartscrub-mark-item": (HUDDLE_WORK, True, [_scrub_item_case(api=True)]),
        "api-chartscrub-scrubbed": (
            HUDDLE_WORK,
            True,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse("api-chartscrub-scrubbed", args=[_scrub(p, o, all_marked=True).public_id]),
                    {},
                    json=True,
                )
            ],
        ),
    }
)


# --- Chart history, outstanding results, documents API, care gaps (patients/) -------------------------
def _pdf() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("r.pdf", b"%PDF-1.4\n" + b"x" * 64, content_type="application/pdf")


def _expected_result(practice: Any, own: bool) -> Any:
    from patients.models import ExpectedResult

    return ExpectedResult.objects.create(
        patient=_patient(practice, own), title="Lipid panel", category="lab_result", expected_by=timezone.localdate()
    )


_HISTORY_BODIES = {
    "problem": {"code": "I10"},
    "medication": {"name": "Metformin 500 mg", "source": "clinician"},
    "allergy": {"substance": "Penicillin", "severity": "moderate"},
    "immunization": {"vaccine": "Influenza", "cvx_code": "141", "given_on": "2025-10-01"},
    "procedure": {"code": "mammogram", "performed_on": "2025-10-01"},
}


def _history_add(kind: str) -> Builder:
    return lambda p, u, o: Case(
        "post", reverse(f"history_add_{kind}", args=[_patient(p, o).public_id]), _HISTORY_BODIES[kind]
    )


def _doc_url(name: str) -> Builder:
    return lambda p, u, o: Case("get", reverse(name, args=[_document(p, o)[1].public_id]))


ENDPOINTS.update(
    {
        "document_refile": (
            "patients.change_chartdocument",
            True,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse("document_refile", args=[(d := _document(p, o))[0].public_id, d[1].public_id]),
                    {"category": "consult", "reason": "Misfiled"},
                )
            ],
        ),
        "expected_result_action": (
            "patients.change_expectedresult",
            True,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse(
                        "expected_result_action",
                        args=[(r := _expected_result(p, o)).patient.public_id, r.public_id, "cancel"],
                    ),
                    {"reason": "Declined"},
                )
            ],
        ),
        **{f"history_add_{k}": (f"patients.add_{k}", True, [_history_add(k)]) for k in _HISTORY_BODIES},
        "api-document-list": (
            "patients.view_chartdocument",
            False,
            [lambda p, u, o: Case("get", reverse("api-document-list"))],
        ),
        "api-document-create": (
            "patients.add_chartdocument",
            True,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse("api-document-list"),
                    {"patient": str(_patient(p, o).public_id), "category": "lab_result", "file": _pdf()},
                )
            ],
        ),
        "api-document-detail": ("patients.view_chartdocument", True, [_doc_url("api-document-detail")]),
        "api-document-download": ("patients.view_chartdocument", True, [_doc_url("api-document-download")]),
        "api-document-refile": (
            "patients.change_chartdocument",
            True,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse("api-document-refile", args=[_document(p, o)[1].public_id]),
                    {"category": "consult", "reason": "Misfiled"},
                    json=True,
                )
            ],
        ),
        "api-document-partner": (
            "patients.add_chartdocument",
            False,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse("api-document-partner"),
                    {
                        "mrn": (pt := _patient(p, o)).mrn,
                        "date_of_birth": pt.date_of_birth.isoformat(),
                        "category": "lab_result",
                        "file": _pdf(),
                    },
                )
            ],
        ),
        "api-patient-care-gaps": (
            "patients.view_procedure",
            True,
            [lambda p, u, o: Case("get", reverse("api-patient-care-gaps", args=[_patient(p, o).public_id]))],
        ),
    }
)
for _kind, _date_field in (("procedure", "performed_on"), ("immunization", "given_on")):
    ENDPOINTS.update(
        {
            f"api-{_kind}-list": (
                f"patients.view_{_kind}",
                False,
                [lambda p, u, o, k=_kind: Case("get", reverse(f"api-{k}-list"))],
            ),
            f"api-{_kind}-create": (
                f"patients.add_{_kind}",
                True,
                [
                    lambda p, u, o, k=_kind: Case(
                        "post",
                        reverse(f"api-{k}-list"),
                        {"patient": str(_patient(p, o).public_id), **_HISTORY_BODIES[k]},
                        json=True,
                    )
                ],
            ),
        }
    )
    BODY_REFERENCES[f"api-{_kind}-create"] = {"patient": ["No such patient."]}
    ROUTER_ALIASES[f"api-{_kind}-list"] = [f"api-{_kind}-list", f"api-{_kind}-create"]
BODY_REFERENCES["api-document-create"] = {"patient": ["No such patient."]}
ROUTER_ALIASES["api-document-list"] = ["api-document-list", "api-document-create"]


def _history_row(model: str, practice: Any, own: bool) -> Any:
    from patients.models import Immunization, Procedure

    patient = _patient(practice, own)
    if model == "procedure":
        return Procedure.objects.create(patient=patient, code="fit", performed_on=timezone.localdate())
    return Immunization.objects.create(patient=patient, vaccine="Flu", cvx_code="141", given_on=timezone.localdate())


ENDPOINTS.update(
    {
        f"api-{k}-detail": (
            f"patients.view_{k}",
            True,
            [lambda p, u, o, k=k: Case("get", reverse(f"api-{k}-detail", args=[_history_row(k, p, o).public_id]))],
        )
        for k in ("procedure", "immunization")
    }
)


# --- Incoming documents, history row changes, the expected-results API (patients/) --------------------
def _unmatched(practice: Any, own: bool) -> Any:
    """A partner document that matched no patient, posted by a lab account on the team (or the other)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from patients.models import UnmatchedDocument
    from vma.access import add_to_care_team

    lab = UserFactory(role=Role.FRONT_OFFICE)
    add_to_care_team(lab, practice.team if own else practice.other_team)
    kept = UnmatchedDocument(
        category="lab_result",
        title="CBC",
        content_type="image/png",
        size_bytes=len(PNG),
        claimed_mrn="NOPE-1",
        reason="No patient has MRN NOPE-1.",
        posted_by=lab,
    )
    kept.file.save("x", SimpleUploadedFile("x.png", PNG), save=True)
    return kept


def _incoming_action(action: str) -> Builder:
    def build(practice: Any, user: Any, own: bool) -> Case:
        kept = _unmatched(practice, own)
        data = (
            {"patient": str(_patient(practice, True).public_id), "category": "lab_result"}
            if action == "file"
            else {"reason": "Sent by mistake"}
        )
        return Case("post", reverse("incoming_document_action", args=[kept.public_id, action]), data)

    return build


def _medication(practice: Any, own: bool) -> Any:
    from patients.models import Medication

    return Medication.objects.create(patient=_patient(practice, own), name="Lisinopril")


def _problem(practice: Any, own: bool) -> Any:
    from patients.models import Problem

    return Problem.objects.create(patient=_patient(practice, own), code="I10", description="Hypertension")


def _filed_result(practice: Any, own: bool) -> tuple[Any, Any]:
    """An outstanding result and a document in the same chart that it could be matched to."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    result = _expected_result(practice, own)
    doc = ChartDocument(
        patient=result.patient, category="lab_result", title="Labs", content_type="image/png", size_bytes=len(PNG)
    )
    doc.file.save("x", SimpleUploadedFile("x.png", PNG), save=True)
    return result, doc


ENDPOINTS.update(
    {
        "incoming_documents": (
            "patients.view_unmatcheddocument",
            False,
            [lambda p, u, o: Case("get", reverse("incoming_documents"))],
        ),
        "incoming_document": (
            "patients.view_unmatcheddocument",
            True,
            [lambda p, u, o: Case("get", reverse("incoming_document", args=[_unmatched(p, o).public_id]))],
        ),
        "incoming_document_download": (
            "patients.view_unmatcheddocument",
            True,
            [lambda p, u, o: Case("get", reverse("incoming_document_download", args=[_unmatched(p, o).public_id]))],
        ),
        "incoming_document_action": (
            "patients.change_unmatcheddocument",
            True,
            [_incoming_action("file"), _incoming_action("discard")],
        ),
        "medication_stop": (
            "patients.change_medication",
            True,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse("medication_stop", args=[(m := _medication(p, o)).patient.public_id, m.public_id]),
                    {"stop_date": _TODAY, "reason": "Cough"},
                )
            ],
        ),
        "problem_resolve": (
            "patients.change_problem",
            True,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse("problem_resolve", args=[(pr := _problem(p, o)).patient.public_id, pr.public_id]),
                    {"resolved_on": _TODAY},
                )
            ],
        ),
        "api-expectedresult-list": (
            "patients.view_expectedresult",
            True,
            [
                lambda p, u, o: Case(
                    "get", reverse("api-expectedresult-list") + f"?patient={_expected_result(p, o).patient.public_id}"
                )
            ],
        ),
        "api-expectedresult-detail": (
            "patients.view_expectedresult",
            True,
            [
                lambda p, u, o: Case(
                    "get", reverse("api-expectedresult-detail", args=[_expected_result(p, o).public_id])
                )
            ],
        ),
        "api-expectedresult-match": (
            "patients.change_expectedresult",
            True,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse("api-expectedresult-match", args=[(rd := _filed_result(p, o))[0].public_id]),
                    {"document": str(rd[1].public_id)},
                    json=True,
                )
            ],
        ),
        "api-expectedresult-cancel": (
            "patients.change_expectedresult",
            True,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse("api-expectedresult-cancel", args=[_expected_result(p, o).public_id]),
                    {"reason": "Declined"},
                    json=True,
                )
            ],
        ),
    }
)


# --- billing (billing/): claims work list and detail, billing a visit, the claims API --------------
def _billing_claim(practice: Any, user: Any, own: bool, status: str = "draft") -> Any:
    """A claim with one line; the manager (on no team by default) is put on the practice's team."""
    from billing.models import Claim
    from billing.tests.factories import PRACTICE_NPI, TAX_ID, draft
    from vma.access import add_to_care_team

    if Role.MANAGER in user.role_names:
        add_to_care_team(user, practice.team)
    claim = draft(practice, own=own)
    Claim.objects.filter(pk=claim.pk).update(
        billing_npi=PRACTICE_NPI,
        billing_tax_id=TAX_ID,
        status=status,
        submitted_at=timezone.now() if status not in {"draft", "scrubbed"} else None,
        payer_claim_number="ICN1" if status == "paid" else "",
    )
    return Claim.objects.get(pk=claim.pk)


def _billing_visit(practice: Any, user: Any, own: bool) -> Any:
    from billing.tests.factories import codes, visit
    from vma.access import add_to_care_team

    if Role.MANAGER in user.role_names:
        add_to_care_team(user, practice.team)
    codes()
    return visit(practice, own=own)


def _api_claim(action: str, status: str = "draft", **data: Any) -> Builder:
    return lambda p, u, o: Case(
        "post", reverse(f"api-claim-{action}", args=[_billing_claim(p, u, o, status).public_id]), data, json=True
    )


CLAIM_VIEW, CLAIM_ADD, CLAIM_CHANGE, CLAIM_SCRUB, CLAIM_SUBMIT, CLAIM_VOID = (
    "billing.view_claim",
    "billing.add_claim",
    "billing.change_claim",
    "billing.scrub_claim",
    "billing.submit_claim",
    "billing.void_claim",
)
ENDPOINTS.update(
    {
        "billing_claims": (
            CLAIM_VIEW,
            False,
            [lambda p, u, o: Case("get", reverse("billing_claims") + "?status=draft")],
        ),
        "billing_claim_detail": (
            CLAIM_VIEW,
            True,
            [lambda p, u, o: Case("get", reverse("billing_claim_detail", args=[_billing_claim(p, u, o).public_id]))],
        ),
        "billing_claim_action": (
            CLAIM_CHANGE,
            True,
            [
                lambda p, u, o: Case(
                    "post", reverse("billing_claim_action", args=[_billing_claim(p, u, o).public_id, "scrub"])
                ),
                lambda p, u, o: Case(
                    "post",
                    reverse("billing_claim_action", args=[_billing_claim(p, u, o).public_id, "add_diagnosis"]),
                    {"code": "I10"},
                ),
            ],
        ),
        "billing_bill_visit": (
            CLAIM_ADD,
            True,
            [lambda p, u, o: Case("post", reverse("billing_bill_visit", args=[_billing_visit(p, u, o).public_id]))],
        ),
        "api-claim-list": (CLAIM_VIEW, False, [lambda p, u, o: Case("get", reverse("api-claim-list"))]),
        "api-claim-create": (
            CLAIM_ADD,
            True,
            [
                lambda p, u, o: Case(
                    "post",
                    reverse("api-claim-list"),
                    {"appointment": str(_billing_visit(p, u, o).public_id), "diagnoses": ["I10"]},
                    json=True,
                )
            ],
        ),
        "api-claim-detail": (
            CLAIM_VIEW,
            True,
            [lambda p, u, o: Case("get", reverse("api-claim-detail", args=[_billing_claim(p, u, o).public_id]))],
        ),
        "api-claim-lines": (
            CLAIM_CHANGE,
            True,
            [_api_claim("lines", procedure_code="36415", diagnosis_pointers=[1])],
        ),
        "api-claim-diagnoses": (CLAIM_CHANGE, True, [_api_claim("diagnoses", code="I10")]),
        "api-claim-scrub": (CLAIM_SCRUB, True, [_api_claim("scrub")]),
        "api-claim-submit": (CLAIM_SUBMIT, True, [_api_claim("submit", "scrubbed")]),
        "api-claim-reopen": (CLAIM_CHANGE, True, [_api_claim("reopen", "rejected")]),
        "api-claim-void": (CLAIM_VOID, True, [_api_claim("void", "paid", reason="Billed in error")]),
        "api-claim-correct": (CLAIM_VOID, True, [_api_claim("correct", "paid", reason="Wrong units")]),
    }
)
BODY_REFERENCES["api-claim-create"] = {"appointment": ["No such appointment."]}
ROUTER_ALIASES["api-claim-list"] = ["api-claim-list", "api-claim-create"]


def _merge_app_parts() -> None:
    """Each app's part of the matrix lives in tests/matrix/<app>.py; a name may be listed once."""
    import importlib

    from .matrix import APP_MODULES

    for module_name in APP_MODULES:
        part = importlib.import_module(f"tests.matrix.{module_name}")
        clash = set(part.ENDPOINTS) & set(ENDPOINTS)
        assert not clash, f"{module_name}: listed twice in the matrix: {sorted(clash)}"
        ENDPOINTS.update(part.ENDPOINTS)
        BODY_REFERENCES.update(part.BODY_REFERENCES)
        ROUTER_ALIASES.update(part.ROUTER_ALIASES)
        PUBLIC.update(getattr(part, "PUBLIC", ()))  # a part's patient-facing token pages (no login)


_merge_app_parts()


def _all_url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list[Any], prefix: str = "") -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{prefix}{p.namespace}:" if p.namespace else prefix
                if p.namespace == "admin":
                    names.add("admin:index")  # Django's admin enforces staff and model perms itself
                    continue
                walk(p.url_patterns, ns)
            elif isinstance(p, URLPattern) and p.name:
                names.add(prefix + p.name)

    walk(get_resolver().url_patterns)
    # DRF's format-suffix variants and the schema's own names are the same views.
    return {n for n in names if not n.endswith("-format")}


def test_every_url_is_in_the_matrix():
    covered = set(PUBLIC) | set(ENDPOINTS)
    for router_name, entries in ROUTER_ALIASES.items():
        if all(e in ENDPOINTS for e in entries):
            covered.add(router_name)
    missing = sorted(_all_url_names() - covered)
    assert not missing, f"Endpoints missing from the permission matrix: {missing}"


def _expected(role: str, perm: str | None) -> bool:
    if perm is None:
        return True
    if perm == "is_staff":
        return role == Role.ADMIN
    return perm in ROLE_PERMISSIONS[role]


def _cases() -> list[Any]:
    out = []
    for name, (_perm, scoped, builders) in ENDPOINTS.items():
        for i, _ in enumerate(builders):
            for role in Role:
                out.append(pytest.param(name, i, role.value, True, id=f"{name}[{i}]-{role.value}-own"))
                if scoped:
                    out.append(pytest.param(name, i, role.value, False, id=f"{name}[{i}]-{role.value}-other-team"))
    return out


def _send(client: Any, case: Case) -> Any:
    fn = getattr(client, case.method)
    if case.json:
        return fn(case.url, case.data, content_type="application/json")
    if case.data is None:
        return fn(case.url)
    return fn(case.url, case.data)


@pytest.mark.parametrize(("name", "index", "role", "own"), _cases())
def test_role_endpoint_matrix(client, practice, name, index, role, own, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    perm, scoped, builders = ENDPOINTS[name]
    user = practice.users[role]
    if role == Role.ADMIN:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    case = builders[index](practice, user, own)
    client.force_login(user)
    response = _send(client, case)
    allowed = _expected(role, perm) and (own or not scoped)
    if allowed:
        assert response.status_code in {200, 201, 204, 302}, (
            response.status_code,
            getattr(response, "content", b"")[:300],
        )
        if response.status_code == 302:
            assert "/login/" not in response["Location"], response["Location"]
    elif scoped and _expected(role, perm):
        # Another team's record: the same answer as a record that does not exist.
        if name in BODY_REFERENCES:
            # The id is in the request body: a field error, identical to an unknown id's.
            assert response.status_code == 400 and response.json() == BODY_REFERENCES[name]
        else:
            assert response.status_code == 404, response.status_code
    else:
        assert response.status_code in {403, 404} or (
            response.status_code == 302 and "login" in response["Location"]
        ), response.status_code


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_anonymous_is_refused_everywhere(client, practice, name, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    _perm, _scoped, builders = ENDPOINTS[name]
    case = builders[0](practice, practice.users[Role.FRONT_OFFICE], True)
    response = _send(client, case)
    if name == "home":
        assert response.status_code == 302 and response["Location"].endswith("/login/")
        return
    assert response.status_code in {401, 403} or (response.status_code == 302 and "login" in response["Location"]), (
        name,
        response.status_code,
    )

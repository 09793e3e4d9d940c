"""The role × endpoint matrix: every URL and API endpoint, every role, reads and writes.

The expected answer comes from vma.access.ROLE_PERMISSIONS (the table in code) and the
permission each endpoint requires (ENDPOINTS below). An object of another care team answers
404 for every role, pages and API alike. A URL the table does not list fails the test, so a
new endpoint cannot ship without being placed in the matrix.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
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

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class Case:
    method: str
    url: str
    data: Any = None
    json: bool = False


Builder = Callable[[Any, Any, bool], Case]


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
    "admin:index": ("is_staff", False, [lambda p, u, o: Case("get", reverse("admin:index"))]),
}
# Open to everyone by design: signing in and out, and the health probe (no patient data).
PUBLIC = {"login", "logout", "healthz"}
# Endpoints whose object is named in the body rather than the URL.
BODY_REFERENCES = {
    "api-coverage-create": {"patient": ["No such patient."]},
    "api-eligibilitycheck-create": {"coverage": ["No such coverage."]},
}
# Router names that stand for several entries above (list/detail serve reads and writes).
ROUTER_ALIASES = {
    "api-patient-list": ["api-patient-list", "api-patient-create"],
    "api-patient-detail": ["api-patient-detail", "api-patient-update"],
    "api-coverage-list": ["api-coverage-list", "api-coverage-create"],
    "api-coverage-detail": ["api-coverage-detail", "api-coverage-update"],
    "api-eligibilitycheck-list": ["api-eligibilitycheck-list", "api-eligibilitycheck-create"],
}


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

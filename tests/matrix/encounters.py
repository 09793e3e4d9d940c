"""Matrix entries for encounters (see tests/matrix/__init__.py)."""

from __future__ import annotations

import uuid
from typing import Any

from django.urls import reverse

from .base import Case, Entries

VIEW, OPEN, DRAFT, SIGN, ADDENDUM = (
    "encounters.view_encounter",
    "encounters.add_encounter",
    "encounters.change_encounter",
    "encounters.sign_encounter",
    "encounters.add_addendum",
)
VIEW_AVS, PREPARE_AVS, DELIVER_AVS = (
    "encounters.view_aftervisitsummary",
    "encounters.prepare_aftervisitsummary",
    "encounters.deliver_aftervisitsummary",
)
VIEW_LIBRARY, PROPOSE, APPROVE = (
    "encounters.view_educationmaterial",
    "encounters.add_educationmaterial",
    "encounters.approve_educationmaterial",
)


def _visit(p: Any, own: bool) -> Any:
    from encounters.tests.helpers import checked_in_visit
    from tests.factories import PatientFactory

    return checked_in_visit(PatientFactory(care_team=p.team if own else p.other_team))


def _note(p: Any, own: bool, state: str = "draft") -> Any:
    """A note of the team's provider (own) or of the other team's, in the given state."""
    from encounters import services, workflow
    from encounters.selectors import note_hash
    from encounters.tests.helpers import complete_note

    provider = p.team.provider if own else p.outsider_provider
    enc = services.open_encounter(_visit(p, own), actor=provider)[0]
    if state == "draft":
        return enc
    complete_note(enc, provider)
    if state == "complete":
        return enc
    enc = workflow.mark_ready(enc, actor=provider)
    if state == "pended":
        return enc
    return workflow.sign_note(enc.public_id, provider=provider, expected_hash=note_hash(enc))


def _material(p: Any, u: Any, o: bool) -> Any:
    from encounters.models import EducationMaterial

    return EducationMaterial.objects.create(title=f"Handout {uuid.uuid4().hex[:8]}", body="Plain words.")


def _url(name: str, state: str = "draft") -> Any:
    return lambda p, o: reverse(name, args=[_note(p, o, state).public_id])


def _page(name: str, method: str = "get", state: str = "draft", data: dict[str, Any] | None = None) -> Any:
    return lambda p, u, o: Case(method, _url(name, state)(p, o), data)


def _api(name: str, method: str, state: str = "draft", data: dict[str, Any] | None = None) -> Any:
    return lambda p, u, o: Case(method, _url(name, state)(p, o), data if data is not None else {}, json=True)


def _sign_page(p: Any, u: Any, o: bool) -> Case:
    from encounters.selectors import note_hash

    enc = _note(p, o, "pended")
    return Case("post", reverse("encounters_sign", args=[enc.public_id]), {"hash": note_hash(enc)})


def _sign_api(p: Any, u: Any, o: bool) -> Case:
    from encounters.selectors import note_hash

    enc = _note(p, o, "pended")
    return Case("post", reverse("api-encounter-sign", args=[enc.public_id]), {"hash": note_hash(enc)}, json=True)


def _dx(name: str, *, api: bool) -> Any:
    def build(p: Any, u: Any, o: bool) -> Case:
        enc = _note(p, o, "complete")
        dx = enc.diagnoses.get()
        if api:
            return Case("delete", reverse(name, args=[enc.public_id, dx.public_id]))
        return Case("post", reverse(name, args=[enc.public_id, dx.public_id]), {"action": "remove"})

    return build


ENDPOINTS: Entries = {
    # Pages
    "encounters_list": (VIEW, False, [lambda p, u, o: Case("get", reverse("encounters_list"))]),
    "encounters_open": (
        OPEN,
        True,
        [lambda p, u, o: Case("post", reverse("encounters_open", args=[_visit(p, o).public_id]))],
    ),
    "encounters_note": (VIEW, True, [_page("encounters_note")]),
    "encounters_field": (
        DRAFT,
        True,
        [_page("encounters_field", "post", data={"field": "hpi", "value": "Cough.", "base_hpi": 1})],
    ),
    "encounters_presence": (VIEW, True, [_page("encounters_presence", "post", data={"status": "draft"})]),
    "encounters_diagnoses": (DRAFT, True, [_page("encounters_diagnoses", "post", data={"code": "I10"})]),
    "encounters_diagnosis": (DRAFT, True, [_dx("encounters_diagnosis", api=False)]),
    "encounters_ready": (DRAFT, True, [_page("encounters_ready", "post", state="complete")]),
    "encounters_sign": (SIGN, True, [_sign_page]),
    "encounters_send_back": (
        SIGN,
        True,
        [_page("encounters_send_back", "post", state="pended", data={"comment": "Add the exam."})],
    ),
    "encounters_addendum": (
        ADDENDUM,
        True,
        [_page("encounters_addendum", "post", state="signed", data={"text": "Late entry."})],
    ),
    "encounters_avs": (VIEW_AVS, True, [_page("encounters_avs", state="signed")]),
    "encounters_avs_prepare": (
        PREPARE_AVS,
        True,
        [_page("encounters_avs_prepare", "post", state="signed", data={"follow_up": "Return in 4 weeks."})],
    ),
    "encounters_avs_deliver": (
        DELIVER_AVS,
        True,
        [_page("encounters_avs_deliver", "post", state="signed", data={"channel": "sms"})],
    ),
    "encounters_education": (VIEW_LIBRARY, False, [lambda p, u, o: Case("get", reverse("encounters_education"))]),
    "encounters_education_add": (
        PROPOSE,
        False,
        [
            lambda p, u, o: Case(
                "post",
                reverse("encounters_education_add"),
                {"title": f"Handout {uuid.uuid4().hex[:8]}", "body": "Plain words."},
            )
        ],
    ),
    "encounters_education_action": (
        APPROVE,
        False,
        [
            lambda p, u, o: Case(
                "post", reverse("encounters_education_action", args=[_material(p, u, o).public_id, "approve"])
            )
        ],
    ),
    # API
    "api-encounter-list": (VIEW, False, [lambda p, u, o: Case("get", reverse("api-encounter-list"))]),
    "api-encounter-detail": (VIEW, True, [lambda p, u, o: Case("get", _url("api-encounter-detail")(p, o))]),
    "api-encounter-update": (
        DRAFT,
        True,
        [_api("api-encounter-detail", "patch", data={"version": 1, "hpi": "Cough."})],
    ),
    "api-encounter-diagnoses": (DRAFT, True, [_api("api-encounter-diagnoses", "post", data={"code": "I10"})]),
    "api-encounter-diagnosis": (DRAFT, True, [_dx("api-encounter-diagnosis", api=True)]),
    "api-encounter-ready": (DRAFT, True, [_api("api-encounter-ready", "post", state="complete")]),
    "api-encounter-sign": (SIGN, True, [_sign_api]),
    "api-encounter-addenda": (VIEW, True, [lambda p, u, o: Case("get", _url("api-encounter-addenda", "signed")(p, o))]),
    "api-encounter-addenda-add": (
        ADDENDUM,
        True,
        [_api("api-encounter-addenda", "post", state="signed", data={"text": "Late entry."})],
    ),
    "api-encounter-summary": (
        VIEW_AVS,
        True,
        [lambda p, u, o: Case("get", _url("api-encounter-summary", "signed")(p, o))],
    ),
    "api-encounter-summary-prepare": (
        PREPARE_AVS,
        True,
        [_api("api-encounter-summary", "patch", state="signed", data={"follow_up": "Return in 4 weeks."})],
    ),
    "api-encounter-deliver": (DELIVER_AVS, True, [_api("api-encounter-deliver", "post", state="signed")]),
}
BODY_REFERENCES: dict[str, dict[str, list[str]]] = {}
ROUTER_ALIASES: dict[str, list[str]] = {
    "api-encounter-detail": ["api-encounter-detail", "api-encounter-update"],
    "api-encounter-addenda": ["api-encounter-addenda", "api-encounter-addenda-add"],
    "api-encounter-summary": ["api-encounter-summary", "api-encounter-summary-prepare"],
}
# The patient's after-visit-summary link: public (no login; a signed, expiring token and two
# identifiers with lockout), tested in encounters/tests/test_avs.py.
PUBLIC = {"encounters_avs_patient", "encounters_avs_patient_view"}

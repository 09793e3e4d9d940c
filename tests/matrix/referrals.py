"""Matrix entries for referrals (see tests/matrix/__init__.py).

Referrals hang off patients: another team's answers 404. The manager (on no team by default) is
put on the practice's team when a case is about its own team, so "own" means reachable. The
specialist endpoints answer only a specialist's token: no role holds `referrals.respond_referral`,
so every signed-in person is refused there (referrals/tests/test_specialist_api.py covers tokens).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from .base import Builder, Case, Entries

VIEW, ADD, WORK, REVIEW = (f"referrals.{p}_referral" for p in ("view", "add", "change", "review"))
DASHBOARD = "referrals.view_referral_dashboard"
VIEW_SPECIALIST = "referrals.view_specialist"
RESPOND = "referrals.respond_referral"
ADD_DOCUMENT = "patients.add_chartdocument"


def _referral(p: Any, u: Any, own: bool, state: str = "draft") -> Any:
    from referrals.tests.factories import advance, ready
    from tests.factories import PatientFactory
    from vma.access import add_to_care_team
    from vma.roles import Role

    if own and Role.MANAGER in u.role_names:
        add_to_care_team(u, p.team)
    patient = PatientFactory(care_team=p.team if own else p.other_team)
    return advance(ready(patient), state)


def _pdf() -> Any:
    from referrals.tests.factories import pdf

    return pdf()


def _soon() -> str:
    return (timezone.now() + timedelta(days=5)).isoformat()


def page_action(action: str, state: str, **data: Any) -> Builder:
    return lambda p, u, o: Case(
        "post", reverse("referrals_action", args=[_referral(p, u, o, state).public_id, action]), data
    )


def api_action(action: str, state: str, json: bool = True, **data: Any) -> Builder:
    def build(p: Any, u: Any, o: bool) -> Case:
        payload = {k: (v() if callable(v) else v) for k, v in data.items()}
        url = reverse(f"api-referral-{action}", args=[_referral(p, u, o, state).public_id])
        return Case("post", url, payload, json=json)

    return build


def specialist_case(name: str, method: str = "get", **data: Any) -> Builder:
    def build(p: Any, u: Any, o: bool) -> Case:
        referral = _referral(p, u, o, "sent")
        if name == "list":
            return Case("get", reverse("api-specialistreferral-list"))
        kwargs: dict[str, Any] = {"id": referral.public_id}
        if name == "document":
            kwargs["document_id"] = "00000000-0000-0000-0000-000000000000"
        url = reverse(f"api-specialistreferral-{name}", kwargs=kwargs)
        return Case(method, url, {k: (v() if callable(v) else v) for k, v in data.items()}, json=method == "post")

    return build


ENDPOINTS: Entries = {
    # Pages
    "referrals_list": (VIEW, False, [lambda p, u, o: Case("get", reverse("referrals_list") + "?status=all")]),
    "referrals_dashboard": (DASHBOARD, False, [lambda p, u, o: Case("get", reverse("referrals_dashboard"))]),
    "referrals_specialists": (VIEW_SPECIALIST, False, [lambda p, u, o: Case("get", reverse("referrals_specialists"))]),
    "referrals_new": (
        ADD,
        True,
        [
            lambda p, u, o: Case(
                "get",
                reverse("referrals_new") + f"?patient={_referral(p, u, o).patient.public_id}",
            )
        ],
    ),
    "referrals_detail": (
        VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("referrals_detail", args=[_referral(p, u, o).public_id]))],
    ),
    "referrals_action": (
        WORK,
        True,
        [
            page_action("send", "draft"),
            page_action("acknowledge", "sent", channel="phone"),
            page_action("contact", "sent", channel="phone", direction="out", note="Called"),
            page_action("cancel", "draft", reason="No longer needed"),
            page_action("authorization", "sent", authorization_number="A-1", visits_allowed="2", visits_used="0"),
        ],
    ),
    "referrals_report": (
        ADD_DOCUMENT,
        True,
        [
            lambda p, u, o: Case(
                "post",
                reverse("referrals_report", args=[_referral(p, u, o, "scheduled").public_id]),
                {"file": _pdf(), "title": "Consult"},
            )
        ],
    ),
    "referrals_review": (
        REVIEW,
        True,
        [
            lambda p, u, o: Case(
                "post", reverse("referrals_review", args=[_referral(p, u, o, "report_received").public_id])
            )
        ],
    ),
    "referrals_refer_again": (
        ADD,
        True,
        [
            lambda p, u, o: Case(
                "post", reverse("referrals_refer_again", args=[_referral(p, u, o, "declined").public_id])
            )
        ],
    ),
    # Staff API
    "api-referral-list": (VIEW, False, [lambda p, u, o: Case("get", reverse("api-referral-list"))]),
    "api-referral-create": (
        ADD,
        True,
        [
            lambda p, u, o: Case(
                "post",
                reverse("api-referral-list"),
                {"patient": str(_referral(p, u, o).patient.public_id), "specialty": "Cardiology"},
                json=True,
            )
        ],
    ),
    "api-referral-detail": (
        VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("api-referral-detail", args=[_referral(p, u, o).public_id]))],
    ),
    "api-referral-update": (
        WORK,
        True,
        [
            lambda p, u, o: Case(
                "patch",
                reverse("api-referral-detail", args=[_referral(p, u, o).public_id]),
                {"reason": "Palpitations"},
                json=True,
            )
        ],
    ),
    "api-referral-send": (WORK, True, [api_action("send", "draft")]),
    "api-referral-acknowledge": (WORK, True, [api_action("acknowledge", "sent", channel="phone")]),
    "api-referral-schedule": (WORK, True, [api_action("schedule", "sent", appointment_at=_soon)]),
    "api-referral-seen": (WORK, True, [api_action("seen", "sent")]),
    "api-referral-decline": (WORK, True, [api_action("decline", "sent", reason="Not our field")]),
    "api-referral-cancel": (WORK, True, [api_action("cancel", "draft", reason="No longer needed")]),
    "api-referral-contacts": (WORK, True, [api_action("contacts", "sent", channel="phone", note="Called")]),
    "api-referral-report": (ADD_DOCUMENT, True, [api_action("report", "scheduled", json=False, file=_pdf)]),
    "api-referral-review": (REVIEW, True, [api_action("review", "report_received")]),
    "api-referral-refer-again": (ADD, True, [api_action("refer-again", "declined")]),
    # The specialist's API: tokens of a linked specialist only
    "api-specialistreferral-list": (RESPOND, False, [specialist_case("list")]),
    "api-specialistreferral-detail": (RESPOND, False, [specialist_case("detail")]),
    "api-specialistreferral-acknowledge": (RESPOND, False, [specialist_case("acknowledge", "post")]),
    "api-specialistreferral-decline": (RESPOND, False, [specialist_case("decline", "post", reason="No")]),
    "api-specialistreferral-appointment": (
        RESPOND,
        False,
        [specialist_case("appointment", "post", appointment_at=_soon)],
    ),
    "api-specialistreferral-report": (RESPOND, False, [specialist_case("report", "post")]),
    "api-specialistreferral-document": (RESPOND, False, [specialist_case("document")]),
}
BODY_REFERENCES: dict[str, dict[str, list[str]]] = {"api-referral-create": {"patient": ["No such patient."]}}
ROUTER_ALIASES: dict[str, list[str]] = {
    "api-referral-list": ["api-referral-list", "api-referral-create"],
    "api-referral-detail": ["api-referral-detail", "api-referral-update"],
}

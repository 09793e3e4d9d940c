"""Reads of intake: packets within access, one packet's answers, questionnaires, and the completion measure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from vma.access import patient_scope_q
from vma.models import User

from .models import IntakePacket, IntakeResponse, ProposedChange, Questionnaire

VIEW_PACKET = "intake.view_intakepacket"
VIEW_QUESTIONNAIRE = "intake.view_questionnaire"
S = IntakePacket.Status


def accessible_packets(user: User) -> QuerySet[IntakePacket]:
    """The one choke point for packet lists and details: intake readers, own care teams."""
    if not user.is_authenticated or not user.has_perm(VIEW_PACKET):
        return IntakePacket.objects.none()
    return IntakePacket.objects.filter(patient_scope_q(user))


def access_packet(user: User, public_id: Any) -> IntakePacket:
    """A packet the user may see, or 404 (missing and not yours answer alike)."""
    try:
        return accessible_packets(user).select_related("patient", "appointment", "reviewed_by").get(public_id=public_id)
    except (IntakePacket.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such intake packet.") from None


def access_change(user: User, packet: IntakePacket, public_id: Any) -> ProposedChange:
    try:
        return packet.proposed_changes.get(public_id=public_id)
    except (ProposedChange.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such change.") from None


def accessible_responses(user: User) -> QuerySet[IntakeResponse]:
    if not user.is_authenticated or not user.has_perm(VIEW_PACKET):
        return IntakeResponse.objects.none()
    return IntakeResponse.objects.filter(patient_scope_q(user, "packet__patient"))


def packet_list(user: User, *, status: str = "") -> QuerySet[IntakePacket]:
    """The staff list: one query whatever its length (flags are columns on the packet)."""
    qs = accessible_packets(user).select_related("patient", "appointment").order_by("expires_at", "id")
    if status:
        qs = qs.filter(status=status)
    return qs


@dataclass
class Answer:
    question: str
    value: str


@dataclass
class ResponseView:
    response: IntakeResponse
    answers: list[Answer]


def _display(question: dict[str, Any], value: Any) -> str:
    labels = {str(o["value"]): o["label"] for o in question.get("options", [])}
    if isinstance(value, list):
        return ", ".join(labels.get(str(v), str(v)) for v in value)
    if question.get("type") == "file":
        return "Photo filed to the chart" if value else ""
    if question.get("type") == "yes_no":
        return {"yes": "Yes", "no": "No"}.get(str(value), str(value or ""))
    return labels.get(str(value), str(value or ""))


def packet_answers(packet: IntakePacket) -> list[ResponseView]:
    """Each questionnaire with its questions and the patient's answers, readable."""
    out = []
    for response in packet.responses.select_related("questionnaire").order_by("position", "id"):
        answers = [
            Answer(q["text"], _display(q, response.answers.get(q["id"]))) for q in response.questionnaire.questions()
        ]
        out.append(ResponseView(response, answers))
    return out


def active_questionnaires() -> QuerySet[Questionnaire]:
    return Questionnaire.objects.filter(active=True)


# ---------------------------------------------------------------------------------------------
# Completion and abandonment (what a manager reads), computed in the database
# ---------------------------------------------------------------------------------------------


@dataclass
class CompletionRow:
    key: str  # a visit type, or a questionnaire code
    sent: int
    opened: int
    submitted: int

    @property
    def completion_rate(self) -> float | None:
        return round(self.submitted / self.sent, 3) if self.sent else None


@dataclass
class CompletionReport:
    by_visit_type: list[CompletionRow]
    by_questionnaire: list[CompletionRow]
    # (visit type, section label) -> packets that stopped there (abandoned or expired unfinished)
    abandoned_at: list[dict[str, Any]]


def completion_report(start: datetime, end: datetime) -> CompletionReport:
    """Per visit type and per questionnaire: sent / opened / submitted of packets sent in [start, end)."""
    sent = IntakePacket.objects.filter(sent_at__gte=start, sent_at__lt=end)
    by_type = (
        sent.values("appointment__visit_type")
        .annotate(
            n_sent=Count("id"),
            n_opened=Count("id", filter=Q(opened_at__isnull=False)),
            n_submitted=Count("id", filter=Q(submitted_at__isnull=False)),
        )
        .order_by("appointment__visit_type")
    )
    by_form = (
        IntakeResponse.objects.filter(packet__in=sent)
        .values("questionnaire__code")
        .annotate(
            n_sent=Count("id"),
            n_opened=Count("id", filter=Q(packet__opened_at__isnull=False)),
            n_submitted=Count("id", filter=Q(completed_at__isnull=False)),
        )
        .order_by("questionnaire__code")
    )
    stopped = (
        sent.filter(status__in=[S.ABANDONED, S.EXPIRED], submitted_at__isnull=True)
        .values("appointment__visit_type", "furthest_section")
        .annotate(packets=Count("id"))
        .order_by("appointment__visit_type", "-packets", "furthest_section")
    )
    return CompletionReport(
        by_visit_type=[
            CompletionRow(r["appointment__visit_type"], r["n_sent"], r["n_opened"], r["n_submitted"]) for r in by_type
        ],
        by_questionnaire=[
            CompletionRow(r["questionnaire__code"], r["n_sent"], r["n_opened"], r["n_submitted"]) for r in by_form
        ],
        abandoned_at=[
            {
                "visit_type": r["appointment__visit_type"],
                "section": r["furthest_section"] or "(never started)",
                "packets": r["packets"],
            }
            for r in stopped
        ],
    )

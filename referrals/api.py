"""Referrals: REST endpoints. Staff work referrals of their care teams; a specialist's system (token
scope referrals:specialist, account linked to a Specialist) sees and answers only its own.

`register(router)` is called by vma/urls.py. Errors: 400 field messages, 404 for another team's or
another specialist's referral (as for a missing one), 409 for a move the workflow refuses — a
refused send lists the packet's missing lines.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from patients.models import ChartDocument, Coverage
from vma.access import access_patient
from vma.api.mixins import AuditedReadMixin, PatientDataViewSet
from vma.api.pagination import CreatedCursorPagination
from vma.audit import record_read
from vma.http import user_of
from vma.models import ApiToken

from . import policy, services, workflow
from .models import Referral, ReferralContact, Specialist
from .packet import build_packet
from .selectors import (
    ListFilters,
    accessible_referrals,
    contacts,
    filter_referrals,
    specialist_of,
    specialist_referrals,
)

READ = (policy.VIEW, "referrals:read")
WRITE = (policy.WORK, "referrals:write")
SPECIALIST_SCOPE = "referrals:specialist"
CHANNELS = [c for c in ReferralContact.Channel.values if c not in ("system", "api")]


# ---------------------------------------------------------------------------------------------
# Serializers
# ---------------------------------------------------------------------------------------------


class ReferralSpecialistOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")

    class Meta:
        model = Specialist
        fields = ["id", "organisation", "name", "specialty", "npi", "contact_method"]


class ReferralContactOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    by = serializers.CharField(source="by_label")

    class Meta:
        model = ReferralContact
        fields = ["id", "at", "by", "channel", "direction", "from_status", "to_status", "note"]


class ReferralPacketLineOut(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    ok = serializers.BooleanField()
    required = serializers.BooleanField()  # type: ignore[assignment]
    detail = serializers.CharField()


class ReferralPacketOut(serializers.Serializer):
    complete = serializers.BooleanField()
    lines = ReferralPacketLineOut(many=True)
    warnings = serializers.ListField(child=serializers.CharField())


CLINICAL = ("clinical_notes", "documents")


class ReferralOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    patient_name = serializers.SerializerMethodField()
    referring_provider = serializers.UUIDField(source="referring_provider.public_id")
    specialist = ReferralSpecialistOut(allow_null=True)
    order = serializers.UUIDField(source="order.public_id", default=None)
    replaces = serializers.UUIDField(source="replaces.public_id", default=None)
    coverage = serializers.UUIDField(source="coverage.public_id", default=None)
    report_document = serializers.UUIDField(source="report_document.public_id", default=None)
    documents = serializers.SlugRelatedField(slug_field="public_id", many=True, read_only=True)  # type: ignore[var-annotated]

    class Meta:
        model = Referral
        fields = [
            "id",
            "patient",
            "patient_name",
            "status",
            "status_reason",
            "specialty",
            "reason",
            "urgency",
            "diagnosis_code",
            "diagnosis_description",
            "specialist",
            "referring_provider",
            "order",
            "replaces",
            "clinical_notes",
            "documents",
            "results_not_needed",
            "results_note",
            "coverage",
            "self_pay",
            "authorization_number",
            "visits_allowed",
            "visits_used",
            "authorization_expires_on",
            "appointment_at",
            "report_document",
            "created_at",
            "sent_at",
            "acknowledged_at",
            "first_scheduled_at",
            "seen_at",
            "report_received_at",
            "reviewed_at",
            "ended_at",
            "followup_due_at",
        ]

    def get_patient_name(self, obj: Referral) -> str:
        return f"{obj.patient.last_name}, {obj.patient.first_name}"

    def to_representation(self, instance: Referral) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        # Minimum necessary: the clinical part of the packet only for roles that read chart documents.
        if request is not None and not user_of(request).has_perm("patients.view_chartdocument"):
            for name in CLINICAL:
                data.pop(name, None)
        return data


class ReferralDetailOut(ReferralOut):
    packet = serializers.SerializerMethodField()
    contacts = serializers.SerializerMethodField()

    class Meta(ReferralOut.Meta):
        fields = [*ReferralOut.Meta.fields, "packet", "contacts"]

    @extend_schema_field(ReferralPacketOut)
    def get_packet(self, obj: Referral) -> dict[str, Any]:
        return dict(ReferralPacketOut(build_packet(obj)).data)

    @extend_schema_field(ReferralContactOut(many=True))
    def get_contacts(self, obj: Referral) -> list[dict[str, Any]]:
        return list(ReferralContactOut(contacts(obj), many=True).data)


class ReferralIn(serializers.Serializer):
    patient = serializers.UUIDField(help_text="Public id of one of your patients.")
    specialty = serializers.CharField(max_length=80)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    urgency = serializers.ChoiceField(choices=Referral.Urgency.choices, default=Referral.Urgency.ROUTINE)
    diagnosis_code = serializers.CharField(max_length=12, required=False, allow_blank=True, default="")
    specialist = serializers.UUIDField(required=False, allow_null=True, default=None)
    clinical_notes = serializers.CharField(required=False, allow_blank=True, default="")


class ReferralPacketIn(serializers.Serializer):
    """Packet fields (while a draft) and the plan's authorization (while open); send only what changes."""

    specialist = serializers.UUIDField(required=False, allow_null=True)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True)
    urgency = serializers.ChoiceField(choices=Referral.Urgency.choices, required=False)
    diagnosis_code = serializers.CharField(max_length=12, required=False, allow_blank=True)
    clinical_notes = serializers.CharField(required=False, allow_blank=True)
    results_not_needed = serializers.BooleanField(required=False)
    results_note = serializers.CharField(max_length=300, required=False, allow_blank=True)
    coverage = serializers.UUIDField(required=False, allow_null=True)
    self_pay = serializers.BooleanField(required=False)
    documents = serializers.ListField(child=serializers.UUIDField(), required=False)
    authorization_number = serializers.CharField(max_length=40, required=False, allow_blank=True)
    visits_allowed = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    visits_used = serializers.IntegerField(min_value=0, required=False)
    authorization_expires_on = serializers.DateField(required=False, allow_null=True)


class ReferralNoteIn(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    channel = serializers.ChoiceField(choices=CHANNELS, required=False)


class ReferralScheduleIn(ReferralNoteIn):
    appointment_at = serializers.DateTimeField()


class ReferralSeenIn(ReferralNoteIn):
    seen_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ReferralReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300)
    channel = serializers.ChoiceField(choices=CHANNELS, required=False)


class ReferralContactIn(serializers.Serializer):
    channel = serializers.ChoiceField(choices=CHANNELS)
    direction = serializers.ChoiceField(choices=ReferralContact.Direction.choices, default="out")
    note = serializers.CharField(max_length=500)


class ReferralReportIn(serializers.Serializer):
    file = serializers.FileField(help_text="PDF, PNG or JPEG, within the document size limit.")
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ReferralStaffReportIn(ReferralReportIn):
    channel = serializers.ChoiceField(choices=CHANNELS, required=False)


class ReferralReviewIn(serializers.Serializer):
    note = serializers.CharField(max_length=250, required=False, allow_blank=True, default="")


Refusal = inline_serializer("ReferralRefusal", {"detail": serializers.CharField()})
SendRefusal = inline_serializer(
    "ReferralSendRefusal", {"detail": serializers.CharField(), "missing": ReferralPacketLineOut(many=True)}
)


def _specialist(value: Any) -> Specialist | None:
    if value is None:
        return None
    found = Specialist.objects.filter(public_id=value, active=True).first()
    if found is None:
        raise serializers.ValidationError({"specialist": ["No such specialist in the directory."]})
    return found


def _packet_changes(referral: Referral, data: dict[str, Any]) -> dict[str, Any]:
    changes = dict(data)
    if "specialist" in changes:
        changes["specialist"] = _specialist(changes["specialist"])
    if "coverage" in changes and changes["coverage"] is not None:
        cov = Coverage.objects.filter(public_id=changes["coverage"], patient_id=referral.patient_id).first()
        if cov is None:
            raise serializers.ValidationError({"coverage": ["No such coverage for this patient."]})
        changes["coverage"] = cov
    if "documents" in changes:
        wanted = set(changes["documents"])
        docs = list(ChartDocument.objects.filter(public_id__in=wanted, patient_id=referral.patient_id))
        if len(docs) != len(wanted):
            raise serializers.ValidationError({"documents": ["A document is not in this patient's chart."]})
        changes["documents"] = docs
    return changes


# ---------------------------------------------------------------------------------------------
# Staff
# ---------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, description="A status, or open (default), ended, all"),
            OpenApiParameter("patient", str, description="A patient's public id"),
            OpenApiParameter("specialist", str, description="A specialist's public id"),
            OpenApiParameter("age", str, enum=["0-7", "8-14", "15-30", "31-60", "61+"]),
            OpenApiParameter("sent_within", int, description="Sent in the last N days"),
            OpenApiParameter("leaked", bool, description="Sent and never scheduled"),
        ]
    ),
    retrieve=extend_schema(responses=ReferralDetailOut),
    partial_update=extend_schema(request=ReferralPacketIn, responses=ReferralDetailOut),
)
class ReferralViewSet(PatientDataViewSet):
    """Referrals of your care teams' patients: list, detail (packet checklist, contact history),
    create, PATCH the packet, and the workflow's moves."""

    queryset = Referral.objects.none()
    pagination_class = CreatedCursorPagination
    audit_action = "api.referrals"
    policy = {
        "list": READ,
        "retrieve": READ,
        "create": (policy.ADD, "referrals:write"),
        "partial_update": WRITE,
        "send": WRITE,
        "acknowledge": WRITE,
        "schedule": WRITE,
        "seen": WRITE,
        "decline": WRITE,
        "cancel": WRITE,
        "contacts": WRITE,
        "report": ("patients.add_chartdocument", "referrals:write"),
        "review": (policy.REVIEW, "referrals:write"),
        "refer_again": (policy.ADD, "referrals:write"),
    }

    def get_queryset(self) -> QuerySet[Referral]:
        user = user_of(self.request)
        perm = policy.VIEW if self.action in ("list", "retrieve") else policy.WORK
        qs = accessible_referrals(user, perm if self.action != "review" else policy.REVIEW)
        qs = qs.select_related(
            "patient", "specialist", "referring_provider", "order", "replaces", "coverage", "report_document"
        ).prefetch_related("documents")
        if self.action == "list":
            qs = filter_referrals(qs, ListFilters.from_query(self.request.query_params), now=timezone.now())
        return qs

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return ReferralOut if self.action == "list" else ReferralDetailOut

    def _out(self, referral: Referral, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=referral.pk)
        return Response(ReferralDetailOut(fresh, context={"request": self.request}).data, status=code)

    @extend_schema(request=ReferralIn, responses={201: ReferralDetailOut})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        s = ReferralIn(data=request.data)
        s.is_valid(raise_exception=True)
        data = s.validated_data
        try:
            patient = access_patient(user_of(request), data["patient"], policy.ADD)
        except Http404:
            raise serializers.ValidationError({"patient": ["No such patient."]}) from None
        referral = services.create_referral(
            patient,
            actor=user_of(request),
            specialty=data["specialty"],
            reason=data["reason"],
            urgency=data["urgency"],
            diagnosis_code=data["diagnosis_code"],
            specialist=_specialist(data["specialist"]),
            clinical_notes=data["clinical_notes"],
        )
        return self._out(referral, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        referral = self.get_object()
        s = ReferralPacketIn(data=request.data, partial=True)
        s.is_valid(raise_exception=True)
        services.update_packet(referral, actor=user_of(request), **_packet_changes(referral, s.validated_data))
        return self._out(referral)

    @extend_schema(request=None, responses={200: ReferralDetailOut, 409: SendRefusal})
    @action(detail=True, methods=["post"])
    def send(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Send the packet; 409 with the missing checklist lines while it is incomplete."""
        referral = self.get_object()
        try:
            workflow.send_referral(referral, actor=user_of(request))
        except workflow.PacketIncomplete as exc:
            missing = [
                {"code": c, "label": label, "ok": False, "required": True, "detail": d} for c, label, d in exc.missing
            ]
            return Response({"detail": exc.message, "missing": missing}, status=exc.status_code)
        return self._out(referral)

    @extend_schema(request=ReferralNoteIn, responses={200: ReferralDetailOut, 409: Refusal})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record the specialist's acknowledgement (as the office said it)."""
        referral = self.get_object()
        data = _valid(ReferralNoteIn, request)
        workflow.acknowledge_referral(referral, actor=user_of(request), note=data["note"], channel=data.get("channel"))
        return self._out(referral)

    @extend_schema(request=ReferralScheduleIn, responses={200: ReferralDetailOut, 409: Refusal})
    @action(detail=True, methods=["post"])
    def schedule(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record the appointment date (again to reschedule)."""
        referral = self.get_object()
        data = _valid(ReferralScheduleIn, request)
        workflow.schedule_referral(
            referral,
            actor=user_of(request),
            appointment_at=data["appointment_at"],
            note=data["note"],
            channel=data.get("channel"),
        )
        return self._out(referral)

    @extend_schema(request=ReferralSeenIn, responses={200: ReferralDetailOut, 409: Refusal})
    @action(detail=True, methods=["post"])
    def seen(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record that the patient was seen (one authorized visit used)."""
        referral = self.get_object()
        data = _valid(ReferralSeenIn, request)
        workflow.mark_seen(
            referral, actor=user_of(request), seen_at=data["seen_at"], note=data["note"], channel=data.get("channel")
        )
        return self._out(referral)

    @extend_schema(request=ReferralReasonIn, responses={200: ReferralDetailOut, 409: Refusal})
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record that the specialist declined, with their reason."""
        referral = self.get_object()
        data = _valid(ReferralReasonIn, request)
        workflow.decline_referral(referral, actor=user_of(request), reason=data["reason"], channel=data.get("channel"))
        return self._out(referral)

    @extend_schema(request=ReferralReasonIn, responses={200: ReferralDetailOut, 409: Refusal})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Cancel the referral, with a reason."""
        referral = self.get_object()
        data = _valid(ReferralReasonIn, request)
        workflow.cancel_referral(referral, actor=user_of(request), reason=data["reason"])
        return self._out(referral)

    @extend_schema(request=ReferralContactIn, responses={201: ReferralContactOut})
    @action(detail=True, methods=["post"])
    def contacts(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Log a call, fax or message about the referral (its history; what follow-up items ask for)."""
        referral = self.get_object()
        data = _valid(ReferralContactIn, request)
        contact = services.record_contact(
            referral, actor=user_of(request), channel=data["channel"], direction=data["direction"], note=data["note"]
        )
        return Response(ReferralContactOut(contact).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": ReferralStaffReportIn}, responses={200: ReferralDetailOut, 409: Refusal}
    )
    @action(detail=True, methods=["post"])
    def report(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """File a consult report that arrived by fax or mail: it goes to the chart and to the provider's review."""
        referral = self.get_object()
        data = _valid(ReferralStaffReportIn, request)
        services.attach_report(
            referral, actor=user_of(request), upload=data["file"], title=data["title"], channel=data.get("channel")
        )
        return self._out(referral)

    @extend_schema(request=ReferralReviewIn, responses={200: ReferralDetailOut, 409: Refusal})
    @action(detail=True, methods=["post"])
    def review(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The provider reviewed the report: the loop closes."""
        referral = self.get_object()
        data = _valid(ReferralReviewIn, request)
        workflow.review_report(referral, actor=user_of(request), note=data["note"])
        return self._out(referral)

    @extend_schema(request=None, responses={201: ReferralDetailOut, 409: Refusal})
    @action(detail=True, methods=["post"], url_path="refer-again")
    def refer_again(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A declined or expired referral, as a new draft with the same packet."""
        referral = self.get_object()
        new = services.refer_again(referral, actor=user_of(request))
        return self._out(new, status.HTTP_201_CREATED)


def _valid(serializer: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    s = serializer(data=request.data)
    s.is_valid(raise_exception=True)
    return dict(s.validated_data)


# ---------------------------------------------------------------------------------------------
# The specialist's system
# ---------------------------------------------------------------------------------------------


class SpecialistToken(BasePermission):
    """A token with the referrals:specialist scope, of an account linked to an active Specialist.

    Not a role permission: a specialist's account has no role, and no role answers as a specialist.
    Sessions are refused (partner systems use tokens), so people get 403 here whatever their role.
    """

    message = "A specialist's API token is required."

    def has_permission(self, request: Any, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken) or SPECIALIST_SCOPE not in token.scopes:
            return False
        return specialist_of(request.user) is not None


class SpecialistPatientOut(serializers.Serializer):
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    date_of_birth = serializers.DateField()
    sex = serializers.CharField()
    phone = serializers.CharField()
    preferred_language = serializers.CharField(source="language")


class SpecialistDocumentOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")

    class Meta:
        model = ChartDocument
        fields = ["id", "category", "title", "content_type", "size_bytes", "received_at"]


class SpecialistReferralOut(serializers.ModelSerializer):
    """What the specialist needs to see the patient: no more of the chart than the packet."""

    id = serializers.UUIDField(source="public_id")
    patient = SpecialistPatientOut()
    referring_provider = serializers.SerializerMethodField()
    plan = serializers.SerializerMethodField()
    documents = SpecialistDocumentOut(many=True, read_only=True)

    class Meta:
        model = Referral
        fields = [
            "id",
            "status",
            "specialty",
            "reason",
            "urgency",
            "diagnosis_code",
            "diagnosis_description",
            "clinical_notes",
            "documents",
            "patient",
            "referring_provider",
            "plan",
            "authorization_number",
            "visits_allowed",
            "visits_used",
            "authorization_expires_on",
            "sent_at",
            "acknowledged_at",
            "appointment_at",
            "report_received_at",
        ]

    def get_referring_provider(self, obj: Referral) -> dict[str, str]:
        p = obj.referring_provider
        return {"name": str(p), "npi": p.npi}

    @extend_schema_field(
        inline_serializer(
            "SpecialistReferralPlan",
            {
                "payer": serializers.CharField(),
                "member_id": serializers.CharField(),
                "plan_name": serializers.CharField(),
            },
            allow_null=True,
        )
    )
    def get_plan(self, obj: Referral) -> dict[str, str] | None:
        c = obj.coverage
        if obj.self_pay or c is None:
            return None
        return {"payer": c.payer.name, "member_id": c.member_id, "plan_name": c.plan_name}


class SpecialistAppointmentIn(serializers.Serializer):
    appointment_at = serializers.DateTimeField()
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class SpecialistNoteIn(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class SpecialistDeclineIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("status", str, enum=Referral.Status.values)]),
)
class SpecialistReferralViewSet(
    AuditedReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """For a specialist's system: the referrals sent to it. Acknowledge or decline, give the
    appointment date, post the consult report. Any other referral answers 404."""

    queryset = Referral.objects.none()
    serializer_class = SpecialistReferralOut
    permission_classes = [SpecialistToken]
    pagination_class = CreatedCursorPagination
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    audit_action = "api.specialist_referrals"
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[Referral]:
        qs = specialist_referrals(user_of(self.request)).select_related(
            "patient", "referring_provider", "coverage__payer"
        )
        qs = qs.prefetch_related("documents")
        wanted = self.request.query_params.get("status") if self.action == "list" else None
        if wanted:
            qs = qs.filter(status=wanted) if wanted in Referral.Status.values else qs.none()
        return qs

    def _out(self, referral: Referral) -> Response:
        return Response(SpecialistReferralOut(self.get_queryset().get(pk=referral.pk)).data)

    @extend_schema(request=SpecialistNoteIn, responses={200: SpecialistReferralOut, 409: Refusal})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        referral = self.get_object()
        data = _valid(SpecialistNoteIn, request)
        workflow.acknowledge_referral(referral, actor=user_of(request), note=data["note"])
        return self._out(referral)

    @extend_schema(request=SpecialistDeclineIn, responses={200: SpecialistReferralOut, 409: Refusal})
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        referral = self.get_object()
        data = _valid(SpecialistDeclineIn, request)
        workflow.decline_referral(referral, actor=user_of(request), reason=data["reason"])
        return self._out(referral)

    @extend_schema(request=SpecialistAppointmentIn, responses={200: SpecialistReferralOut, 409: Refusal})
    @action(detail=True, methods=["post"])
    def appointment(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The appointment date and time (again to reschedule)."""
        referral = self.get_object()
        data = _valid(SpecialistAppointmentIn, request)
        workflow.schedule_referral(
            referral, actor=user_of(request), appointment_at=data["appointment_at"], note=data["note"]
        )
        return self._out(referral)

    @extend_schema(
        request={"multipart/form-data": ReferralReportIn}, responses={200: SpecialistReferralOut, 409: Refusal}
    )
    @action(detail=True, methods=["post"])
    def report(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The consult report (PDF, PNG or JPEG): filed to the patient's chart for the provider's review."""
        referral = self.get_object()
        data = _valid(ReferralReportIn, request)
        services.attach_report(referral, actor=user_of(request), upload=data["file"], title=data["title"])
        return self._out(referral)

    @extend_schema(request=None, responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"], url_path=r"documents/(?P<document_id>[0-9a-fA-F-]{36})")
    def document(self, request: Request, *args: Any, document_id: str = "", **kwargs: Any) -> FileResponse:
        """Download a document sent with the packet (only those)."""
        referral = self.get_object()
        doc = referral.documents.filter(public_id=document_id).first()
        if doc is None:
            raise Http404("No such document.")
        record_read(request, [doc], action="api.specialist_referrals.document", target=request.path)
        response = FileResponse(doc.file.open("rb"), content_type=doc.content_type)
        response["Content-Disposition"] = f'attachment; filename="document-{doc.public_id}"'
        return response


def register(router: Any) -> None:
    """Register this app's viewsets on the v1 router."""
    router.register("referrals", ReferralViewSet, basename="api-referral")
    router.register("specialist/referrals", SpecialistReferralViewSet, basename="api-specialistreferral")

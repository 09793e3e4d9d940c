"""Encounters, notes and after visit summaries: REST endpoints. `register(router)` is called by vma/urls.py.

Notes of the caller's panels: list and read; update fields with the version read (409 when someone
changed one of them since); code and remove diagnoses; mark ready; sign (providers, their own visits,
with the content hash they reviewed); addenda; the after visit summary (read, prepare, deliver).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from vma.api.mixins import AuditedReadMixin
from vma.audit import record_read
from vma.http import user_of

from . import avs, services, workflow
from .models import Addendum, AvsDelivery, Encounter, EncounterDiagnosis
from .policy import ADDENDUM, DELIVER_AVS, DRAFT, PREPARE_AVS, SIGN, VIEW, VIEW_AVS
from .selectors import access_diagnosis, accessible_encounters, addenda_of, note_hash

READ = (VIEW, "encounters:read")
WRITE = (DRAFT, "encounters:write")
REFUSAL = inline_serializer("EncounterRefusal", {"detail": serializers.CharField()})


class EncounterDiagnosisOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")

    class Meta:
        model = EncounterDiagnosis
        fields = ["id", "rank", "code", "description"]


class EncounterOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    appointment = serializers.UUIDField(source="appointment.public_id", allow_null=True, default=None)
    provider = serializers.UUIDField(source="provider.public_id")
    provider_name = serializers.CharField(source="provider.__str__")
    diagnoses = EncounterDiagnosisOut(many=True, read_only=True)
    field_versions = serializers.SerializerMethodField()
    content_hash = serializers.SerializerMethodField()
    pended_by = serializers.CharField(source="pended_by.__str__", allow_null=True, default=None)
    signed_by = serializers.UUIDField(source="signed_by.public_id", allow_null=True, default=None)

    class Meta:
        model = Encounter
        fields = [
            "id",
            "patient",
            "appointment",
            "provider",
            "provider_name",
            "date_of_service",
            "modality",
            "status",
            *Encounter.NOTE_FIELDS,
            "diagnoses",
            "version",
            "field_versions",
            "content_hash",
            "pended_by",
            "pended_at",
            "returned_comment",
            "returned_at",
            "signed_by",
            "signed_at",
            "signed_hash",
            "created_at",
        ]

    def get_field_versions(self, obj: Encounter) -> dict[str, int]:
        """The version at which each field (and the diagnoses) last changed."""
        return {k: int(v["v"]) for k, v in obj.field_changes.items()}

    def get_content_hash(self, obj: Encounter) -> str:
        """What a signature of the note as shown would cover: post it back to sign."""
        return note_hash(obj, list(obj.diagnoses.all()))


class EncounterUpdateIn(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="The encounter version these changes are based on.")
    chief_complaint = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    hpi = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    ros = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    exam = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    assessment = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    plan = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    modality = serializers.ChoiceField(choices=Encounter.Modality.choices, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if len(attrs) < 2:
            raise ValidationError({"non_field_errors": ["Send at least one field to change, with the version."]})
        return attrs


class EncounterConflictOut(serializers.Serializer):
    detail = serializers.CharField()
    field = serializers.CharField()
    changed_by = serializers.CharField()
    changed_at = serializers.DateTimeField()
    current_value = serializers.CharField()
    version = serializers.IntegerField()


class EncounterDiagnosisIn(serializers.Serializer):
    code = serializers.CharField(max_length=12, help_text="ICD-10-CM, any case, with or without the dot.")


class EncounterSignIn(serializers.Serializer):
    hash = serializers.CharField(max_length=64, help_text="content_hash of the version you reviewed.")


class EncounterAddendumOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    author = serializers.CharField(source="author.__str__")
    author_id = serializers.UUIDField(source="author.public_id")

    class Meta:
        model = Addendum
        fields = ["id", "author", "author_id", "created_at", "text"]


class EncounterAddendumIn(serializers.Serializer):
    text = serializers.CharField(max_length=services.MAX_TEXT)


class AvsDeliveryOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    requested_by = serializers.CharField(source="requested_by.__str__")

    class Meta:
        model = AvsDelivery
        fields = ["id", "channel", "recipient", "content_hash", "requested_by", "requested_at", "sent_at"]


class AvsOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    encounter = serializers.UUIDField(source="encounter.public_id")
    education = serializers.SerializerMethodField()
    follow_up = serializers.CharField()
    delivered_content = serializers.JSONField(source="content")
    content_hash = serializers.CharField()
    current_content = serializers.SerializerMethodField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    last_delivered_at = serializers.DateTimeField(allow_null=True)
    first_viewed_at = serializers.DateTimeField(allow_null=True)
    view_count = serializers.IntegerField()
    locked = serializers.BooleanField(source="is_locked")
    deliveries = AvsDeliveryOut(many=True)

    def get_education(self, obj: Any) -> list[str]:
        return [str(m.public_id) for m in obj.education.all()]

    def get_current_content(self, obj: Any) -> dict[str, Any]:
        """What a delivery now would send (the signed note and orders as they are, with the chosen materials)."""
        return avs.build_content(obj.encounter, obj)


class AvsPrepareIn(serializers.Serializer):
    education = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)
    follow_up = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class AvsDeliverIn(serializers.Serializer):
    channel = serializers.ChoiceField(
        choices=AvsDelivery.Channel.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="Default: the patient's.",
    )


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError({"date": ["Use YYYY-MM-DD."]}) from None


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("date", str, description="Date of service, YYYY-MM-DD"),
            OpenApiParameter("status", str, enum=Encounter.Status.values),
            OpenApiParameter("patient", str, description="Patient public id"),
            OpenApiParameter("provider", str, description="Provider public id"),
        ]
    ),
    partial_update=extend_schema(
        request=EncounterUpdateIn, responses={200: EncounterOut, 409: EncounterConflictOut, 400: REFUSAL}
    ),
)
class EncounterViewSet(AuditedReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Encounter.objects.none()
    serializer_class = EncounterOut
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    audit_action = "api.encounters"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    policy = {
        "list": READ,
        "retrieve": READ,
        "partial_update": WRITE,
        "diagnoses": WRITE,
        "remove_diagnosis": WRITE,
        "ready": WRITE,
        "sign": (SIGN, "encounters:sign"),
        "addenda": READ,
        "add_addendum": (ADDENDUM, "encounters:write"),
        "summary": (VIEW_AVS, "encounters:read"),
        "prepare_summary": (PREPARE_AVS, "encounters:write"),
        "deliver": (DELIVER_AVS, "encounters:write"),
    }
    _perms = {
        "partial_update": DRAFT,
        "diagnoses": DRAFT,
        "remove_diagnosis": DRAFT,
        "ready": DRAFT,
        "sign": SIGN,
        "add_addendum": ADDENDUM,
        "summary": VIEW_AVS,
        "prepare_summary": PREPARE_AVS,
        "deliver": DELIVER_AVS,
    }

    def get_queryset(self) -> QuerySet[Encounter]:
        user = user_of(self.request)
        qs = accessible_encounters(user, self._perms.get(self.action or "", VIEW))
        qs = qs.select_related("patient", "provider", "appointment", "signed_by", "pended_by").prefetch_related(
            Prefetch("diagnoses", queryset=EncounterDiagnosis.objects.order_by("rank", "pk"))
        )
        if self.action == "list":
            params = self.request.query_params
            if params.get("date"):
                qs = qs.filter(date_of_service=_day(params["date"]))
            if params.get("status"):
                qs = qs.filter(status=params["status"])
            for name in ("patient", "provider"):
                if params.get(name):
                    try:
                        qs = qs.filter(**{f"{name}__public_id": params[name]})
                    except Exception:  # noqa: BLE001 - a malformed id finds nothing
                        return qs.none()
        return qs

    def _fresh(self, enc: Encounter, code: int = 200) -> Response:
        return Response(EncounterOut(self.get_queryset().get(pk=enc.pk)).data, status=code)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change fields based on `version`: 409 (with the other editor's text) if any of them changed since."""
        enc = self.get_object()
        body = EncounterUpdateIn(data=request.data)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        version = values.pop("version")
        try:
            services.save_fields(enc, values=values, version=version, actor=user_of(request))
        except services.StaleEdit as exc:
            record_read(request, [enc], action="api.encounters.conflict", target=request.path)
            return Response(
                {
                    "detail": exc.message,
                    "field": exc.field,
                    "changed_by": exc.changed_by,
                    "changed_at": exc.changed_at.isoformat(),
                    "current_value": exc.their_value,
                    "version": exc.version,
                },
                status=status.HTTP_409_CONFLICT,
            )
        return self._fresh(enc)

    @extend_schema(request=EncounterDiagnosisIn, responses={201: EncounterOut, 400: REFUSAL, 409: REFUSAL})
    @action(detail=True, methods=["post"])
    def diagnoses(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Code a diagnosis (ICD-10-CM, billable codes only), ranked last."""
        enc = self.get_object()
        body = EncounterDiagnosisIn(data=request.data)
        body.is_valid(raise_exception=True)
        services.add_diagnosis(enc, code=body.validated_data["code"], actor=user_of(request))
        return self._fresh(enc, 201)

    @extend_schema(request=None, responses={200: EncounterOut, 409: REFUSAL})
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"diagnoses/(?P<dx_id>[0-9a-fA-F-]{36})",
        url_name="diagnosis",
    )
    def remove_diagnosis(self, request: Request, *args: Any, dx_id: str = "", **kwargs: Any) -> Response:
        enc = self.get_object()
        services.remove_diagnosis(enc, access_diagnosis(enc, dx_id), actor=user_of(request))
        return self._fresh(enc)

    @extend_schema(request=None, responses={200: EncounterOut, 409: REFUSAL})
    @action(detail=True, methods=["post"])
    def ready(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Mark the note ready for the provider's signature (it joins their signing queue)."""
        enc = self.get_object()
        workflow.mark_ready(enc, actor=user_of(request))
        return self._fresh(enc)

    @extend_schema(request=EncounterSignIn, responses={200: EncounterOut, 409: REFUSAL})
    @action(detail=True, methods=["post"])
    def sign(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Sign the note (its own provider only) as reviewed: refused if it changed since (another hash)."""
        enc = self.get_object()
        body = EncounterSignIn(data=request.data)
        body.is_valid(raise_exception=True)
        workflow.sign_note(enc.public_id, provider=user_of(request), expected_hash=body.validated_data["hash"])
        return self._fresh(enc)

    @extend_schema(request=None, responses={200: EncounterAddendumOut(many=True)})
    @action(detail=True, methods=["get"])
    def addenda(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        enc = self.get_object()
        record_read(request, [enc], action="api.encounters.addenda", target=request.path)
        return Response(EncounterAddendumOut(addenda_of(enc), many=True).data)

    @extend_schema(request=EncounterAddendumIn, responses={201: EncounterAddendumOut, 409: REFUSAL})
    @addenda.mapping.post
    def add_addendum(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Append an addendum to a signed note (under the caller's name and the current time)."""
        enc = self.get_object()
        body = EncounterAddendumIn(data=request.data)
        body.is_valid(raise_exception=True)
        addendum = services.add_addendum(enc, text=body.validated_data["text"], actor=user_of(request))
        return Response(EncounterAddendumOut(addendum).data, status=status.HTTP_201_CREATED)

    def _summary_out(self, request: Request, enc: Encounter, action_name: str) -> Response:
        summary = avs.summary_for(enc)
        summary = (
            type(summary)
            .objects.select_related("encounter__patient", "encounter__provider", "encounter__signed_by")
            .prefetch_related("education", "deliveries__requested_by")
            .get(pk=summary.pk)
        )
        record_read(request, [enc], action=action_name, target=request.path)
        return Response(AvsOut(summary).data)

    @extend_schema(request=None, responses={200: AvsOut, 409: REFUSAL})
    @action(detail=True, methods=["get"])
    def summary(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The after visit summary: as last delivered, and as a delivery now would send it."""
        return self._summary_out(request, self.get_object(), "api.encounters.summary")

    @extend_schema(request=AvsPrepareIn, responses={200: AvsOut, 400: REFUSAL})
    @summary.mapping.patch
    def prepare_summary(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The provider chooses approved education materials and writes follow-up words."""
        enc = self.get_object()
        body = AvsPrepareIn(data=request.data)
        body.is_valid(raise_exception=True)
        avs.prepare(
            enc,
            education=body.validated_data["education"],
            follow_up=body.validated_data["follow_up"],
            actor=user_of(request),
        )
        return self._summary_out(request, enc, "api.encounters.summary")

    @extend_schema(request=AvsDeliverIn, responses={200: AvsOut, 400: REFUSAL, 409: REFUSAL})
    @action(detail=True, methods=["post"], url_path="summary/deliver", url_name="deliver")
    def deliver(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Send the patient the secure link (their channel unless one is given); the content is frozen."""
        enc = self.get_object()
        body = AvsDeliverIn(data=request.data)
        body.is_valid(raise_exception=True)
        avs.deliver(enc, actor=user_of(request), channel=body.validated_data["channel"])
        return self._summary_out(request, enc, "api.encounters.summary")


def register(router: Any) -> None:
    """Register this app's viewsets on the v1 router."""
    router.register("encounters", EncounterViewSet, basename="api-encounter")

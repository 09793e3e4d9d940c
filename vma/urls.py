"""Root URLs: pages, the API (v1), its schema and docs, auth, admin, health."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from billing import api as billing_api
from billing.api import ClaimViewSet
from eligibility.api import EligibilityCheckViewSet
from eligibility.priorauth_api import PriorAuthorizationViewSet
from encounters import api as encounters_api
from huddle.api import ChartScrubViewSet, HuddleSheetViewSet
from intake.api import IntakePacketViewSet, IntakeResponseViewSet, QuestionnaireViewSet
from orders import api as orders_api
from patients.api import (
    CoverageViewSet,
    DocumentViewSet,
    ExpectedResultViewSet,
    ImmunizationViewSet,
    PatientViewSet,
    ProcedureViewSet,
)
from referrals import api as referrals_api
from refills import api as refills_api
from scheduling.api import AppointmentViewSet
from telehealth import api as telehealth_api

from . import views
from .api.workitems import WorkItemViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("patients", PatientViewSet, basename="api-patient")
router.register("coverages", CoverageViewSet, basename="api-coverage")
router.register("documents", DocumentViewSet, basename="api-document")
router.register("procedures", ProcedureViewSet, basename="api-procedure")
router.register("immunizations", ImmunizationViewSet, basename="api-immunization")
router.register("expected-results", ExpectedResultViewSet, basename="api-expectedresult")
router.register("work-items", WorkItemViewSet, basename="api-workitem")
router.register("eligibility-checks", EligibilityCheckViewSet, basename="api-eligibilitycheck")
router.register("intake/questionnaires", QuestionnaireViewSet, basename="api-intakequestionnaire")
router.register("intake/packets", IntakePacketViewSet, basename="api-intakepacket")
router.register("intake/responses", IntakeResponseViewSet, basename="api-intakeresponse")
router.register("appointments", AppointmentViewSet, basename="api-appointment")
router.register("prior-authorizations", PriorAuthorizationViewSet, basename="api-priorauthorization")
router.register("claims", ClaimViewSet, basename="api-claim")
router.register("huddle/sheet", HuddleSheetViewSet, basename="api-huddlesheet")
router.register("huddle/scrubs", ChartScrubViewSet, basename="api-chartscrub")
# Apps that register their own viewsets (each app's api.register).
for _app_api in (billing_api, encounters_api, orders_api, refills_api, referrals_api, telehealth_api):
    _app_api.register(router)

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("queue/", views.queue, name="queue"),
    path("queue/claim-next/", views.claim_next_view, name="claim_next"),
    path("queue/items/<uuid:public_id>/", views.work_item, name="work_item"),
    path("queue/items/<uuid:public_id>/<slug:action>/", views.work_item_action, name="work_item_action"),
    path("queue/health/", views.queue_health_view, name="queue_health"),
    path("audit/", views.audit_trail, name="audit_trail"),
    path("patients/", include("patients.urls")),
    path("eligibility/", include("eligibility.urls")),
    path("intake/", include("intake.urls")),
    path("huddle/", include("huddle.urls")),
    path("scheduling/", include("scheduling.urls")),
    path("billing/", include("billing.urls")),
    path("encounters/", include("encounters.urls")),
    path("orders/", include("orders.urls")),
    path("refills/", include("refills.urls")),
    path("referrals/", include("referrals.urls")),
    path("telehealth/", include("telehealth.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api_schema"), name="api_redoc"),
    path("admin/", admin.site.urls),
]

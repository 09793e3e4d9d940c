"""Virtual waiting room pages (included at /telehealth/): staff pages, and the patient's token page (no login)."""

from django.urls import path

from . import patient_views, views

urlpatterns = [
    path("", views.waiting_room_view, name="telehealth_waiting_room"),
    path("provider/", views.provider_view, name="telehealth_provider"),
    path("metrics/", views.metrics_view, name="telehealth_metrics"),
    path("visits/<uuid:public_id>/", views.visit_view, name="telehealth_visit"),
    path("visits/<uuid:public_id>/send-link/", views.send_link_view, name="telehealth_send_link"),
    path("visits/<uuid:public_id>/room/<slug:action>/", views.room_action_view, name="telehealth_room_action"),
    path(
        "visits/<uuid:public_id>/provider/<slug:action>/",
        views.provider_action_view,
        name="telehealth_provider_action",
    ),
    # The patient's page: the signed link is the only key (no sign-in, first name and time only).
    path("join/<str:token>/", patient_views.patient_room, name="telehealth_patient"),
]

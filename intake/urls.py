"""Intake URLs (included at /intake/): staff pages, and the patient's token pages (no login)."""

from django.urls import path

from . import patient_views, views

urlpatterns = [
    path("", views.packet_list_view, name="intake_packets"),
    path("packets/<uuid:public_id>/", views.packet_detail, name="intake_packet_detail"),
    path("packets/<uuid:public_id>/review/", views.review, name="intake_packet_review"),
    path(
        "packets/<uuid:public_id>/changes/<uuid:change_id>/<slug:decision>/",
        views.decide_change,
        name="intake_change_decide",
    ),
    # The patient's pages: the signed token is the only key, and identity is asked before anything.
    path("f/<str:token>/", patient_views.start, name="intake_start"),
    path("f/<str:token>/page/<int:number>/", patient_views.page, name="intake_page"),
    path("f/<str:token>/submit/", patient_views.submit, name="intake_submit"),
]

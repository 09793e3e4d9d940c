"""Orders and the signing queue pages (included at /orders/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("encounters/<uuid:public_id>/", views.encounter_page, name="orders_encounter"),
    path("encounters/<uuid:public_id>/pend/", views.pend, name="orders_pend"),
    path("signing/", views.signing_queue, name="orders_signing_queue"),
    path("signing/batch/", views.sign_batch, name="orders_sign_batch"),
    path("<uuid:public_id>/", views.detail, name="orders_detail"),
    path("<uuid:public_id>/edit/", views.edit, name="orders_edit"),
    path("<uuid:public_id>/cancel/", views.cancel, name="orders_cancel"),
    path("<uuid:public_id>/fhir/", views.fhir_download, name="orders_fhir"),
]

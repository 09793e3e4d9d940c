"""Encounters, notes and after visit summaries pages (included at /encounters/)."""

from django.urls import path

from . import patient_views, views

urlpatterns = [
    path("", views.visit_list, name="encounters_list"),
    path("visits/<uuid:public_id>/open/", views.open_visit, name="encounters_open"),
    path("education/", views.education, name="encounters_education"),
    path("education/add/", views.education_add, name="encounters_education_add"),
    path("education/<uuid:public_id>/<str:action>/", views.education_action, name="encounters_education_action"),
    # The patient's secure link (no login).
    path("summary/<str:token>/", patient_views.start, name="encounters_avs_patient"),
    path("summary/<str:token>/view/", patient_views.view, name="encounters_avs_patient_view"),
    path("<uuid:public_id>/", views.note, name="encounters_note"),
    path("<uuid:public_id>/field/", views.save_field, name="encounters_field"),
    path("<uuid:public_id>/presence/", views.heartbeat, name="encounters_presence"),
    path("<uuid:public_id>/diagnoses/", views.add_diagnosis, name="encounters_diagnoses"),
    path("<uuid:public_id>/diagnoses/<uuid:dx_id>/", views.diagnosis_action, name="encounters_diagnosis"),
    path("<uuid:public_id>/ready/", views.mark_ready, name="encounters_ready"),
    path("<uuid:public_id>/sign/", views.sign, name="encounters_sign"),
    path("<uuid:public_id>/return/", views.send_back, name="encounters_send_back"),
    path("<uuid:public_id>/addenda/", views.add_addendum, name="encounters_addendum"),
    path("<uuid:public_id>/summary/", views.summary, name="encounters_avs"),
    path("<uuid:public_id>/summary/prepare/", views.summary_prepare, name="encounters_avs_prepare"),
    path("<uuid:public_id>/summary/deliver/", views.summary_deliver, name="encounters_avs_deliver"),
]

"""Patient page URLs."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.patient_search, name="patient_search"),
    path("incoming/", views.incoming_documents, name="incoming_documents"),
    path("incoming/<uuid:document_id>/", views.incoming_document, name="incoming_document"),
    path("incoming/<uuid:document_id>/download/", views.incoming_document_download, name="incoming_document_download"),
    path("incoming/<uuid:document_id>/<slug:action>/", views.incoming_document_action, name="incoming_document_action"),
    path("<uuid:public_id>/", views.patient_detail, name="patient_detail"),
    path("<uuid:public_id>/documents/", views.document_upload, name="document_upload"),
    path("<uuid:public_id>/documents/<uuid:document_id>/", views.document_download, name="document_download"),
    path("<uuid:public_id>/documents/<uuid:document_id>/refile/", views.document_refile, name="document_refile"),
    path(
        "<uuid:public_id>/results/<uuid:result_id>/<slug:action>/",
        views.result_action,
        name="expected_result_action",
    ),
    path("<uuid:public_id>/medications/<uuid:medication_id>/stop/", views.medication_stop, name="medication_stop"),
    path("<uuid:public_id>/problems/<uuid:problem_id>/resolve/", views.problem_resolve, name="problem_resolve"),
    *[
        path(f"<uuid:public_id>/history/{kind}/", view, name=f"history_add_{kind}")
        for kind, view in views.HISTORY_VIEWS.items()
    ],
]

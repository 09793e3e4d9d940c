"""Patient page URLs."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.patient_search, name="patient_search"),
    path("<uuid:public_id>/", views.patient_detail, name="patient_detail"),
    path("<uuid:public_id>/documents/", views.document_upload, name="document_upload"),
    path("<uuid:public_id>/documents/<uuid:document_id>/", views.document_download, name="document_download"),
]

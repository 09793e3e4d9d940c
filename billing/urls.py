"""Billing page URLs (included at /billing/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("claims/", views.claim_list, name="billing_claims"),
    path("claims/<uuid:public_id>/", views.claim_detail, name="billing_claim_detail"),
    path("claims/<uuid:public_id>/<slug:action>/", views.claim_action, name="billing_claim_action"),
    path("visits/<uuid:public_id>/bill/", views.bill_visit, name="billing_bill_visit"),
]

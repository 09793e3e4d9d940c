"""Billing page URLs (included at /billing/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("claims/", views.claim_list, name="billing_claims"),
    path("claims/<uuid:public_id>/", views.claim_detail, name="billing_claim_detail"),
    path("claims/<uuid:public_id>/<slug:action>/", views.claim_action, name="billing_claim_action"),
    path("visits/<uuid:public_id>/bill/", views.bill_visit, name="billing_bill_visit"),
    path("remittances/", views.remittance_list, name="billing_remittances"),
    path("remittances/upload/", views.remittance_upload, name="billing_remittance_upload"),
    path("remittances/<uuid:public_id>/", views.remittance_detail, name="billing_remittance_detail"),
    path("remittances/<uuid:public_id>/<slug:action>/", views.remittance_action, name="billing_remittance_action"),
    path("denials/", views.denial_list_view, name="billing_denials"),
    path("denials/<uuid:public_id>/<slug:action>/", views.denial_action, name="billing_denial_action"),
    path("appeals/<uuid:public_id>/", views.appeal_view, name="billing_appeal"),
    path("appeals/<uuid:public_id>/<slug:action>/", views.appeal_action, name="billing_appeal_action"),
    path("balances/", views.balance_list, name="billing_balances"),
    path("balances/<uuid:public_id>/", views.patient_account_view, name="billing_patient_account"),
    path("balances/<uuid:public_id>/payments/", views.patient_payment, name="billing_patient_payment"),
    path("statements/", views.statement_runs, name="billing_statement_runs"),
    path("statements/run/", views.statement_run_now, name="billing_statement_run"),
    path("statements/<uuid:public_id>/", views.statement_view, name="billing_statement"),
    path("dashboard/", views.ar_dashboard, name="billing_ar_dashboard"),
    path("dashboard/denials/", views.denial_dashboard, name="billing_denial_dashboard"),
    path("dashboard/<slug:table>.csv", views.dashboard_csv, name="billing_dashboard_csv"),
]

"""Referrals pages (included at /referrals/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.referral_list_view, name="referrals_list"),
    path("new/", views.referral_new, name="referrals_new"),
    path("dashboard/", views.dashboard, name="referrals_dashboard"),
    path("specialists/", views.specialist_list, name="referrals_specialists"),
    path("<uuid:public_id>/", views.referral_detail, name="referrals_detail"),
    path("<uuid:public_id>/report/", views.referral_report, name="referrals_report"),
    path("<uuid:public_id>/review/", views.referral_review, name="referrals_review"),
    path("<uuid:public_id>/refer-again/", views.referral_refer_again, name="referrals_refer_again"),
    path("<uuid:public_id>/<slug:action>/", views.referral_action, name="referrals_action"),
]

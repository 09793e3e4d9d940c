"""Eligibility page URLs (included at /eligibility/)."""

from django.urls import path

from . import priorauth_views, views

urlpatterns = [
    path("tomorrow/", views.tomorrow, name="eligibility_tomorrow"),
    path("patients/<uuid:public_id>/panel/", views.panel, name="eligibility_panel"),
    path("coverages/<uuid:coverage_id>/check/", views.check_now, name="eligibility_check_now"),
    path("prior-auths/", priorauth_views.priorauth_list, name="priorauth_list"),
    path("prior-auths/<uuid:public_id>/", priorauth_views.priorauth_detail, name="priorauth_detail"),
    path("prior-auths/<uuid:public_id>/<slug:action>/", priorauth_views.priorauth_action, name="priorauth_action"),
    path("patients/<uuid:public_id>/prior-auths/", priorauth_views.priorauth_panel, name="priorauth_panel"),
]

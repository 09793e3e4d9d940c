"""Eligibility page URLs (included at /eligibility/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("tomorrow/", views.tomorrow, name="eligibility_tomorrow"),
    path("patients/<uuid:public_id>/panel/", views.panel, name="eligibility_panel"),
    path("coverages/<uuid:coverage_id>/check/", views.check_now, name="eligibility_check_now"),
]

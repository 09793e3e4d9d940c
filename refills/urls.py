"""Refills pages (included at /refills/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.refill_list, name="refills_list"),
    path("new/", views.new_request, name="refills_new"),
    path("<uuid:public_id>/", views.refill_detail, name="refills_detail"),
    path("<uuid:public_id>/work/<slug:action>/", views.work_action, name="refills_work"),
    path("<uuid:public_id>/decide/<slug:action>/", views.decide_action, name="refills_decide"),
]

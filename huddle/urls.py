"""Huddle URLs (included at /huddle/): the daily sheet and the chart scrubs."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.sheet, name="huddle_sheet"),
    path("scrubs/", views.scrub_list_view, name="huddle_scrubs"),
    path("scrubs/<uuid:public_id>/", views.scrub_detail, name="huddle_scrub"),
    path("scrubs/<uuid:public_id>/scrubbed/", views.mark_scrubbed, name="huddle_scrub_done"),
    path("scrubs/<uuid:public_id>/items/<uuid:item_id>/", views.mark_item, name="huddle_scrub_item"),
]

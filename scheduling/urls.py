"""Scheduling page URLs (included at /scheduling/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("calendar/", views.calendar_page, name="scheduling_calendar"),
    path("calendar/book/", views.book_form, name="scheduling_book_form"),
    path("appointments/book/", views.book, name="scheduling_book"),
    path("appointments/<uuid:public_id>/", views.appointment_panel, name="scheduling_appointment"),
    path("appointments/<uuid:public_id>/reschedule/", views.reschedule, name="scheduling_reschedule"),
    path("appointments/<uuid:public_id>/cancel/", views.cancel, name="scheduling_cancel"),
    path("appointments/<uuid:public_id>/do/<slug:action>/", views.appointment_action, name="scheduling_action"),
    path("waitlist/", views.waitlist_page, name="scheduling_waitlist"),
    path("waitlist/add/", views.waitlist_add, name="scheduling_waitlist_add"),
    path("waitlist/<uuid:public_id>/remove/", views.waitlist_remove, name="scheduling_waitlist_remove"),
    # Signed links from reminders: no sign-in (the signature is the credential).
    path("r/<str:token>/", views.reminder_link, name="scheduling_link"),
]

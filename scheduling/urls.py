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
    # Signed links from reminders: no sign-in (the signature is the credential).
    path("r/<str:token>/", views.reminder_link, name="scheduling_link"),
]

"""Virtual waiting room pages (included at /telehealth/)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

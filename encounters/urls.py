"""Encounters, notes and after visit summaries pages (included at /encounters/)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

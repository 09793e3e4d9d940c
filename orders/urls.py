"""Orders and the signing queue pages (included at /orders/)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

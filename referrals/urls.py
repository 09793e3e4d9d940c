"""Referrals pages (included at /referrals/)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

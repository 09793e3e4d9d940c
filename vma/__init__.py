"""VMA Portal core: settings, users and roles, the shared work queue, audit, API base."""

from .celery import app as celery_app

__all__ = ("celery_app",)

"""The Celery app. Periodic jobs are declared together in vma/schedule.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vma.settings")

app = Celery("vma")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

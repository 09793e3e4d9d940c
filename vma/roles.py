"""The practice's roles. Each is a Django group of the same name and a work queue."""

from django.db import models


class Role(models.TextChoices):
    FRONT_OFFICE = "front_office", "Front-office VMA"
    BILLING = "billing", "Billing VMA"
    CLINICAL_SUPPORT = "clinical_support", "Clinical-support VMA"
    NURSE = "nurse", "Nurse"
    PROVIDER = "provider", "Provider"
    MANAGER = "manager", "Practice manager"
    ADMIN = "admin", "Administrator"


# Roles that own a work queue (the administrator works none).
QUEUE_ROLES = [r for r in Role if r != Role.ADMIN]
QUEUE_VALUES = [r.value for r in QUEUE_ROLES]

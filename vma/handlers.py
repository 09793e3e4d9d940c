"""Outbox handlers of the core. Each is idempotent: it may run twice for one message."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail

from .access import panel_ids
from .models import Notification, User, WorkItem
from .outbox import enqueue, handler


@handler("vma.notify_escalation")
def notify_escalation(payload: dict[str, Any]) -> None:
    item = WorkItem.objects.select_related("patient").get(pk=payload["item_id"])
    key = f"escalation:{payload.get('event_id')}"
    members = User.objects.filter(is_active=True, groups__name=item.queue).distinct()
    message = f"Escalated to you: {item.title}"
    if item.escalation_reason:
        message = f"{message} — {item.escalation_reason}"[:300]
    emails = []
    for user in members:
        # Only people who may see the patient are told; the notice names no patient.
        if item.patient is not None and item.patient.care_team_id not in panel_ids(user):
            continue
        _, created = Notification.objects.get_or_create(
            user=user, key=key, defaults={"message": message, "work_item": item}
        )
        if created and user.email:
            emails.append(user.email)
    if emails:
        # Its own message: a mail server outage must not hold back the in-app notices above.
        enqueue("vma.email_notice", {"to": sorted(emails)}, key=f"email:{key}")


@handler("vma.email_notice")
def email_notice(payload: dict[str, Any]) -> None:
    # No patient data in email: the message only says to sign in.
    send_mail(
        subject="VMA Portal: an item was escalated to your queue",
        message="An item was escalated to your queue. Sign in to VMA Portal to see it.",
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=payload["to"],
        fail_silently=False,
    )

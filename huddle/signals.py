"""Re-run a patient's scrubs when new information arrives, after commit, through a task by id."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

log = logging.getLogger(__name__)


def publish_rescrub(patient_id: int) -> bool:
    """Ring the doorbell. A broker outage is logged, not raised: the hourly build and opening the
    scrub page re-evaluate anyway, so a lost message only delays the update."""
    from .tasks import rescrub_patient

    try:
        rescrub_patient.apply_async((patient_id,), retry=False)
    except Exception as exc:  # noqa: BLE001 - any broker failure: the next evaluation repairs it
        log.warning("huddle: could not publish the re-scrub of patient %s (%s)", patient_id, exc)
        return False
    return True


def chart_touched(patient_id: int | None) -> None:
    """Queue a re-scrub if the patient has a scrub of a visit still to come (one indexed query)."""
    from .models import ChartScrub

    if patient_id is None:
        return
    if not ChartScrub.objects.filter(patient_id=patient_id, day__gte=timezone.localdate()).exists():
        return
    transaction.on_commit(lambda: publish_rescrub(patient_id))


def on_model_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    chart_touched(getattr(instance, "patient_id", None))


def on_chart_changed(sender: Any, patient_id: int | None = None, **kwargs: Any) -> None:
    """patients.signals.chart_changed is already sent on commit; the task is still queued after commit."""
    chart_touched(patient_id)


def connect() -> None:
    from django.db.models.signals import post_save

    from eligibility.models import EligibilityCheck, PriorAuthorization
    from intake.models import IntakePacket
    from scheduling.models import Appointment

    for model in (EligibilityCheck, PriorAuthorization, IntakePacket, Appointment):
        post_save.connect(on_model_saved, sender=model, dispatch_uid=f"huddle.rescrub.{model._meta.label}")
    connect_chart_changed()


def connect_chart_changed() -> bool:
    """Listen to patients.signals.chart_changed once that module exists (the chart contract)."""
    from .facts import chart_contract

    signals = chart_contract("signals")
    if signals is None or not hasattr(signals, "chart_changed"):
        return False
    signals.chart_changed.connect(on_chart_changed, dispatch_uid="huddle.rescrub.chart_changed")
    return True

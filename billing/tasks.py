"""Celery adapters for billing: send one submitted claim, the hourly claim sweep, the 835 fetch, patient billing."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from vma.models import Heartbeat

from . import ledger, remittance, services
from .clearinghouse import ClearinghouseUnavailable


@shared_task(
    ignore_result=True,
    autoretry_for=(ClearinghouseUnavailable,),
    retry_backoff=30,
    retry_backoff_max=1800,
    max_retries=6,
)
def send_claim(claim_id: int) -> None:
    """Hand one submitted claim to the clearinghouse. A duplicate does nothing (conditional UPDATE);
    a loss is repaired by the sweep, which re-sends submissions not handed over after 10 minutes."""
    services.transmit(claim_id)


@shared_task(ignore_result=True)
def sweep_claims() -> dict[str, int]:
    """Follow-ups (7 days), unpaid (30 days), filing deadlines; each opened once per claim."""
    result = services.sweep().as_dict()
    with transaction.atomic():
        Heartbeat.objects.update_or_create(name="sweep_claims", defaults={"seen_at": timezone.now()})
    return result


@shared_task(ignore_result=True, autoretry_for=(ClearinghouseUnavailable,), retry_backoff=60, max_retries=3)
def fetch_remittances() -> dict[str, int]:
    """Import the clearinghouse's 835s, and post uploaded files a lost task left waiting. A duplicate run is
    harmless (a file is posted once); a lost run loses nothing (the clearinghouse keeps the files, the
    uploads wait as `received`, and the next hourly run takes them)."""
    waiting = remittance.post_received()
    results = remittance.fetch_from_clearinghouse()
    return {"files": len(results), "new": sum(r.created for r in results), "posted_waiting": waiting}


@shared_task(ignore_result=True)
def post_remittance_file(file_id: int) -> None:
    """Post one large uploaded 835. Running twice posts once (the file row lock and its status)."""
    from .models import RemittanceFile

    file = RemittanceFile.objects.filter(pk=file_id, status=RemittanceFile.Status.RECEIVED).first()
    if file is not None:
        remittance.post_file(file, actor=None)


@shared_task(ignore_result=True)
def patient_billing() -> dict[str, int]:
    """Collections stages as balances age, and the month's statement run (once a month, idempotent)."""
    changed = ledger.sweep_collections()
    _run, created = ledger.run_statements()
    return {"stages_changed": changed, "statement_run_created": int(created)}

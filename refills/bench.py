"""Refill benchmarks: protocol checks per second (1,000 requests checked in one batch), and one request's
check as a VMA runs it (lock, evaluate, route, work items)."""

from __future__ import annotations

import statistics
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import TYPE_CHECKING, Any

from bench.dataset import BENCH_VMA
from bench.harness import Case, benchmark, dataset_part

if TYPE_CHECKING:
    from bench.dataset import Dataset

CHECKS = 1000
MARK = "bench.refills"  # requester of the part's requests, sig of its medications, reason of its visits
# drug, strength, lab document title (None: the lab comes as a procedure or not at all)
DRUGS = [
    ("Atorvastatin", "20 mg", "Lipid panel"),
    ("Lisinopril", "10 mg", "Basic metabolic panel (BMP)"),
    ("Metformin", "500 mg", None),
    ("Levothyroxine", "50 mcg", "TSH"),
    ("Alprazolam", "0.5 mg", None),
]


def _now() -> datetime:
    from django.utils import timezone

    # A fixed clock: the outcomes stay the same however long the dataset is reused.
    return timezone.make_aware(datetime.combine(date(2026, 11, 10), dtime(10, 0)))


@dataset_part("refills", version=2)
def build_refills(ds: Dataset) -> None:
    """1,000 refill requests of 1,000 patients (pod 0 first, the bench VMA's), each with a chart: a drug of
    the five starter classes (one in five controlled), a visit 3 or 14 months ago, the lab or not."""
    from django.apps import apps
    from django.db import transaction

    from patients.models import ChartDocument, Medication, Patient, Procedure
    from scheduling.models import Appointment
    from vma.access import panel_ids, sync_role_groups
    from vma.models import CareTeam

    from . import starter
    from .days import turnaround_due
    from .matching import medication_key
    from .models import RefillRequest

    now = _now()
    # The dataset's flush empties the practice data (the starter protocols) and re-creates the role groups
    # before the permissions of the apps after vma exist: put both back as the code defines them.
    starter.load(apps, None)
    sync_role_groups()
    vma = ds.user(BENCH_VMA)
    mine = panel_ids(vma)
    with transaction.atomic():
        _drop_items()
        RefillRequest.objects.filter(requester=MARK).delete()
        Medication.objects.filter(sig=MARK).delete()
        Appointment.objects.filter(reason=MARK).delete()
        ChartDocument.objects.filter(content_type="application/x-bench-refills").delete()
        Procedure.objects.filter(value=MARK).delete()
        providers = dict(CareTeam.objects.values_list("pk", "provider_id"))
        ordered = sorted(
            Patient.objects.values_list("pk", "care_team_id"), key=lambda row: (row[1] not in mine, row[0])
        )[:CHECKS]
        meds, visits, docs, procs, requests = [], [], [], [], []
        for i, (pid, team) in enumerate(ordered):
            drug, strength, lab = DRUGS[i % len(DRUGS)]
            meds.append(Medication(patient_id=pid, name=drug, dose=strength, sig=MARK))
            months = 14 if i % 7 == 0 else 3
            visits.append(
                Appointment(
                    patient_id=pid,
                    provider_id=providers[team],
                    start_at=now - timedelta(days=30 * months) + timedelta(minutes=i),
                    visit_type="Follow-up",
                    reason=MARK,
                    status=Appointment.Status.COMPLETED,
                )
            )
            if i % 6 != 0:
                if lab is not None:
                    docs.append(
                        ChartDocument(
                            patient_id=pid,
                            category=ChartDocument.Category.LAB_RESULT,
                            title=lab,
                            file="bench/refills.pdf",
                            content_type="application/x-bench-refills",
                            size_bytes=1,
                            received_at=now - timedelta(days=60),
                        )
                    )
                elif drug == "Metformin":
                    procs.append(
                        Procedure(
                            patient_id=pid, code="hba1c", performed_on=(now - timedelta(days=60)).date(), value=MARK
                        )
                    )
            received = now - timedelta(minutes=i)
            requests.append(
                RefillRequest(
                    patient_id=pid,
                    provider_id=providers[team],
                    source=RefillRequest.Source.PHARMACY if i % 2 else RefillRequest.Source.PHONE,
                    medication_text=f"{drug} {strength}",
                    medication_key=medication_key(drug),
                    strength=strength,
                    sig="1 tablet daily",
                    quantity=90,
                    days_supply=90 if i % 11 else 180,
                    refills=3,
                    pharmacy="Main Street Pharmacy",
                    requester=MARK,
                    request_text="chest pain since Monday" if i % 97 == 0 else "",
                    red_flags=["chest pain"] if i % 97 == 0 else [],
                    received_at=received,
                    received_by=vma,
                    due_at=turnaround_due(received),
                    status=RefillRequest.Status.RECEIVED,
                )
            )
        Medication.objects.bulk_create(meds)
        Appointment.objects.bulk_create(visits)
        ChartDocument.objects.bulk_create(docs)
        Procedure.objects.bulk_create(procs)
        RefillRequest.objects.bulk_create(requests)


def _drop_items() -> None:
    """The work items the part's requests opened (a re-check pends one: a provider item)."""
    from django.contrib.contenttypes.models import ContentType

    from vma.models import WorkItem, WorkItemEvent

    from .models import RefillRequest

    ct = ContentType.objects.get_for_model(RefillRequest)
    ids = RefillRequest.objects.filter(requester=MARK).values("pk")
    items = WorkItem.objects.filter(subject_type=ct, subject_id__in=ids)
    WorkItemEvent.objects.filter(item__in=items).delete()
    items.delete()


def _requests() -> list[Any]:
    from .models import RefillRequest

    rows = list(RefillRequest.objects.filter(requester=MARK).select_related("provider").order_by("pk"))
    if len(rows) != CHECKS:
        raise RuntimeError(f"The refills part has {len(rows)} requests; {CHECKS} expected")
    return rows


@benchmark("refill_protocol_checks", target_p95_ms=1500, max_queries=8, iterations=30)
def refill_protocol_checks(ds: Dataset) -> Case:
    """Check 1,000 refill requests against the protocols in one batch (every line, every lab's evidence)."""
    from . import protocols
    from .models import RefillRequest

    rows = _requests()
    now = _now()

    def run() -> None:
        results = protocols.evaluate(rows, now=now)
        if len(results) != CHECKS:
            raise RuntimeError(f"{len(results)} results for {CHECKS} requests")

    def extra() -> dict[str, Any]:
        times = []
        for _ in range(5):
            t = time.perf_counter()
            results = protocols.evaluate(rows, now=now)
            times.append(time.perf_counter() - t)
        outcomes: dict[str, int] = {}
        for result in results.values():
            outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        failures = []
        controlled = [
            r for r in rows if r.medication_text.startswith("Alprazolam") and results[r.pk].outcome == "pended"
        ]
        if controlled:
            failures.append(f"{len(controlled)} controlled requests passed the protocol")
        flagged = [r for r in rows if r.red_flags and results[r.pk].outcome == RefillRequest.Status.PENDED]
        if flagged:
            failures.append(f"{len(flagged)} red-flag requests passed the protocol")
        return {
            "checks_per_second": round(CHECKS / statistics.median(times)),
            "outcomes": outcomes,
            "failures": failures,
        }

    return Case(run=run, extra=extra)


@benchmark("refill_check_one", target_p95_ms=200, max_queries=45, iterations=60)
def refill_check_one(ds: Dataset) -> Case:
    """A VMA re-checks one pended request: row lock, evaluate, checked → pended, events, its work item."""
    from vma.access import panel_ids

    from . import workflow
    from .models import RefillEvent, RefillRequest

    vma = ds.user(BENCH_VMA)
    now = _now()
    candidates = RefillRequest.objects.filter(
        requester=MARK, medication_text__startswith="Atorvastatin", patient__care_team_id__in=panel_ids(vma)
    ).order_by("pk")
    refill = next(
        (r for r in candidates if workflow.check_request(r, actor=vma, now=now).status == RefillRequest.Status.PENDED),
        None,
    )
    if refill is None:
        raise RuntimeError("No statin request of the bench VMA's panel meets the protocol")

    def teardown() -> None:
        ids = list(RefillRequest.objects.filter(requester=MARK).values_list("pk", flat=True))
        _drop_items()
        RefillEvent.objects.filter(request_id__in=ids).delete()
        RefillRequest.objects.filter(pk__in=ids).update(
            status=RefillRequest.Status.RECEIVED, check_lines=[], checked_at=None, checked_by=None, pended_at=None,
            pended_by=None, pended_note="", check_outcome="",
        )  # fmt: skip

    def run() -> None:
        if workflow.check_request(refill, actor=vma, now=now).status != RefillRequest.Status.PENDED:
            raise RuntimeError("The re-check did not pend the request again")

    return Case(run=run, teardown=teardown)

"""Huddle benchmarks: the huddle sheet of a 40-patient day, and the chart scrub of a 200-visit day."""

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

# Fixed past days: outside every sweep's look-ahead however long the dataset is reused.
SHEET_DAY = date(2026, 11, 10)  # a Tuesday
SCRUB_DAY = date(2026, 11, 12)  # a Thursday
SHEET_VISITS = 40
SCRUB_VISITS = 200
MARK = "bench.huddle"  # Appointment.reason of the part's visits


@dataset_part("huddle_days", version=1)
def build_huddle_days(ds: Dataset) -> None:
    """40 visits of one provider on SHEET_DAY and 200 visits of the bench VMA's teams on SCRUB_DAY, with
    a realistic mix of facts: half the coverages verified, some authorizations required, intake
    packets in every state, a quarter of the patients diabetic (a care gap and a standing order)."""
    from django.db import transaction
    from django.utils import timezone

    from eligibility.models import EligibilityCheck, PriorAuthorization
    from intake.models import IntakePacket
    from patients.models import Coverage, Patient, Problem
    from scheduling.models import Appointment
    from vma.access import panel_ids
    from vma.models import CareTeam

    teams = panel_ids(ds.user(BENCH_VMA))
    with transaction.atomic():
        Appointment.objects.filter(reason=MARK).update(rescheduled_to=None)
        old = Appointment.objects.filter(reason=MARK)
        IntakePacket.objects.filter(appointment__in=old).delete()
        EligibilityCheck.objects.filter(appointment__in=old).delete()
        PriorAuthorization.objects.filter(appointment__in=old).delete()
        old.delete()
        team = CareTeam.objects.filter(pk__in=teams).order_by("pk").first()
        assert team is not None
        providers = {t.pk: t.provider_id for t in CareTeam.objects.filter(pk__in=teams)}
        sheet_patients = list(Patient.objects.filter(care_team=team).order_by("pk")[:SHEET_VISITS])
        scrub_patients = list(
            Patient.objects.filter(care_team_id__in=teams).exclude(care_team=team).order_by("pk")[:SCRUB_VISITS]
        )
        visits: list[Appointment] = []
        for day, patients in ((SHEET_DAY, sheet_patients), (SCRUB_DAY, scrub_patients)):
            for i, p in enumerate(patients):
                start = timezone.make_aware(datetime.combine(day, dtime(8))) + timedelta(minutes=3 * i)
                visits.append(
                    Appointment(
                        patient=p,
                        provider_id=providers[p.care_team_id] if day == SCRUB_DAY else team.provider_id,
                        start_at=start,
                        duration_minutes=20,
                        visit_type="Follow-up",
                        reason=MARK,
                        status="scheduled",
                    )
                )
        visits = Appointment.objects.bulk_create(visits)
        primary = {
            c.patient_id: c
            for c in Coverage.objects.filter(patient_id__in=[v.patient_id for v in visits], active=True, rank=1)
        }
        now = timezone.now()
        checks, auths, packets, problems = [], [], [], []
        statuses = list(IntakePacket.Status.values)
        for i, v in enumerate(visits):
            cov = primary.get(v.patient_id)
            if cov is not None and i % 2 == 0:
                checks.append(
                    EligibilityCheck(
                        appointment=v,
                        patient_id=v.patient_id,
                        coverage=cov,
                        service_date=timezone.localdate(v.start_at),
                        status="active" if i % 6 else "inactive",
                        completed_at=v.start_at - timedelta(hours=30),
                        amount_to_collect="25.00",
                    )
                )
            if cov is not None and i % 5 == 0:
                auths.append(
                    PriorAuthorization(
                        patient_id=v.patient_id,
                        coverage=cov,
                        payer_id=cov.payer_id,
                        appointment=v,
                        service_code="70551",
                    )
                )
            status = statuses[i % len(statuses)]
            packets.append(
                IntakePacket(
                    appointment=v,
                    patient_id=v.patient_id,
                    status=status,
                    expires_at=v.start_at,
                    sent_at=None if status == "created" else now,
                    submitted_at=now if status in ("submitted", "reviewed") else None,
                    item9_positive=i % 17 == 0,
                )
            )
            if i % 4 == 0:
                problems.append(Problem(patient_id=v.patient_id, code="E11.9", description="Type 2 diabetes"))
        EligibilityCheck.objects.bulk_create(checks)
        PriorAuthorization.objects.bulk_create(auths)
        IntakePacket.objects.bulk_create(packets)
        Problem.objects.bulk_create(problems, ignore_conflicts=True)


def _sheet_provider() -> Any:
    from scheduling.models import Appointment

    visit = Appointment.objects.filter(reason=MARK, start_at__date=SHEET_DAY).select_related("provider").first()
    if visit is None:
        raise RuntimeError("The huddle_days part has no sheet visits")
    return visit.provider


@benchmark("huddle_sheet", target_p95_ms=300, max_queries=40)
def huddle_sheet(ds: Dataset) -> Case:
    """GET the huddle sheet of one provider's 40-patient day (with its morning snapshot's diff) as front office."""
    from django.utils import timezone

    from .models import HuddleSnapshot
    from .selectors import store_snapshots

    provider = _sheet_provider()
    HuddleSnapshot.objects.filter(provider=provider, day=SHEET_DAY).delete()
    store_snapshots([provider.pk], SHEET_DAY, now=timezone.now())
    client = ds.client_for(ds.user(BENCH_VMA))
    url = f"/huddle/?provider={provider.public_id}&day={SHEET_DAY:%Y-%m-%d}"
    shown = ds.get_ok(client, url).content.count(b"data-appointment=")
    if shown != SHEET_VISITS:
        raise RuntimeError(f"The sheet shows {shown} visits; {SHEET_VISITS} expected")

    def teardown() -> None:
        HuddleSnapshot.objects.filter(provider=provider, day=SHEET_DAY).delete()

    return Case(run=lambda: ds.get_ok(client, url), teardown=teardown)


def _drop_scrubs() -> int:
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction

    from vma.models import WorkItem, WorkItemEvent

    from .models import ChartScrub
    from .workflow import SCRUB_KIND

    with transaction.atomic():
        ids = list(ChartScrub.objects.filter(day=SCRUB_DAY).values_list("pk", flat=True))
        ct = ContentType.objects.get_for_model(ChartScrub)
        items = WorkItem.objects.filter(kind=SCRUB_KIND, subject_type=ct, subject_id__in=ids)
        WorkItemEvent.objects.filter(item__in=items).delete()
        items.delete()
        ChartScrub.objects.filter(pk__in=ids).delete()
    return len(ids)


@benchmark("huddle_scrub_day", target_p95_ms=1500, max_queries=40, iterations=30)
def huddle_scrub_day(ds: Dataset) -> Case:
    """The hourly scrub job over a 200-visit day: every checklist re-read from the chart and merged."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from . import services
    from .models import ChartScrub, ScrubItem

    _drop_scrubs()
    t0 = time.perf_counter()
    with CaptureQueriesContext(connection) as first_ctx:
        first = services.build_scrubs(day=SCRUB_DAY)
    first_ms = (time.perf_counter() - t0) * 1000
    if first.created != SCRUB_VISITS:
        _drop_scrubs()
        raise RuntimeError(f"The first build made {first.created} scrubs; {SCRUB_VISITS} expected")

    def run() -> None:
        result = services.build_scrubs(day=SCRUB_DAY)
        if result.created or result.evaluated != SCRUB_VISITS:
            raise RuntimeError(f"Re-run not idempotent: {result}")

    def extra() -> dict[str, Any]:
        failures = []
        scrubs = ChartScrub.objects.filter(day=SCRUB_DAY).count()
        if scrubs != SCRUB_VISITS:
            failures.append(f"{scrubs} scrubs after the runs; {SCRUB_VISITS} expected (one per visit)")
        needs = ScrubItem.objects.filter(scrub__day=SCRUB_DAY, state=ScrubItem.State.NEEDS_ACTION).count()
        times = []
        one = ChartScrub.objects.filter(day=SCRUB_DAY).order_by("pk").values_list("pk", flat=True)[0]
        for _ in range(3):
            t = time.perf_counter()
            services.evaluate([one])
            times.append((time.perf_counter() - t) * 1000)
        return {
            "first_build_ms": round(first_ms, 1),
            "first_build_queries": len(first_ctx.captured_queries),
            "items": ScrubItem.objects.filter(scrub__day=SCRUB_DAY).count(),
            "items_needing_action": needs,
            "evaluate_one_scrub_median_ms": round(statistics.median(times), 2),
            "failures": failures,
        }

    return Case(run=run, extra=extra, teardown=_drop_scrubs)

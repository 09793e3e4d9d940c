"""Referral benchmarks: the referral dashboard over 50,000 referrals (practice-wide, and one VMA's teams)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.dataset import BENCH_VMA
from bench.harness import Case, benchmark, dataset_part

if TYPE_CHECKING:
    from bench.dataset import Dataset

REFERRALS = 50_000
SPECIALISTS = 40
NPI_PREFIX = "1944"  # the bench directory's NPIs: 1944xxxxx + check digit
MANAGER = "bench.manager.1"
SPECIALTIES = ["Cardiology", "Dermatology", "Gastroenterology", "Orthopedics", "Endocrinology", "Neurology"]

# Status by mod(g, 100): a practice's mix, most loops closed, some leaking; each state's clocks set.
_INSERT_SQL = """
WITH p AS (
    SELECT pt.id AS pid, t.provider_id, row_number() OVER (ORDER BY pt.id) - 1 AS rn
    FROM patients_patient pt JOIN vma_careteam t ON t.id = pt.care_team_id
), n AS (SELECT count(*) AS c FROM p),
s AS (
    SELECT id AS sid, specialty, row_number() OVER (ORDER BY id) - 1 AS rn
    FROM referrals_specialist WHERE npi LIKE %(prefix)s
), base AS (
    SELECT g,
           CASE
             WHEN mod(g, 100) < 5 THEN 'draft'
             WHEN mod(g, 100) < 15 THEN 'sent'
             WHEN mod(g, 100) < 23 THEN 'acknowledged'
             WHEN mod(g, 100) < 35 THEN 'scheduled'
             WHEN mod(g, 100) < 40 THEN 'seen'
             WHEN mod(g, 100) < 45 THEN 'report_received'
             WHEN mod(g, 100) < 85 THEN 'closed'
             WHEN mod(g, 100) < 90 THEN 'declined'
             WHEN mod(g, 100) < 97 THEN 'cancelled'
             ELSE 'expired'
           END AS status,
           now() - make_interval(days => mod(g * 7919, 540), hours => mod(g, 24)) AS created
    FROM generate_series(0, %(count)s - 1) AS g
), rows AS (
    SELECT b.*, p.pid, p.provider_id, s.sid, s.specialty,
           CASE WHEN b.status = 'draft' THEN NULL ELSE b.created + interval '1 day' END AS sent,
           b.created + interval '21 days' + make_interval(days => mod(b.g, 15)) AS report
    FROM base b
    JOIN p ON p.rn = mod(b.g, (SELECT c FROM n))
    JOIN s ON s.rn = mod(b.g, %(specialists)s)
)
INSERT INTO referrals_referral (
    public_id, patient_id, referring_provider_id, specialist_id, specialty, reason, urgency,
    diagnosis_code, diagnosis_description, status, status_reason, clinical_notes,
    results_not_needed, results_note, self_pay, authorization_number, visits_used,
    created_at, sent_at, acknowledged_at, first_scheduled_at, appointment_at, seen_at,
    report_received_at, reviewed_at, ended_at, updated_at
)
SELECT
    gen_random_uuid(), pid, provider_id, sid, specialty, 'Bench referral', 'routine',
    'R07.9', 'Chest pain, unspecified', status,
    CASE WHEN status IN ('closed', 'declined', 'cancelled', 'expired') THEN 'bench' ELSE '' END,
    'Bench notes', true, 'Bench', true, '',
    CASE WHEN status IN ('seen', 'report_received', 'closed') THEN 1 ELSE 0 END,
    created, sent,
    CASE WHEN status IN ('acknowledged', 'scheduled', 'seen', 'report_received', 'closed')
         THEN sent + interval '2 days' END,
    CASE WHEN status IN ('scheduled', 'seen', 'report_received', 'closed') OR (status = 'cancelled' AND mod(g, 2) = 0)
         THEN sent + interval '5 days' END,
    CASE WHEN status IN ('scheduled', 'seen', 'report_received', 'closed') THEN sent + interval '19 days' END,
    CASE WHEN status IN ('seen', 'report_received', 'closed') THEN sent + interval '19 days' END,
    CASE WHEN status IN ('report_received', 'closed') THEN report END,
    CASE WHEN status = 'closed' THEN report + interval '1 day' END,
    CASE WHEN status IN ('closed', 'declined', 'cancelled', 'expired')
         THEN COALESCE(sent, created) + interval '25 days' END,
    now()
FROM rows
"""


@dataset_part("referrals", version=1)
def build_referrals(ds: Dataset) -> None:
    """40 specialists and 50,000 referrals over 18 months, every state, clocks consistent with each state."""
    from django.db import connection, transaction

    from vma.validators import npi_check_digit

    from .models import Referral, Specialist

    with transaction.atomic():
        Referral.objects.all().delete()
        Specialist.objects.filter(npi__startswith=NPI_PREFIX).delete()
        Specialist.objects.bulk_create(
            [
                Specialist(
                    organisation=f"Bench {SPECIALTIES[i % len(SPECIALTIES)]} Group {i:02d}",
                    name=f"Dr. Bench {i:02d}",
                    specialty=SPECIALTIES[i % len(SPECIALTIES)],
                    npi=(nine := f"{NPI_PREFIX}{i:05d}") + str(npi_check_digit(nine)),
                    contact_method="fax",
                    fax=f"555-09{i:02d}",
                )
                for i in range(SPECIALISTS)
            ]
        )
        with connection.cursor() as cur:
            cur.execute(_INSERT_SQL, {"prefix": f"{NPI_PREFIX}%", "count": REFERRALS, "specialists": SPECIALISTS})
            cur.execute("ANALYZE referrals_referral")


def _check(body: bytes, expected_open: int | None) -> None:
    if b'data-stat="open"' not in body or b"data-specialist=" not in body:
        raise RuntimeError("The dashboard shows no numbers")
    if expected_open is not None and f">{expected_open}</a>".encode() not in body:
        raise RuntimeError(f"The dashboard's open total is not {expected_open}")


@benchmark("referral_dashboard", target_p95_ms=400, max_queries=12)
def referral_dashboard(ds: Dataset) -> Case:
    """GET /referrals/dashboard/ as a manager: 50,000 referrals, practice-wide, computed in the database (4 queries)."""
    from .models import Referral

    total = Referral.objects.count()
    if total != REFERRALS:
        raise RuntimeError(f"The referrals part has {total} referrals; {REFERRALS} expected")
    open_now = Referral.objects.filter(status__in=Referral.OPEN_STATES).count()
    client = ds.client_for(ds.user(MANAGER))
    _check(ds.get_ok(client, "/referrals/dashboard/").content, open_now)
    return Case(run=lambda: ds.get_ok(client, "/referrals/dashboard/"), extra=lambda: _scoped(ds))


def _scoped(ds: Dataset) -> dict[str, Any]:
    """The same page for a VMA (their pod's care teams, ~35 % of the referrals), and a 365-day window."""
    import statistics
    import time

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = ds.client_for(ds.user(BENCH_VMA))
    times, queries = [], 0
    for _ in range(20):
        t = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            body = ds.get_ok(client, "/referrals/dashboard/?window=365").content
        times.append((time.perf_counter() - t) * 1000)
        queries = len(ctx.captured_queries)
    _check(body, None)
    return {"vma_365d_median_ms": round(statistics.median(times), 1), "vma_365d_queries": queries}

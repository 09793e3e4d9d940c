"""Billing benchmarks: 835 posting rate (claims posted per second), and the AR and denial dashboards
over 1,000,000 claim lines (400,000 claims; 100,000 lines at --scale small).
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bench.harness import Case, benchmark, dataset_part

if TYPE_CHECKING:
    from bench.dataset import Dataset

MANAGER = "bench.manager.1"  # put on every care team by the part: the dashboards cover the whole practice
LINES = {"full": 1_000_000, "small": 100_000}
MARK = "B"  # patient control numbers of the part's claims start with it (others are V + hex)
POST_CLAIMS = 50  # claims per 835 in the posting benchmark
STATUSES = [  # (share in %, status): a practice's book over two years
    (70, "paid"),
    (8, "partially_paid"),
    (5, "denied"),
    (1, "appealed"),
    (6, "accepted"),
    (3, "submitted"),
    (1, "rejected"),
    (2, "voided"),
    (3, "draft"),
    (1, "scrubbed"),
]
REASONS = ["16", "197", "50", "29", "97"]
CATEGORY = {"16": "correct_resubmit", "197": "authorization", "50": "medical_necessity", "29": "timely_filing",
            "97": "bundled"}  # fmt: skip


def _status_bands() -> dict[str, list[Any]]:
    """Each status's band of n % 100, as parameters for the claims' INSERT."""
    lows, highs, names, low = [], [], [], 0
    for share, status in STATUSES:
        lows.append(low)
        highs.append(low + share)
        names.append(status)
        low += share
    return {"lows": lows, "highs": highs, "names": names}


@dataset_part("billing_claims", version=1)
def build_claims(ds: Dataset) -> None:
    """Claims of every patient over two years with 1-4 lines (2.5 on average), their payers' answers as
    running totals, a denial (with its 835 claim) for each denied, appealed and partially paid claim."""
    from django.db import connection, transaction
    from guardian.shortcuts import assign_perm

    from vma.models import CareTeam

    lines = LINES[ds.scale.name]
    claims = int(lines / 2.5)
    manager = ds.user(MANAGER)
    for team in CareTeam.objects.all():
        assign_perm("vma.access_panel", manager, team)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")  # FKs hold by construction (joins below)
        cur.execute("SET LOCAL work_mem = '256MB'")
        _drop_previous(cur)
        started = time.perf_counter()
        cur.execute(
            """
            CREATE TEMP TABLE bench_bp ON COMMIT DROP AS
            SELECT row_number() OVER (ORDER BY p.id) AS n, p.id AS patient_id, c.id AS coverage_id,
                   c.payer_id, t.provider_id
            FROM patients_patient p
            JOIN patients_coverage c ON c.patient_id = p.id AND c.rank = 1 AND c.active
            JOIN vma_careteam t ON t.id = p.care_team_id
            """
        )
        cur.execute("SELECT count(*) FROM bench_bp")
        (patients,) = cur.fetchone()
        cur.execute(
            """
            INSERT INTO billing_claim (public_id, patient_id, coverage_id, payer_id, service_date,
                rendering_provider_id, billing_name, billing_npi, billing_tax_id, place_of_service, telehealth,
                frequency_code, original_payer_claim_number, prior_authorization_number, referral_number,
                patient_control_number, total_charge, status, submitted_at, scrub_problems, validation_errors,
                raw_837, transmit_attempts, acknowledgement, clearinghouse_reference, rejection_reasons,
                payer_claim_number, contractual_adjustment, written_off, patient_responsibility, patient_paid,
                closed_reason, created_at, updated_at)
            SELECT gen_random_uuid(), bp.patient_id, bp.coverage_id, bp.payer_id, g.dos, bp.provider_id,
                   'Bench Practice', '1234567893', '123456789', '11', false, '1', '', '', '',
                   %(mark)s || lpad(g.n::text, 19, '0'), 0, g.status,
                   CASE WHEN g.status IN ('draft', 'scrubbed') THEN NULL
                        ELSE g.dos + time '09:00' + interval '2 days' END,
                   '[]', '[]', '', 0, '', '', '[]', '', 0, 0, 0, 0, '', now(), now()
            FROM (SELECT n, current_date - ((n::bigint * 7919) %% 730)::int AS dos, s.status
                  FROM generate_series(1, %(claims)s) n
                  JOIN unnest(%(lows)s::int[], %(highs)s::int[], %(names)s::text[]) AS s(lo, hi, status)
                    ON n %% 100 >= s.lo AND n %% 100 < s.hi) g
            JOIN bench_bp bp ON bp.n = 1 + (g.n %% %(patients)s)
            """,
            {"mark": MARK, "claims": claims, "patients": patients, **_status_bands()},
        )
        cur.execute(
            """
            INSERT INTO billing_claimline (claim_id, line_number, procedure_code, modifiers, units, charge,
                diagnosis_pointers, service_date)
            SELECT c.id, k, (ARRAY['99213','36415','93000','99214'])[k], '[]', 1,
                   40 + ((c.id * 13 + k * 7) %% 200), '[1]', c.service_date
            FROM billing_claim c CROSS JOIN LATERAL generate_series(1, 1 + (c.id %% 4)::int) k
            WHERE c.patient_control_number LIKE %(like)s
            """,
            {"like": MARK + "%"},
        )
        # The payers' answers as the posting keeps them: paid, contractual, patient share, dates.
        cur.execute(
            """
            UPDATE billing_claim c SET
                total_charge = s.total,
                accepted_at = CASE WHEN c.status IN ('draft', 'scrubbed', 'submitted', 'rejected') THEN NULL
                              ELSE c.service_date + time '09:00' + interval '3 days' END,
                first_rejected_at = CASE WHEN c.status = 'rejected' OR c.id %% 50 = 0
                                    THEN c.service_date + time '09:00' + interval '2 days' END,
                first_adjudicated_at = CASE WHEN c.status IN ('paid', 'partially_paid', 'denied', 'appealed')
                                       THEN c.service_date + time '09:00' + interval '20 days' END,
                adjudicated_at = CASE WHEN c.status IN ('paid', 'partially_paid', 'denied', 'appealed')
                                 THEN c.service_date + time '09:00' + interval '20 days' END,
                denied_at = CASE WHEN c.status IN ('partially_paid', 'denied', 'appealed')
                            THEN c.service_date + time '09:00' + interval '20 days' END,
                paid_amount = CASE c.status WHEN 'paid' THEN round(s.total * 0.60, 2)
                              WHEN 'partially_paid' THEN round(s.total * 0.45, 2)
                              WHEN 'denied' THEN 0 WHEN 'appealed' THEN 0 END,
                contractual_adjustment = CASE c.status WHEN 'paid' THEN round(s.total * 0.25, 2)
                                         WHEN 'partially_paid' THEN round(s.total * 0.20, 2) ELSE 0 END,
                patient_responsibility = CASE c.status
                    WHEN 'paid' THEN s.total - round(s.total * 0.60, 2) - round(s.total * 0.25, 2)
                    WHEN 'partially_paid' THEN round(s.total * 0.10, 2) ELSE 0 END,
                patient_paid = CASE WHEN c.status = 'paid' AND c.id %% 3 = 0
                               THEN s.total - round(s.total * 0.60, 2) - round(s.total * 0.25, 2) ELSE 0 END
            FROM (SELECT claim_id, sum(charge) AS total FROM billing_claimline GROUP BY claim_id) s
            WHERE s.claim_id = c.id AND c.patient_control_number LIKE %(like)s
            """,
            {"like": MARK + "%"},
        )
        _denials(cur)
        ds.log(f"  {claims:,} claims, {lines:,} lines: {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cur:
        for table in ("billing_claim", "billing_claimline", "billing_denial", "billing_remittanceclaim"):
            cur.execute(f"VACUUM (ANALYZE) {table}")


def _drop_previous(cur: Any) -> None:
    like = MARK + "%"
    cur.execute(
        "DELETE FROM billing_denial WHERE claim_id IN (SELECT id FROM billing_claim WHERE patient_control_number LIKE %s)",
        [like],
    )
    cur.execute("DELETE FROM billing_remittancefile WHERE content_hash LIKE 'bench-%%'")
    cur.execute("DELETE FROM billing_remittanceclaim WHERE patient_control_number LIKE %s", [like])
    cur.execute(
        "DELETE FROM billing_claimline WHERE claim_id IN (SELECT id FROM billing_claim WHERE patient_control_number LIKE %s)",
        [like],
    )
    cur.execute("DELETE FROM billing_claim WHERE patient_control_number LIKE %s", [like])


def _denials(cur: Any) -> None:
    """One 835 claim and one denial for each claim with money denied, in one bench remittance."""
    cur.execute(
        """
        INSERT INTO billing_remittancefile (public_id, source, filename, content, content_hash, size_bytes, status,
            error, validation_errors, warnings, claims_posted, claims_unmatched, claims_duplicate, received_at)
        VALUES (gen_random_uuid(), 'clearinghouse', 'bench.835', '', 'bench-denials', 0, 'posted', '', '[]', '[]',
            0, 0, 0, now()) RETURNING id
        """
    )
    (file_id,) = cur.fetchone()
    cur.execute(
        """
        INSERT INTO billing_remittance (file_id, payer_key, payer_name, payee_name, payee_npi, amount, method,
            trace_number, provider_adjustments, warnings, transaction_control_number, created_at)
        VALUES (%s, 'BENCH', 'Bench payers', 'Bench Practice', '1234567893', 0, 'NON', 'BENCH', '[]', '[]', '1', now())
        RETURNING id
        """,
        [file_id],
    )
    (remit_id,) = cur.fetchone()
    cur.execute(
        """
        INSERT INTO billing_remittanceclaim (public_id, remittance_id, claim_id, patient_id, sequence, payer_key,
            trace_number, patient_control_number, status_code, payer_claim_number, charge, paid,
            patient_responsibility, patient_name, member_id, remarks, warnings, outcome, message, underpaid_amount,
            posted_at, created_at)
        SELECT gen_random_uuid(), %(remit)s, c.id, c.patient_id, row_number() OVER (ORDER BY c.id), 'BENCH', 'BENCH',
               c.patient_control_number, CASE WHEN c.status = 'partially_paid' THEN '1' ELSE '4' END, '',
               c.total_charge, c.paid_amount, c.patient_responsibility, '', '', '[]', '[]', 'posted', '', 0,
               c.denied_at, c.denied_at
        FROM billing_claim c
        WHERE c.patient_control_number LIKE %(like)s AND c.status IN ('partially_paid', 'denied', 'appealed')
        """,
        {"remit": remit_id, "like": MARK + "%"},
    )
    cur.execute(
        """
        INSERT INTO billing_denial (public_id, claim_id, remittance_claim_id, level, procedure_code, "group", reason,
            codes, remarks, amount, category, next_step, status, resolution, resolved_at, created_at)
        SELECT gen_random_uuid(), c.id, rc.id, CASE WHEN c.status = 'partially_paid' THEN 'line' ELSE 'claim' END,
               '', 'CO', (%(reasons)s::text[])[1 + c.id %% 5], '[]', '[]',
               c.total_charge - coalesce(c.paid_amount, 0) - c.contractual_adjustment - c.patient_responsibility,
               (%(categories)s::text[])[1 + c.id %% 5], 'See the category.',
               CASE WHEN c.status = 'appealed' THEN 'resolved' ELSE 'open' END, '',
               CASE WHEN c.status = 'appealed' THEN c.denied_at END, c.denied_at
        FROM billing_remittanceclaim rc JOIN billing_claim c ON c.id = rc.claim_id
        WHERE rc.remittance_id = %(remit)s
        """,
        {"remit": remit_id, "reasons": REASONS, "categories": [CATEGORY[r] for r in REASONS]},
    )


# ---------------------------------------------------------------------------------------------
# 835 posting


def _fresh_claims(n: int, offset: int) -> list[Any]:
    """n accepted claims (two lines each) of dataset patients, as the posting finds them."""
    from django.db import transaction
    from django.utils import timezone

    from billing.models import Claim, ClaimLine
    from patients.models import Coverage

    coverages = list(
        Coverage.objects.filter(rank=1, active=True)
        .select_related("patient__care_team", "payer")
        .order_by("pk")[offset : offset + n]
    )
    now = timezone.now()
    with transaction.atomic():
        claims = Claim.objects.bulk_create(
            Claim(
                patient=c.patient,
                coverage=c,
                payer=c.payer,
                service_date=timezone.localdate() - timedelta(days=5),
                rendering_provider_id=c.patient.care_team.provider_id,
                billing_name="Bench Practice",
                billing_npi="1234567893",
                billing_tax_id="123456789",
                total_charge=Decimal("140.00"),
                status="accepted",
                submitted_at=now,
                accepted_at=now,
            )
            for c in coverages
        )
        ClaimLine.objects.bulk_create(
            ClaimLine(claim=cl, line_number=k, procedure_code=code, charge=Decimal(charge), diagnosis_pointers=[1],
                      service_date=cl.service_date)
            for cl in claims
            for k, (code, charge) in enumerate((("99213", "125.00"), ("36415", "15.00")), 1)
        )  # fmt: skip
    return list(Claim.objects.filter(pk__in=[c.pk for c in claims]).select_related("patient", "coverage", "payer"))


def _answers(claims: list[Any]) -> list[Any]:
    """Nine in ten paid with coinsurance, one in ten denied for medical necessity."""
    from billing.x12.x835_build import Cas, ClaimAnswer, LineAnswer

    answers = []
    for i, claim in enumerate(claims):
        denied = i % 10 == 9
        lines = []
        for ln in claim.lines.all():
            if denied:
                lines.append(
                    LineAnswer(ln.procedure_code, ln.charge, Decimal(0), adjustments=[Cas("CO", "50", ln.charge)])
                )
                continue
            allowed = (ln.charge * Decimal("0.8")).quantize(Decimal("0.01"))
            pr = (allowed * Decimal("0.2")).quantize(Decimal("0.01"))
            lines.append(
                LineAnswer(ln.procedure_code, ln.charge, allowed - pr,
                           adjustments=[Cas("CO", "45", ln.charge - allowed), Cas("PR", "2", pr)])
            )  # fmt: skip
        answers.append(
            ClaimAnswer(
                patient_control_number=claim.patient_control_number,
                status_code="4" if denied else "1",
                charge=claim.total_charge,
                paid=sum((ln.paid for ln in lines), Decimal(0)),
                payer_claim_number=f"BN{claim.pk}",
                patient_last_name=claim.patient.last_name,
                patient_first_name=claim.patient.first_name,
                member_id=claim.coverage.member_id,
                service_date=claim.service_date,
                lines=lines,
            )
        )
    return answers


def _cleanup(claim_ids: list[int], file_ids: list[int]) -> None:
    """Remove what the posting iterations made, so every run posts the same into the same data."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction

    from billing.models import (
        AdjustmentPosting,
        Claim,
        ClaimLine,
        Denial,
        PatientBalance,
        PatientLedgerEntry,
        PaymentPosting,
        RemittanceClaim,
        RemittanceFile,
    )
    from vma.models import WorkItem, WorkItemEvent

    with transaction.atomic():
        patients = list(Claim.objects.filter(pk__in=claim_ids).values_list("patient_id", flat=True))
        denial_ids = list(Denial.objects.filter(claim_id__in=claim_ids).values_list("pk", flat=True))
        items = WorkItem.objects.filter(
            subject_type=ContentType.objects.get_for_model(Denial), subject_id__in=denial_ids
        )
        WorkItemEvent.objects.filter(item__in=items).delete()
        items.delete()
        Denial.objects.filter(pk__in=denial_ids).delete()
        PatientLedgerEntry.objects.filter(claim_id__in=claim_ids).delete()
        PatientBalance.objects.filter(patient_id__in=patients).delete()
        AdjustmentPosting.objects.filter(claim_id__in=claim_ids).delete()
        PaymentPosting.objects.filter(claim_id__in=claim_ids).delete()
        RemittanceClaim.objects.filter(remittance__file_id__in=file_ids).delete()
        RemittanceFile.objects.filter(pk__in=file_ids).delete()
        ClaimLine.objects.filter(claim_id__in=claim_ids).delete()
        Claim.objects.filter(pk__in=claim_ids).delete()


@benchmark("billing_835_posting", iterations=10)
def posting(ds: Dataset) -> Case:
    """Import one 835 of 50 claims (read, pyx12-validated, posted line by line, PR to patients, denials)."""
    from django.db import reset_queries
    from django.utils import timezone

    from billing import remittance
    from billing.x12.x835 import validate_with_pyx12
    from billing.x12.x835_build import build_835

    made_claims: list[int] = []
    made_files: list[int] = []
    pending: dict[str, str] = {}
    seconds: list[float] = []
    counter = iter(range(1, 10_000))

    def before_each() -> None:
        # The posting issues thousands of statements and no request resets Django's query log (a
        # bounded deque): left full, the next iteration's capture would be cut short.
        reset_queries()
        n = next(counter)
        claims = _fresh_claims(POST_CLAIMS, offset=(n * POST_CLAIMS) % 1500)
        made_claims.extend(c.pk for c in claims)
        payer = claims[0].payer
        day = timezone.localdate()
        pending["text"] = build_835(
            _answers(claims), payer_name=payer.name, payer_id=payer.payer_id, payee_name="Bench Practice",
            payee_npi="1234567893", trace_number=f"BENCH{n:06d}{time.time_ns() % 10**6}", payment_date=day,
            when=timezone.localtime(), interchange_control_number=n,
        )  # fmt: skip

    def run() -> None:
        start = time.perf_counter()
        result = remittance.import_835(pending["text"], source="api")
        seconds.append(time.perf_counter() - start)
        made_files.append(result.file.pk)
        if result.file.claims_posted != POST_CLAIMS:
            raise RuntimeError(f"{result.file.claims_posted} claims posted of {POST_CLAIMS}: {result.file.error}")

    def extra() -> dict[str, Any]:
        text = pending["text"]
        t = time.perf_counter()
        validate_with_pyx12(text)
        validation_ms = (time.perf_counter() - t) * 1000
        median = statistics.median(seconds)
        return {
            "claims_per_file": POST_CLAIMS,
            "claims_per_second": round(POST_CLAIMS / median, 1),
            "pyx12_validation_ms_per_file": round(validation_ms, 1),
        }

    def teardown() -> None:
        _cleanup(made_claims, made_files)

    return Case(run=run, before_each=before_each, extra=extra, teardown=teardown)


# ---------------------------------------------------------------------------------------------
# Dashboards


def _dashboard(ds: Dataset, path: str, marker: bytes) -> Case:
    from django.utils import timezone

    from vma.access import sync_role_groups

    # A freshly built dataset's role groups can miss permissions of apps migrated after vma's
    # post_migrate ran on the flush; make them what vma.access says before measuring.
    sync_role_groups()
    client = ds.client_for(ds.user(MANAGER))
    url = f"{path}?as_of={timezone.localdate():%Y-%m-%d}&days=90"
    body = ds.get_ok(client, url).content
    if marker not in body:
        raise RuntimeError(f"{path} shows no figures ({marker!r} missing)")
    return Case(run=lambda: ds.get_ok(client, url))


@benchmark("billing_ar_dashboard", target_p95_ms=1000, max_queries=25, iterations=30)
def ar_dashboard(ds: Dataset) -> Case:
    """GET the AR dashboard (aging by payer and bucket, days in AR, rates) over every claim, as a manager."""
    return _dashboard(ds, "/billing/dashboard/", b'data-bucket="120_plus"><a')


@benchmark("billing_denial_dashboard", target_p95_ms=1000, max_queries=25, iterations=30)
def denial_dashboard(ds: Dataset) -> Case:
    """GET the denial dashboard (top CARCs, categories, rates by payer and provider) over every claim."""
    return _dashboard(ds, "/billing/dashboard/denials/", b'data-reason="197"')

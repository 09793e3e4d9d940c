"""AR and denial dashboards: figures on a known dataset and a fixed clock, drill-down, CSV, constant queries."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import revenue
from billing.models import Claim, Denial, Remittance, RemittanceClaim, RemittanceFile
from tests.factories import CoverageFactory, PatientFactory, PayerFactory
from vma.access import add_to_care_team

pytestmark = pytest.mark.django_db
D = Decimal
AS_OF = date(2026, 6, 30)


def _at(days_before: int) -> datetime:
    return timezone.make_aware(datetime.combine(AS_OF - timedelta(days=days_before), time(12)))


def _claim(practice: Any, payer: Any, *, dos: int, status: str, charge: str, own: bool = True, **money: Any) -> Claim:
    patient = PatientFactory(care_team=practice.team if own else practice.other_team)
    coverage = CoverageFactory(patient=patient, payer=payer)
    billed = status not in ("draft", "scrubbed")
    return Claim.objects.create(
        patient=patient,
        coverage=coverage,
        payer=payer,
        service_date=AS_OF - timedelta(days=dos),
        rendering_provider=patient.care_team.provider,
        billing_name="Demo Practice",
        status=status,
        total_charge=D(charge),
        submitted_at=_at(dos - 1) if billed else None,
        **money,
    )


def _denial(claim: Claim, *, reason: str, amount: str, days_before: int, level: str = "claim") -> Denial:
    file = RemittanceFile.objects.create(source="api", content="x", content_hash=f"h{claim.pk}")
    remit = Remittance.objects.create(file=file, payer_key="P", amount=0, method="NON", trace_number=f"T{claim.pk}")
    rc = RemittanceClaim.objects.create(
        remittance=remit,
        claim=claim,
        patient=claim.patient,
        sequence=1,
        payer_key="P",
        trace_number=remit.trace_number,
        patient_control_number=claim.patient_control_number,
        status_code="1",
        charge=claim.total_charge,
        paid=0,
        outcome="posted",
    )
    return Denial.objects.create(
        claim=claim,
        remittance_claim=rc,
        level=level,
        group="CO",
        reason=reason,
        codes=[{"group": "CO", "reason": reason, "amount": amount}],
        amount=D(amount),
        category="other",
        next_step="x",
        created_at=_at(days_before),
    )


@pytest.fixture
def books(practice):
    """A known set of claims: two payers, every bucket, denials, a rejection, another team's claim."""
    a = PayerFactory(payer_id="AAA01", name="Aster Health")
    b = PayerFactory(payer_id="BBB02", name="Birch Mutual")
    c = {}
    c[1] = _claim(practice, a, dos=10, status="accepted", charge="100")
    c[2] = _claim(
        practice,
        a,
        dos=45,
        status="partially_paid",
        charge="200",
        paid_amount=D("100"),
        contractual_adjustment=D("50"),
        patient_responsibility=D("20"),
        patient_paid=D("20"),
        first_adjudicated_at=_at(30),
    )
    c[3] = _claim(
        practice,
        a,
        dos=100,
        status="denied",
        charge="150",
        paid_amount=D("0"),
        first_adjudicated_at=_at(20),
        denied_at=_at(20),
    )
    c[4] = _claim(
        practice, b, dos=130, status="appealed", charge="80", first_adjudicated_at=_at(100), denied_at=_at(100)
    )
    c[5] = _claim(
        practice,
        b,
        dos=70,
        status="paid",
        charge="120",
        paid_amount=D("96"),
        contractual_adjustment=D("24"),
        first_adjudicated_at=_at(40),
    )
    c[6] = _claim(practice, b, dos=5, status="draft", charge="60")
    c[7] = _claim(practice, a, dos=10, status="accepted", charge="999", own=False)
    c[8] = _claim(practice, a, dos=120, status="submitted", charge="40")
    c[9] = _claim(practice, a, dos=31, status="rejected", charge="25", first_rejected_at=_at(2))
    Claim.objects.filter(pk=c[9].pk).update(submitted_at=_at(2))
    c[10] = _claim(
        practice,
        b,
        dos=50,
        status="partially_paid",
        charge="100",
        paid_amount=D("60"),
        contractual_adjustment=D("10"),
        first_adjudicated_at=_at(15),
        denied_at=_at(15),
    )
    _denial(c[3], reason="197", amount="150", days_before=20)
    _denial(c[10], reason="16", amount="30", days_before=15, level="line")
    _denial(c[4], reason="50", amount="80", days_before=100)  # outside the 90-day period
    _denial(c[7], reason="197", amount="999", days_before=5)  # another team's
    manager = practice.users["manager"]
    add_to_care_team(manager, practice.team)
    return c


def test_ar_aging_by_payer_and_bucket(books, practice):
    rows, totals = revenue.ar_aging(practice.users["manager"], AS_OF)
    table = {r.payer_id: ([(str(a), n) for a, n in r.cells], str(r.total), r.count) for r in rows}
    assert table == {
        "AAA01": ([("100.00", 1), ("55.00", 2), ("0.00", 0), ("190.00", 2), ("0.00", 0)], "345.00", 5),
        "BBB02": ([("0.00", 0), ("30.00", 1), ("0.00", 0), ("0.00", 0), ("80.00", 1)], "110.00", 2),
    }
    assert [r.payer_id for r in rows] == ["AAA01", "BBB02"]  # the biggest AR first
    assert (totals.total, totals.count) == (D("455.00"), 7)
    assert [str(a) for a, _ in totals.cells] == ["100.00", "85.00", "0.00", "190.00", "80.00"]


def test_summary_figures(books, practice):
    user = practice.users["manager"]
    _rows, totals = revenue.ar_aging(user, AS_OF)
    s = revenue.summary(user, AS_OF, 90, totals)
    assert s.charges_90 == D("545.00") and s.days_in_ar == D("75.1")  # 455 / (545 / 90)
    assert (s.adjudicated, s.denied, s.denial_rate) == (4, 2, D("50.0"))
    assert (s.submitted, s.clean, s.clean_claim_rate) == (5, 4, D("80.0"))
    assert (s.collected, s.collectible, s.net_collection_rate) == (D("276.00"), D("461.00"), D("59.9"))


def test_denial_figures(books, practice):
    user = practice.users["manager"]
    reasons = revenue.denial_reasons(user, AS_OF, 90)
    assert [(r.reason, r.denials, r.claims, r.amount) for r in reasons] == [
        ("197", 1, 1, D("150.00")),
        ("16", 1, 1, D("30.00")),
    ]
    assert reasons[0].description == "Precertification/authorization/notification absent"
    payers = revenue.denial_rates(user, AS_OF, 90, by="payer")
    assert sorted((r.key, r.adjudicated, r.denied, r.rate) for r in payers) == [
        ("AAA01", 2, 1, D("50.0")),
        ("BBB02", 2, 1, D("50.0")),
    ]
    # a longer period takes in the older denial
    assert {r.reason for r in revenue.denial_reasons(user, AS_OF, 180)} == {"197", "16", "50"}


def test_the_clock_moves_claims_between_buckets(books, practice):
    rows, _ = revenue.ar_aging(practice.users["manager"], AS_OF + timedelta(days=31))
    aster = next(r for r in rows if r.payer_id == "AAA01")
    # 31 days later: 10 -> 41 days, 45 and 31 -> 76 and 62, 100 and 120 -> over 120
    assert [n for _, n in aster.cells] == [0, 1, 2, 0, 2]


def _pcns(response) -> set[str]:
    import re

    return set(re.findall(r'data-claim="([^"]+)"', response.content.decode()))


def test_each_cell_drills_down_to_the_claims_it_counts(client, books, practice):
    client.force_login(practice.users["manager"])
    page = client.get("/billing/dashboard/?as_of=2026-06-30").content.decode()
    link = "/billing/claims/?ar=91_120&payer=AAA01&as_of=2026-06-30"
    assert link in page
    drilled = client.get(link)
    assert drilled.status_code == 200
    assert _pcns(drilled) == {books[3].patient_control_number, books[8].patient_control_number}
    # a reason of the denial dashboard
    denial_page = client.get("/billing/dashboard/denials/?as_of=2026-06-30&days=90").content.decode()
    reason_link = "/billing/claims/?denial_reason=197&since=2026-04-02&until=2026-06-30"
    assert reason_link in denial_page
    assert _pcns(client.get(reason_link)) == {books[3].patient_control_number}
    # a payer's denied claims
    payer_link = "/billing/claims/?denied=1&payer=BBB02&since=2026-04-02&until=2026-06-30"
    assert _pcns(client.get(payer_link)) == {books[10].patient_control_number}
    # another team's claim never shows, and a bad filter says so
    bad = client.get("/billing/claims/?ar=1000_days")
    assert _pcns(bad) == set() and "not an AR bucket" in bad.content.decode()


def test_csv_export_of_each_table(client, books, practice):
    client.force_login(practice.users["manager"])
    response = client.get("/billing/dashboard/ar_aging.csv?as_of=2026-06-30")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["payer_id", "payer", "0–30 balance"]
    assert rows[1][:7] == ["AAA01", "Aster Health", "100.00", "55.00", "0.00", "190.00", "0.00"]
    assert rows[-1][1] == "All payers" and rows[-1][-2:] == ["455.00", "7"]
    figures = dict(
        csv.reader(io.StringIO(client.get("/billing/dashboard/summary.csv?as_of=2026-06-30").content.decode()))
    )
    assert figures["days_in_ar"] == "75.1" and figures["denial_rate"] == "50.0"
    reasons = list(
        csv.reader(io.StringIO(client.get("/billing/dashboard/denial_reasons.csv?as_of=2026-06-30").content.decode()))
    )
    assert reasons[1][:2] == ["197", "Precertification/authorization/notification absent"]
    for table in ("denial_categories", "denials_by_payer", "denials_by_provider"):
        assert client.get(f"/billing/dashboard/{table}.csv?as_of=2026-06-30").status_code == 200
    assert client.get("/billing/dashboard/nothing.csv").status_code == 404


def test_the_api_gives_the_same_figures(client, books, practice):
    client.force_login(practice.users["billing"])
    body = client.get("/api/v1/revenue/ar/?as_of=2026-06-30&days=90").json()
    assert body["totals"]["total"] == "455.00" and body["summary"]["days_in_ar"] == "75.1"
    assert body["payers"][0]["buckets"]["91_120"] == "190.00"
    denials = client.get("/api/v1/revenue/denials/?as_of=2026-06-30").json()
    assert [r["reason"] for r in denials["reasons"]] == ["197", "16"]
    assert client.get("/api/v1/revenue/ar/?days=7").status_code == 400


def test_front_office_sees_no_dashboard(client, practice):
    client.force_login(practice.users["front_office"])
    assert client.get("/billing/dashboard/").status_code == 403
    assert client.get("/api/v1/revenue/ar/").status_code == 403


def _many(practice: Any, n: int) -> None:
    payers = [PayerFactory() for _ in range(4)]
    patients = [PatientFactory(care_team=practice.team) for _ in range(5)]
    coverages = [CoverageFactory(patient=p) for p in patients]
    claims = []
    for i in range(n):
        cov = coverages[i % 5]
        claims.append(
            Claim(
                patient=cov.patient,
                coverage=cov,
                payer=payers[i % 4],
                service_date=AS_OF - timedelta(days=i % 150),
                rendering_provider=cov.patient.care_team.provider,
                billing_name="Demo",
                status=["accepted", "denied", "partially_paid", "paid"][i % 4],
                total_charge=D("100"),
                submitted_at=_at(i % 150),
                first_adjudicated_at=_at(i % 90),
                denied_at=_at(i % 90) if i % 4 == 1 else None,
            )
        )
    for claim in Claim.objects.bulk_create(claims):
        if claim.status == "denied":
            _denial(claim, reason=["16", "197", "50"][claim.pk % 3], amount="100", days_before=claim.pk % 60)


@pytest.mark.parametrize(
    "page", ["/billing/dashboard/?as_of=2026-06-30", "/billing/dashboard/denials/?as_of=2026-06-30"]
)
def test_dashboard_query_count_is_constant_from_10_to_200_claims(client, practice, page):
    add_to_care_team(practice.users["manager"], practice.team)
    client.force_login(practice.users["manager"])
    _many(practice, 10)
    client.get(page)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as small:
        assert client.get(page).status_code == 200
    _many(practice, 190)
    with CaptureQueriesContext(connection) as large:
        response = client.get(page)
    assert response.status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries) <= 12

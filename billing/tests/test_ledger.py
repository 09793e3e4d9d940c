"""Patient balances: PR from 835s, payments oldest first, collections stages by age, monthly statements."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from billing import ledger, remittance
from billing.models import (
    Claim,
    PatientBalance,
    PatientLedgerEntry,
    PatientPayment,
    RemittanceFile,
    Statement,
    StatementRun,
)
from billing.services import LineInput
from vma.exceptions import ActionRefused
from vma.models import AuditEvent, WorkItem

from .factories import at_payer, file_835, paid_in_full

pytestmark = pytest.mark.django_db
D = Decimal
Stage = PatientBalance.Stage


def _owing(practice, *, patient_of: Claim | None = None, days_ago: int = 0, icn: int = 1, code: str = "99213") -> Claim:
    """A claim paid by the payer with 20 % coinsurance moved to the patient `days_ago` days ago."""
    claim = at_payer(practice, lines=[LineInput(code, diagnosis_pointers=[1])])
    if patient_of is not None:
        Claim.objects.filter(pk=claim.pk).update(patient=patient_of.patient, coverage=patient_of.coverage)
        claim.refresh_from_db()
    when = timezone.now() - timedelta(days=days_ago)
    remittance.import_835(
        file_835([paid_in_full(claim)], payer=claim.payer, trace=f"T{icn}", icn=icn),
        source=RemittanceFile.Source.API,
        now=when,
    )
    claim.refresh_from_db()
    return claim


def test_a_payment_pays_the_oldest_visits_first_and_the_rest_is_a_credit(practice):
    # given two visits owing 20.00 (99213) and 2.40 (36415), the 36415 one posted earlier
    older = _owing(practice, code="36415", days_ago=10, icn=1)
    newer = _owing(practice, patient_of=older, days_ago=1, icn=2)
    Claim.objects.filter(pk=older.pk).update(service_date=older.service_date - timedelta(days=20))
    patient = older.patient
    assert PatientBalance.objects.get(patient=patient).balance == D("22.40")
    # when the patient pays 21.00
    payment, created = ledger.record_payment(
        patient,
        ledger.PaymentInput(amount="21.00", method="card", idempotency_key="k1"),
        actor=practice.users["billing"],
    )
    # then the older visit is paid off and 18.60 goes to the newer one
    older.refresh_from_db()
    newer.refresh_from_db()
    assert created and (older.patient_paid, newer.patient_paid) == (D("2.40"), D("18.60"))
    balance = PatientBalance.objects.get(patient=patient)
    assert balance.balance == D("1.40") and balance.last_payment_on == timezone.localdate()
    # and the oldest unpaid charge is now the newer one
    assert balance.oldest_open_on == timezone.localdate() - timedelta(days=1)
    # and the same form token again records nothing more
    again, created_again = ledger.record_payment(
        patient,
        ledger.PaymentInput(amount="21.00", method="card", idempotency_key="k1"),
        actor=practice.users["billing"],
    )
    assert again.pk == payment.pk and not created_again and PatientPayment.objects.count() == 1
    # an overpayment is a credit on the account
    ledger.record_payment(
        patient, ledger.PaymentInput(amount="5.00", method="cash"), actor=practice.users["front_office"]
    )
    assert PatientBalance.objects.get(patient=patient).balance == D("-3.60")
    credit = PatientLedgerEntry.objects.get(patient=patient, claim__isnull=True)
    assert credit.amount == D("-3.60") and "credit on account" in credit.description


@pytest.mark.parametrize(
    ("amount", "method", "words"),
    [
        ("0", "cash", "more than 0"),
        ("abc", "cash", "not an amount"),
        ("10.001", "cash", "two decimals"),
        ("10", "barter", "how the patient paid"),
    ],
)
def test_a_bad_payment_is_refused_with_the_reason(practice, amount, method, words):
    claim = _owing(practice)
    with pytest.raises(ActionRefused, match=words):
        ledger.record_payment(claim.patient, ledger.PaymentInput(amount=amount, method=method), actor=None)
    assert not PatientPayment.objects.exists()


def test_another_teams_patient_cannot_be_paid_for(practice):
    from vma.exceptions import NotPermitted

    claim = at_payer(practice, own=False)
    with pytest.raises(NotPermitted):
        ledger.record_payment(
            claim.patient, ledger.PaymentInput(amount="5", method="cash"), actor=practice.users["billing"]
        )


def _item(row: PatientBalance) -> WorkItem | None:
    return WorkItem.objects.filter(
        kind=ledger.COLLECTIONS_KIND, subject_type=ContentType.objects.get_for_model(row), subject_id=row.pk
    ).first()


@pytest.mark.parametrize(
    ("age", "stage"),
    [
        (0, Stage.CURRENT),
        (29, Stage.CURRENT),
        (30, Stage.REMINDER),
        (59, Stage.REMINDER),
        (60, Stage.FINAL_NOTICE),
        (89, Stage.FINAL_NOTICE),
        (90, Stage.COLLECTIONS_REVIEW),
        (130, Stage.COLLECTIONS_REVIEW),
    ],
)
def test_stage_by_age_of_the_oldest_unpaid_charge(age, stage):
    today = date(2026, 6, 30)
    assert ledger.stage_for(D("10"), today - timedelta(days=age), today) == stage
    assert ledger.stage_for(D("0"), today - timedelta(days=age), today) == Stage.NONE


def test_collections_stages_move_as_the_balance_ages_and_a_person_reviews_at_90_days(practice):
    claim = _owing(practice)
    row = PatientBalance.objects.get(patient=claim.patient)
    assert row.stage == Stage.CURRENT and _item(row) is None
    # 45 days later: a reminder, no work item
    ledger.sweep_collections(now=timezone.now() + timedelta(days=45))
    row.refresh_from_db()
    assert row.stage == Stage.REMINDER and _item(row) is None
    # 91 days: the collections review item, saying agency referral is a person's decision
    assert ledger.sweep_collections(now=timezone.now() + timedelta(days=91)) == 1
    row.refresh_from_db()
    item = _item(row)
    assert row.stage == Stage.COLLECTIONS_REVIEW and item is not None and item.queue == "billing"
    assert "a person decides" in item.detail and item.patient_id == claim.patient_id
    # the sweep again changes nothing and opens nothing more
    assert ledger.sweep_collections(now=timezone.now() + timedelta(days=92)) == 0
    assert WorkItem.objects.filter(kind=ledger.COLLECTIONS_KIND).count() == 1
    # paying the balance off closes the review
    ledger.record_payment(claim.patient, ledger.PaymentInput(amount="20.00", method="check"), actor=None)
    row.refresh_from_db()
    item.refresh_from_db()
    assert row.stage == Stage.NONE and row.balance == 0 and item.status == "done"


def test_the_monthly_statement_run_makes_one_statement_per_owing_patient_once(practice, settings):
    settings.BILLING_STATEMENT_MINIMUM = "5.00"
    owing = _owing(practice)  # 20.00
    small = _owing(practice, code="36415", icn=2)  # 2.40: under the minimum
    ledger.record_payment(owing.patient, ledger.PaymentInput(amount="4.00", method="cash"), actor=None)
    now = timezone.now()
    run, created = ledger.run_statements(now=now)
    assert created and run.period == timezone.localdate(now).replace(day=1) and run.statements == 1
    statement = Statement.objects.get(run=run)
    assert statement.patient == owing.patient and statement.balance == D("16.00")
    assert statement.due_date == timezone.localdate(now) + timedelta(days=21)
    (line,) = statement.lines
    assert (line["your_share"], line["you_paid"], line["due"]) == ("20.00", "4.00", "16.00")
    assert [p["amount"] for p in statement.payments] == ["4.00"]
    assert not Statement.objects.filter(patient=small.patient).exists()
    assert PatientBalance.objects.get(patient=owing.patient).last_statement_on == timezone.localdate(now)
    # the run is audited with every patient it covered
    event = AuditEvent.objects.get(action="billing.statement_run")
    assert event.patient_ids == [owing.patient_id]
    # a second run in the same month makes nothing
    again, created_again = ledger.run_statements(now=now + timedelta(hours=5))
    assert again.pk == run.pk and not created_again and StatementRun.objects.count() == 1
    # next month's run lists only payments since this statement
    later, created_later = ledger.run_statements(now=now + timedelta(days=35))
    assert created_later and Statement.objects.get(run=later).payments == []


def test_the_statement_page_prints_the_stage_notice(client, practice):
    claim = _owing(practice, days_ago=65)
    ledger.sweep_collections()
    run, _ = ledger.run_statements()
    statement = Statement.objects.get(run=run, patient=claim.patient)
    assert statement.stage == Stage.FINAL_NOTICE
    client.force_login(practice.users["billing"])
    page = client.get(f"/billing/statements/{statement.public_id}/").content.decode()
    assert "Final notice" in page and "Amount due: 20.00" in page and claim.patient.last_name in page
    assert AuditEvent.objects.filter(action="page.billing_statement", patient_ids=[claim.patient_id]).exists()


def test_a_reversal_takes_the_patients_share_back(practice):
    from billing.x12.x835_build import Cas, LineAnswer

    from .factories import answer

    claim = _owing(practice)
    reversal = [
        LineAnswer("99213", D("-125"), D("-80"), adjustments=[Cas("CO", "45", D("-25")), Cas("PR", "2", D("-20"))])
    ]
    text = file_835([answer(claim, lines=reversal, status_code="22")], payer=claim.payer, trace="REV", icn=7)
    remittance.import_835(text, source=RemittanceFile.Source.API)
    claim.refresh_from_db()
    assert claim.patient_responsibility == 0 and claim.status == Claim.Status.ACCEPTED
    assert PatientBalance.objects.get(patient=claim.patient).balance == 0


def test_the_daily_job_advances_stages_and_makes_the_months_run(practice):
    from billing import tasks

    _owing(practice, days_ago=40)
    result = tasks.patient_billing()
    assert result == {"stages_changed": 1, "statement_run_created": 1}
    assert tasks.patient_billing() == {"stages_changed": 0, "statement_run_created": 0}


def test_aging_counts_from_the_posting_date(practice):
    claim = _owing(practice, days_ago=31)
    row = PatientBalance.objects.get(patient=claim.patient)
    assert row.oldest_open_on == timezone.localdate(timezone.now() - timedelta(days=31))

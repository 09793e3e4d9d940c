"""835 posting: line by line, patient responsibility, idempotency, unmatched and malformed files, underpayments."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from billing import remittance, tasks
from billing.models import (
    AdjustmentPosting,
    Claim,
    Denial,
    FeeScheduleLine,
    PatientBalance,
    PatientLedgerEntry,
    PaymentPosting,
    ProcedureCode,
    RemittanceClaim,
    RemittanceFile,
)
from billing.services import LineInput
from billing.x12.x835 import validate_with_pyx12
from billing.x12.x835_build import Cas, LineAnswer
from tests.factories import PayerFactory
from vma.models import WorkItem

from .factories import answer, at_payer, file_835, paid_in_full

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"
D = Decimal
Source = RemittanceFile.Source


def _items(kind: str, subject) -> list[WorkItem]:
    ct = ContentType.objects.get_for_model(subject)
    return list(WorkItem.objects.filter(kind=kind, subject_type=ct, subject_id=subject.pk))


def _two_line_claim(practice, **kw) -> Claim:
    return at_payer(
        practice,
        lines=[LineInput("99213", diagnosis_pointers=[1]), LineInput("36415", diagnosis_pointers=[1])],
        **kw,
    )


def test_posting_line_by_line_with_adjustments_and_patient_responsibility(practice):
    # given an accepted claim of two lines (125 + 15) and an 835 allowing 80 % with 20 % coinsurance
    claim = _two_line_claim(practice)
    text = file_835([paid_in_full(claim)], payer=claim.payer)
    assert validate_with_pyx12(text) == []

    # when it is imported
    result = remittance.import_835(text, source=Source.API, filename="era.835")

    # then each line is posted with its adjustments, classified for the books
    assert result.created and result.file.status == RemittanceFile.Status.POSTED
    postings = list(PaymentPosting.objects.filter(claim=claim).order_by("sequence"))
    assert [(p.procedure_code, p.charge, p.paid, p.allowed) for p in postings] == [
        ("99213", D("125.00"), D("80.00"), D("100.00")),
        ("36415", D("15.00"), D("9.60"), D("12.00")),
    ]
    assert [p.claim_line.line_number for p in postings] == [1, 2]
    adjustments = {
        (a.posting.procedure_code, a.group, a.reason, a.amount, a.effect)
        for a in AdjustmentPosting.objects.filter(claim=claim)
    }
    assert adjustments == {
        ("99213", "CO", "45", D("25.00"), "write_off"),
        ("99213", "PR", "2", D("20.00"), "patient"),
        ("36415", "CO", "45", D("3.00"), "write_off"),
        ("36415", "PR", "2", D("2.40"), "patient"),
    }
    # and the claim is paid, its totals kept, nothing left in insurance AR
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PAID
    assert (claim.paid_amount, claim.contractual_adjustment, claim.patient_responsibility) == (
        D("89.60"),
        D("28.00"),
        D("22.40"),
    )
    assert claim.insurance_balance == 0 and claim.first_adjudicated_at is not None
    assert claim.payer_claim_number == f"ICN{claim.pk:08d}"
    # and the patient's share moved to the patient's balance
    entry = PatientLedgerEntry.objects.get(claim=claim)
    assert entry.amount == D("22.40") and entry.kind == "insurance"
    balance = PatientBalance.objects.get(patient=claim.patient)
    assert balance.balance == D("22.40") and balance.stage == PatientBalance.Stage.CURRENT
    assert balance.oldest_open_on == timezone.localdate()


def test_the_same_file_twice_posts_nothing_twice(practice):
    claim = _two_line_claim(practice)
    text = file_835([paid_in_full(claim)], payer=claim.payer)
    first = remittance.import_835(text, source=Source.UPLOAD)
    second = remittance.import_835(text.encode(), source=Source.UPLOAD)
    assert first.created and not second.created and second.file.pk == first.file.pk
    assert RemittanceFile.objects.count() == 1
    assert RemittanceClaim.objects.count() == 1 and PaymentPosting.objects.count() == 2
    claim.refresh_from_db()
    assert claim.paid_amount == D("89.60")
    assert PatientLedgerEntry.objects.filter(patient=claim.patient).count() == 1


def test_the_same_payment_in_another_envelope_is_recorded_as_a_repeat_and_posts_nothing(practice):
    # given one payment posted, then re-sent by the clearinghouse in a new interchange (new bytes, same TRN)
    claim = _two_line_claim(practice)
    remittance.import_835(file_835([paid_in_full(claim)], payer=claim.payer, icn=1), source=Source.CLEARINGHOUSE)
    again = remittance.import_835(
        file_835([paid_in_full(claim)], payer=claim.payer, icn=2), source=Source.CLEARINGHOUSE
    )
    # then the second file is kept, its claim recorded as posted before, and no money moves twice
    assert again.created and again.file.status == RemittanceFile.Status.POSTED
    assert (again.file.claims_posted, again.file.claims_duplicate) == (0, 1)
    repeat = RemittanceClaim.objects.get(remittance__file=again.file)
    assert repeat.outcome == RemittanceClaim.Outcome.DUPLICATE and "posted before" in repeat.message
    claim.refresh_from_db()
    assert claim.paid_amount == D("89.60")
    assert PaymentPosting.objects.filter(claim=claim).count() == 2
    assert PatientBalance.objects.get(patient=claim.patient).balance == D("22.40")


def test_an_unmatched_claim_becomes_a_work_item_and_can_be_posted_later(practice):
    # given an 835 whose claim names a control number no claim has
    claim = _two_line_claim(practice)
    ans = paid_in_full(claim)
    ans.patient_control_number = "VNOSUCHCLAIM0000001"
    result = remittance.import_835(file_835([ans], payer=claim.payer), source=Source.API)
    # then the file is posted with exceptions and the 835 claim waits in the billing queue
    assert result.file.status == RemittanceFile.Status.EXCEPTIONS and result.file.claims_unmatched == 1
    rc = RemittanceClaim.objects.get(outcome=RemittanceClaim.Outcome.UNMATCHED)
    (item,) = _items(remittance.UNMATCHED, rc)
    assert item.queue == "billing" and "VNOSUCHCLAIM0000001" in item.title and "matches no claim" in item.title
    assert rc.paid == D("89.60") and rc.claim is None
    claim.refresh_from_db()
    assert claim.status == Claim.Status.ACCEPTED and claim.paid_amount is None
    # when a biller matches it to the claim, it posts and the item closes
    remittance.match_unmatched(rc, claim, actor=practice.users["billing"])
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PAID and claim.paid_amount == D("89.60")
    item.refresh_from_db()
    assert item.status == "done"
    result.file.refresh_from_db()
    assert result.file.status == RemittanceFile.Status.POSTED


def test_a_malformed_file_becomes_a_work_item_with_the_reason_and_is_kept(practice):
    text = "ISA*00*garbage that is no interchange~"
    result = remittance.import_835(text, source=Source.UPLOAD, filename="broken.835")
    file = result.file
    assert file.status == RemittanceFile.Status.FAILED
    assert file.content == text and file.error.startswith("The file is not a readable 835")
    (item,) = _items(remittance.FILE_FAILED, file)
    assert "broken.835" in item.title and file.error in item.detail and item.queue == "billing"
    assert not RemittanceClaim.objects.exists()


def test_a_file_failing_pyx12_is_not_posted_until_a_person_posts_it_anyway(practice):
    # given a readable 835 with an element pyx12's map forbids (ST03 on an 835)
    claim = _two_line_claim(practice)
    text = file_835([paid_in_full(claim)], payer=claim.payer).replace("ST*835*0001~", "ST*835*0001*005010X221A1~")
    result = remittance.import_835(text, source=Source.UPLOAD)
    assert result.file.status == RemittanceFile.Status.INVALID
    assert any("ST03" in e for e in result.file.validation_errors)
    (item,) = _items(remittance.FILE_FAILED, result.file)
    assert "ST03" in item.detail
    claim.refresh_from_db()
    assert claim.paid_amount is None
    # when a biller posts it anyway, it posts and the item closes
    remittance.post_file(result.file, actor=practice.users["billing"], override=True)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PAID
    item.refresh_from_db()
    assert item.status == "done"


def test_an_empty_upload_is_refused_and_nothing_is_stored(practice):
    from vma.exceptions import ActionRefused

    with pytest.raises(ActionRefused, match="empty"):
        remittance.import_835(b"   \n", source=Source.UPLOAD)
    assert not RemittanceFile.objects.exists()


def test_underpayment_against_the_fee_schedule_is_flagged(practice):
    # given a fee schedule of 110.00 for 99213 and a payer allowing 100.00
    claim = _two_line_claim(practice)
    code = ProcedureCode.objects.get(code="99213")
    FeeScheduleLine.objects.create(
        payer=claim.payer,
        procedure=code,
        allowed_amount=D("110.00"),
        effective_from=claim.service_date - timedelta(days=30),
    )
    remittance.import_835(file_835([paid_in_full(claim)], payer=claim.payer), source=Source.API)
    # then the 99213 line is underpaid by 10.00 and a work item says so; 36415 has no schedule
    p = PaymentPosting.objects.get(claim=claim, procedure_code="99213")
    assert (p.expected_allowed, p.underpaid_amount) == (D("110.00"), D("10.00"))
    assert PaymentPosting.objects.get(claim=claim, procedure_code="36415").expected_allowed is None
    rc = RemittanceClaim.objects.get(claim=claim)
    assert rc.underpaid_amount == D("10.00")
    (item,) = _items(remittance.UNDERPAYMENT, rc)
    assert "Underpaid by 10.00" in item.title and "99213 allowed 100.00, expected 110.00" in item.detail


def test_a_fee_schedule_met_is_not_flagged(practice):
    claim = _two_line_claim(practice)
    FeeScheduleLine.objects.create(
        payer=claim.payer,
        procedure=ProcedureCode.objects.get(code="99213"),
        allowed_amount=D("100.00"),
        effective_from=claim.service_date,
    )
    remittance.import_835(file_835([paid_in_full(claim)], payer=claim.payer), source=Source.API)
    assert RemittanceClaim.objects.get(claim=claim).underpaid_amount == 0
    assert not WorkItem.objects.filter(kind=remittance.UNDERPAYMENT).exists()


def test_a_denied_line_leaves_the_claim_partially_paid_with_the_amount_in_ar(practice):
    claim = _two_line_claim(practice)
    lines = [
        LineAnswer("99213", D("125.00"), D("100.00"), adjustments=[Cas("CO", "45", D("25.00"))]),
        LineAnswer("36415", D("15.00"), D("0"), adjustments=[Cas("CO", "97", D("15.00"))], remarks=["M15"]),
    ]
    remittance.import_835(file_835([answer(claim, lines=lines)], payer=claim.payer), source=Source.API)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PARTIALLY_PAID and claim.insurance_balance == D("15.00")
    (denial,) = Denial.objects.filter(claim=claim)
    assert (denial.level, denial.procedure_code, denial.reason, denial.amount, denial.category) == (
        "line",
        "36415",
        "97",
        D("15.00"),
        "bundled",
    )
    assert claim.denied_at is not None


def test_a_denied_claim_is_denied_with_one_claim_level_denial(practice):
    claim = _two_line_claim(practice)
    lines = [
        LineAnswer(ln.procedure_code, ln.charge, D("0"), adjustments=[Cas("CO", "197", ln.charge)])
        for ln in claim.lines.order_by("line_number")
    ]
    remittance.import_835(
        file_835([answer(claim, lines=lines, status_code="4", remarks=["N130"])], payer=claim.payer), source=Source.API
    )
    claim.refresh_from_db()
    assert claim.status == Claim.Status.DENIED and claim.insurance_balance == D("140.00")
    (denial,) = Denial.objects.filter(claim=claim)
    assert (denial.level, denial.reason, denial.amount, denial.category) == (
        "claim",
        "197",
        D("140.00"),
        "authorization",
    )
    assert [c["reason"] for c in denial.codes] == ["197", "197"]
    assert denial.remarks == ["N130"]


def test_reversal_and_re_adjudication_move_the_money_and_the_status(practice):
    # given a claim paid 80 on one line
    claim = at_payer(practice, lines=[LineInput("99213", diagnosis_pointers=[1])])
    original = [LineAnswer("99213", D("125"), D("80"), adjustments=[Cas("CO", "45", D("45"))])]
    remittance.import_835(
        file_835([answer(claim, lines=original, payer_claim_number="A1")], payer=claim.payer, trace="T1"),
        source=Source.API,
    )
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PAID
    # when the payer reverses it and pays 95 in the same payment
    reversal = [LineAnswer("99213", D("-125"), D("-80"), adjustments=[Cas("CO", "45", D("-45"))])]
    again = [LineAnswer("99213", D("125"), D("95"), adjustments=[Cas("CO", "45", D("30"))])]
    text = file_835(
        [
            answer(claim, lines=reversal, status_code="22", payer_claim_number="A1"),
            answer(claim, lines=again, payer_claim_number="A2"),
        ],
        payer=claim.payer,
        trace="T2",
        icn=2,
    )
    assert validate_with_pyx12(text) == []
    remittance.import_835(text, source=Source.API)
    # then the money nets out and the claim is paid again under the new payer claim number
    claim.refresh_from_db()
    assert (claim.status, claim.paid_amount, claim.contractual_adjustment) == (Claim.Status.PAID, D("95"), D("30"))
    assert claim.payer_claim_number == "A2" and claim.insurance_balance == 0
    assert RemittanceClaim.objects.filter(claim=claim, outcome="posted").count() == 3


def test_a_submitted_claim_whose_acknowledgement_was_lost_is_accepted_then_paid(practice):
    claim = at_payer(practice, status="submitted", lines=[LineInput("99213", diagnosis_pointers=[1])])
    remittance.import_835(file_835([paid_in_full(claim)], payer=claim.payer), source=Source.API)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PAID and claim.accepted_at is not None


def test_money_for_a_voided_claim_is_posted_and_the_status_left_with_a_note(practice):
    claim = at_payer(practice, status="voided", lines=[LineInput("99213", diagnosis_pointers=[1])])
    remittance.import_835(file_835([paid_in_full(claim)], payer=claim.payer), source=Source.API)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.VOIDED and claim.paid_amount == D("80.00")
    assert "posted without changing its status" in RemittanceClaim.objects.get(claim=claim).message


def test_the_sample_partial_payment_file_posts_each_claim(practice):
    # given two claims carrying the sample file's control numbers and lines
    payer = PayerFactory(payer_id="SFH55", name="Sunfield Health")
    first = at_payer(
        practice,
        payer=payer,
        pcn="PCN2001",
        lines=[
            LineInput("99214", charge=D("200"), diagnosis_pointers=[1]),
            LineInput("93000", charge=D("50"), diagnosis_pointers=[1]),
        ],
    )
    second = at_payer(
        practice, payer=payer, pcn="PCN2002", lines=[LineInput("99213", charge=D("120"), diagnosis_pointers=[1])]
    )
    result = remittance.import_835((DATA / "835_partial_payment.x12").read_bytes(), source=Source.UPLOAD)
    assert result.file.status == RemittanceFile.Status.POSTED and result.file.claims_posted == 2
    first.refresh_from_db()
    second.refresh_from_db()
    # PCN2001: paid 131, CO-45 55, PR 64 (deductible 50 + coinsurance 14); PCN2002: claim-level PR-3 copay 25
    assert (first.status, first.paid_amount, first.contractual_adjustment, first.patient_responsibility) == (
        "paid",
        D("131.00"),
        D("55.00"),
        D("64.00"),
    )
    assert (second.status, second.paid_amount, second.patient_responsibility) == ("paid", D("65.00"), D("25.00"))
    assert AdjustmentPosting.objects.get(claim=second, posting__isnull=True).reason == "3"
    assert PatientBalance.objects.get(patient=first.patient).balance == D("64.00")
    # the remittance keeps the payment it explains
    remit = result.file.remittances.get()
    assert (remit.payer, remit.trace_number, remit.amount, remit.method, remit.payment_date) == (
        payer,
        "CHK100234",
        D("196.00"),
        "CHK",
        date(2025, 3, 22),
    )


def test_the_simulated_clearinghouse_answers_accepted_claims_with_real_835s(practice, settings):
    settings.BILLING_SIM_ADJUDICATION_DAYS = 3
    payer = PayerFactory()
    paid = at_payer(practice, payer=payer, lines=[LineInput("99213", diagnosis_pointers=[1])])
    denied = at_payer(practice, payer=payer, member_id="DEN50X", lines=[LineInput("99213", diagnosis_pointers=[1])])
    young = at_payer(practice, payer=payer, lines=[LineInput("99213", diagnosis_pointers=[1])])
    Claim.objects.filter(pk__in=[paid.pk, denied.pk]).update(accepted_at=timezone.now() - timedelta(days=4))
    # when the periodic fetch runs
    results = remittance.fetch_from_clearinghouse(now=timezone.now())
    (result,) = results
    assert result.created and result.file.source == Source.CLEARINGHOUSE
    assert validate_with_pyx12(result.file.content) == []
    # then the claims accepted 3+ days ago are adjudicated; the young one waits
    statuses = dict(Claim.objects.filter(pk__in=[paid.pk, denied.pk, young.pk]).values_list("pk", "status"))
    assert statuses == {paid.pk: "paid", denied.pk: "denied", young.pk: "accepted"}
    assert Denial.objects.get(claim=denied).category == "medical_necessity"
    # and a second run posts nothing again
    assert remittance.fetch_from_clearinghouse(now=timezone.now()) == []
    assert RemittanceClaim.objects.count() == 2


def test_a_large_upload_is_posted_after_commit_by_a_task_and_the_sweep_catches_a_lost_one(
    practice, settings, django_capture_on_commit_callbacks
):
    settings.BILLING_REMITTANCE_SYNC_CLAIMS = 1
    first, second = _two_line_claim(practice), _two_line_claim(practice)
    text = file_835([paid_in_full(first), paid_in_full(second)], payer=first.payer)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = remittance.import_835(text, source=Source.UPLOAD, defer_large=True)
    assert result.file.status == RemittanceFile.Status.RECEIVED  # nothing posted inside the request
    assert len(callbacks) == 1  # the task is queued after commit; run it as the worker would
    tasks.post_remittance_file(result.file.pk)
    tasks.post_remittance_file(result.file.pk)  # a duplicate delivery posts nothing more
    result.file.refresh_from_db()
    assert result.file.status == RemittanceFile.Status.POSTED and result.file.claims_posted == 2
    # a lost task: the hourly sweep posts a file left waiting 10 minutes
    third = _two_line_claim(practice)
    with django_capture_on_commit_callbacks(execute=False):
        waiting = remittance.import_835(
            file_835([paid_in_full(third), paid_in_full(first)], payer=first.payer, icn=9),  # first: paid before
            source=Source.API,
            defer_large=True,
        ).file
    assert remittance.post_received(now=timezone.now()) == 0
    assert remittance.post_received(now=timezone.now() + timedelta(minutes=11)) == 1
    waiting.refresh_from_db()
    assert (waiting.status, waiting.claims_posted, waiting.claims_duplicate) == ("posted", 1, 1)

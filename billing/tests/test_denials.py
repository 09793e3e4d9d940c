"""Denials: category and next step per CARC/RARC/group, work items, write-off, appeal letters."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType

from billing import appeals, denials, remittance
from billing.models import Appeal, AppealTemplate, Claim, Denial, RemittanceFile
from billing.services import LineInput
from billing.x12.x835_build import Cas, LineAnswer
from vma.exceptions import ActionRefused
from vma.models import WorkItem

from .factories import answer, at_payer, file_835

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.mark.parametrize(
    ("group", "reason", "remarks", "category", "words"),
    [
        ("CO", "16", [], "correct_resubmit", "Correct and resubmit"),
        ("CO", "197", [], "authorization", "retro-authorization"),
        ("CO", "29", [], "timely_filing", "proof of timely filing"),
        ("CO", "50", [], "medical_necessity", "Appeal with records"),
        ("OA", "18", [], "duplicate", "do not resubmit"),
        ("CO", "22", [], "coordination", "primary payer"),
        ("CO", "27", [], "eligibility", "Verify eligibility"),
        ("CO", "96", [], "non_covered", "waiver (ABN)"),
        ("CO", "97", [], "bundled", "modifier 59"),
        ("CO", "242", [], "network", "referral"),
        ("CO", "A1", ["MA04"], "coordination", "primary payer"),  # an unknown CARC, a telling RARC
        ("CO", "A1", [], "other", "call the payer"),  # the sensible default
    ],
)
def test_each_denial_category_has_its_usual_next_step(group, reason, remarks, category, words):
    found = denials.categorize(group, reason, remarks)
    assert found.code == category
    assert words.lower() in found.next_step.lower()


def test_a_vague_leading_code_gives_way_to_a_specific_one():
    _g, reason, amount, category = denials.draft_denial(
        codes=[denials.DeniedAmount("CO", "A1", D("90")), denials.DeniedAmount("CO", "29", D("10"))],
        remarks=[],
        status_code="4",
        fallback_amount=D("0"),
    )
    assert (reason, amount, category.code) == ("A1", D("100"), "timely_filing")


@pytest.mark.parametrize(
    ("group", "reason", "effect"),
    [
        ("PR", "1", "patient"),
        ("CO", "45", "write_off"),
        ("OA", "23", "write_off"),
        ("CO", "197", "denial"),
        ("PI", "16", "denial"),
        ("PR", "96", "patient"),
    ],
)
def test_adjustments_are_classified_for_the_books(group, reason, effect):
    assert denials.effect_of(group, reason) == effect


def _denied(practice, reason: str = "197", remarks: tuple[str, ...] = ("N130",)) -> Claim:
    claim = at_payer(
        practice, lines=[LineInput("99213", diagnosis_pointers=[1]), LineInput("36415", diagnosis_pointers=[1])]
    )
    lines = [
        LineAnswer(ln.procedure_code, ln.charge, D("0"), adjustments=[Cas("CO", reason, ln.charge)])
        for ln in claim.lines.order_by("line_number")
    ]
    text = file_835([answer(claim, lines=lines, status_code="4", remarks=list(remarks))], payer=claim.payer)
    remittance.import_835(text, source=RemittanceFile.Source.API)
    claim.refresh_from_db()
    return claim


def _item(denial: Denial) -> WorkItem:
    return WorkItem.objects.get(
        kind=denials.DENIAL_KIND, subject_type=ContentType.objects.get_for_model(Denial), subject_id=denial.pk
    )


def test_every_denial_is_a_billing_work_item_with_codes_and_next_step(practice):
    claim = _denied(practice)
    denial = Denial.objects.get(claim=claim)
    item = _item(denial)
    assert item.queue == "billing" and item.patient_id == claim.patient_id and item.status == "open"
    assert "Authorization absent (CO-197)" in item.title and claim.patient_control_number in item.title
    assert "Precertification/authorization/notification absent" in item.detail
    assert "retro-authorization" in item.detail and "N130" in item.detail


def test_the_claim_page_shows_the_denial_and_its_next_step(client, practice):
    claim = _denied(practice, reason="29", remarks=())
    client.force_login(practice.users["billing"])
    page = client.get(f"/billing/claims/{claim.public_id}/").content.decode()
    assert "Timely filing" in page and "The time limit for filing has expired" in page
    assert "proof of timely filing" in page.lower() and "Draft appeal" in page


def test_writing_off_a_denial_takes_it_out_of_ar_and_closes_its_item(practice):
    claim = _denied(practice)
    denial = Denial.objects.get(claim=claim)
    with pytest.raises(ActionRefused, match="Say why"):
        denials.write_off(denial, actor=practice.users["billing"], reason=" ")
    denials.write_off(denial, actor=practice.users["billing"], reason="Retro-authorization refused")
    claim.refresh_from_db()
    denial.refresh_from_db()
    assert claim.written_off == D("140.00") and claim.insurance_balance == 0
    assert denial.status == "resolved" and "Retro-authorization refused" in denial.resolution
    assert _item(denial).status == "done"
    with pytest.raises(ActionRefused, match="resolved already"):
        denials.write_off(denial, actor=practice.users["billing"], reason="again")


def test_the_appeal_letter_is_drafted_with_the_claims_facts(practice, settings):
    settings.PRACTICE_ADDRESS_LINE = "12 Maple Grove Road"
    settings.BILLING_CONTACT_NAME = "Rosa Biller"
    claim = _denied(practice, reason="50", remarks=("N130",))
    denial = Denial.objects.get(claim=claim)
    appeal, created = appeals.draft_appeal(claim, actor=practice.users["billing"], denial=denial)
    assert created and appeal.status == Appeal.Status.DRAFT and appeal.template_name == appeals.DEFAULT_NAME
    letter = appeal.letter
    patient = claim.patient
    for fact in (
        "Demo Practice",
        "12 Maple Grove Road",
        claim.payer.name,
        f"{patient.first_name} {patient.last_name}, born {patient.date_of_birth:%m/%d/%Y}",
        claim.coverage.member_id,
        f"Claim number: {claim.payer_claim_number}",
        f"Date of service: {claim.service_date:%m/%d/%Y}",
        "Billed: $140.00",
        "- 99213 Office visit, established, low, 1 unit(s), $125.00",
        "- 36415 Venipuncture, 1 unit(s), $15.00",
        "E11.9",
        "- CO-50 Non-covered: not deemed a 'medical necessity' by the payer ($125.00)",
        "Remark N130: Consult plan benefit documents",
        "signed visit note documents",  # the medical-necessity argument
        claim.rendering_provider.npi,
        "Rosa Biller",
    ):
        assert fact in letter, fact
    # asking again opens the same draft
    again, created_again = appeals.draft_appeal(claim, actor=practice.users["billing"], denial=denial)
    assert again.pk == appeal.pk and not created_again


def test_the_letter_is_edited_then_sent_and_the_claim_is_appealed_with_the_letter_kept(practice):
    claim = _denied(practice)
    denial = Denial.objects.get(claim=claim)
    appeal, _ = appeals.draft_appeal(claim, actor=practice.users["billing"], denial=denial)
    edited = appeal.letter + "\nEnclosed: the ER note of the visit.\n"
    appeals.send_appeal(appeal, actor=practice.users["billing"], letter=edited)
    appeal.refresh_from_db()
    claim.refresh_from_db()
    denial.refresh_from_db()
    assert appeal.status == "sent" and appeal.sent_by == practice.users["billing"]
    assert "Enclosed: the ER note of the visit." in appeal.letter
    assert claim.status == Claim.Status.APPEALED
    assert denial.status == "resolved" and denial.resolution.startswith("Appealed")
    assert _item(denial).status == "done"
    with pytest.raises(ActionRefused, match="was sent"):
        appeals.save_letter(appeal, "x" * 50, actor=practice.users["billing"])


def test_a_practice_template_suiting_the_carc_is_used(practice):
    AppealTemplate.objects.create(
        name="Authorization appeal",
        reasons="197, 198",
        body="To {{ payer.name }}: claim {{ claim.patient_control_number }} for {{ patient.name }} was denied "
        "({% for d in denials %}{{ d.group }}-{{ d.reason }}{% endfor %}). We request a retro-authorization.",
    )
    AppealTemplate.objects.create(name="Timely filing proof", reasons="29", body="not this one")
    claim = _denied(practice)
    denial = Denial.objects.get(claim=claim)
    assert [n for n, _ in appeals.template_choices(denial)] == ["Authorization appeal", appeals.DEFAULT_NAME]
    appeal, _ = appeals.draft_appeal(claim, actor=practice.users["billing"], denial=denial)
    assert appeal.template_name == "Authorization appeal"
    assert f"claim {claim.patient_control_number} for {claim.patient.first_name}" in appeal.letter
    assert "(CO-197)" in appeal.letter


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("{% load static %}x", "cannot use {% load %}"),
        ("{% include 'base.html' %}", "cannot use {% include %}"),
        ("{% debug %}", "cannot use {% debug %}"),
        ("{% for x in %}", "does not compile"),
    ],
)
def test_a_template_reaching_outside_its_facts_is_refused(body, words):
    with pytest.raises(ActionRefused, match=words.replace("{", r"\{").replace("}", r"\}")):
        appeals.check_template(body)


def test_only_a_denied_or_partially_paid_claim_is_appealed(practice):
    claim = at_payer(practice)
    with pytest.raises(ActionRefused, match="only a denied or partially paid claim"):
        appeals.draft_appeal(claim, actor=practice.users["billing"])


def test_a_correction_resolves_the_claims_denials(practice):
    from billing import workflow

    claim = _denied(practice, reason="16")
    denial = Denial.objects.get(claim=claim)
    workflow.correct(claim, actor=practice.users["billing"], reason="Missing modifier")
    denial.refresh_from_db()
    assert denial.status == "resolved" and "Corrected claim" in denial.resolution
    assert _item(denial).status == "done"


def test_a_reprocessed_denial_paid_later_is_resolved(practice):
    claim = _denied(practice)
    lines = [LineAnswer(ln.procedure_code, ln.charge, ln.charge) for ln in claim.lines.order_by("line_number")]
    text = file_835([answer(claim, lines=lines, payer_claim_number="R2")], payer=claim.payer, trace="EFT9", icn=9)
    remittance.import_835(text, source=RemittanceFile.Source.API)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PAID and claim.insurance_balance == 0
    assert Denial.objects.get(claim=claim).status == "resolved"

"""Pending, editing, cancelling, signing and returning orders: the rules of orders/workflow.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from eligibility.models import PriorAuthRule
from orders import services, signing, workflow
from orders.models import Order
from tests.factories import CoverageFactory, UserFactory
from vma.access import add_to_care_team
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import WorkItem
from vma.roles import Role

from .factories import KIND_DATA, fresh, item, pend, sign

S = Order.Status
pytestmark = pytest.mark.django_db


# --- pending ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", Order.Kind.values)
def test_a_vma_pends_each_kind_for_the_visit_provider(visit, vma, provider, kind):
    order = pend(visit, vma, kind)
    assert order.status == S.PENDED and order.provider == provider and order.pended_by == vma
    assert order.diagnosis.code == "E78.5" and order.patient == visit.patient
    assert order.title  # derived for prescriptions, referrals and follow-ups


def test_a_nurse_pends_too_but_a_provider_or_front_office_cannot(practice, visit):
    pend(visit, practice.users[Role.NURSE])
    for role in (Role.PROVIDER, Role.FRONT_OFFICE, Role.BILLING):
        with pytest.raises(NotPermitted):
            pend(visit, practice.users[role])


def test_another_teams_visit_cannot_be_pended(other_visit, vma):
    with pytest.raises(NotPermitted):
        pend(other_visit, vma)


@pytest.mark.parametrize(
    ("kind", "fields", "field", "words"),
    [
        ("lab", {"title": ""}, "title", "Name the test"),
        ("lab", {"procedure_code": "LIPID"}, "procedure_code", "not a CPT/HCPCS code"),
        ("imaging", {"result_expected_days": 400}, "result_expected_days", "from 1 to 90"),
        ("prescription", {"sig": ""}, "sig", "directions"),
        ("prescription", {"quantity": 0}, "quantity", "from 1 to"),
        ("prescription", {"quantity": "ten"}, "quantity", "whole number"),
        ("prescription", {"pharmacy": ""}, "pharmacy", "pharmacy"),
        ("prescription", {"refills": None}, "refills", "number of refills"),
        ("prescription", {"controlled_schedule": "CII", "refills": 1}, "refills", "Schedule II"),
        ("prescription", {"controlled_schedule": "CIV", "refills": 6}, "refills", "at most 5"),
        ("prescription", {"controlled_schedule": "CVI"}, "controlled_schedule", "DEA schedule"),
        ("referral", {"specialty": ""}, "specialty", "specialty"),
        ("referral", {"reason": " "}, "reason", "why"),
        ("referral", {"urgency": "soon"}, "urgency", "routine, urgent or STAT"),
        ("follow_up", {"follow_up_in_days": None}, "follow_up_in_days", "how many days"),
    ],
)
def test_kind_specific_validation_names_the_field(visit, vma, kind, fields, field, words):
    with pytest.raises(ValidationError) as caught:
        pend(visit, vma, kind, **fields)
    assert words in caught.value.message_dict[field][0]
    assert not Order.objects.exists()


def test_the_diagnosis_must_be_one_of_the_visits(visit, other_visit, vma):
    with pytest.raises(ValidationError) as caught:
        workflow.pend_order(visit, actor=vma, kind="lab", diagnosis=None, **KIND_DATA["lab"])
    assert "diagnoses" in caught.value.message_dict["diagnosis"][0]
    with pytest.raises(ValidationError):
        workflow.pend_order(visit, actor=vma, kind="lab", diagnosis=other_visit.diagnoses.first(), **KIND_DATA["lab"])


def test_fields_of_other_kinds_are_blanked(visit, vma):
    order = pend(visit, vma, "lab", drug="aspirin", specialty="Cardiology")
    assert order.drug == "" and order.specialty == ""


def test_a_payer_rule_marks_the_order_as_needing_prior_auth(visit, vma):
    coverage = CoverageFactory(patient=visit.patient)
    PriorAuthRule.objects.create(payer=coverage.payer, code="70551", category="")
    assert pend(visit, vma, "imaging", title="MRI brain", procedure_code="70551").needs_prior_auth
    assert not pend(visit, vma, "imaging").needs_prior_auth
    assert "prior authorization" in services.effect_text(Order.objects.get(procedure_code="70551"))


# --- the transition table ------------------------------------------------------------------------


@pytest.mark.parametrize("start", S.values)
@pytest.mark.parametrize("to", S.values)
def test_every_move_follows_the_table(visit, vma, start, to):
    signature = {"signed_at": timezone.now(), "signed_hash": "0" * 64}
    order = pend(visit, vma)
    Order.objects.filter(pk=order.pk).update(status=start, **signature)
    order.refresh_from_db()
    if to in workflow.TRANSITIONS[start]:
        assert workflow._move(order, to=to, **signature).status == to
    else:
        with pytest.raises(ActionRefused):
            workflow._move(order, to=to, **signature)


# --- signing ---------------------------------------------------------------------------------------


def test_the_provider_signs_with_who_when_and_the_hash(visit, vma, provider):
    order = pend(visit, vma)
    result = sign(provider, order)
    assert [o.ok for o in result.outcomes] == [True]
    order = fresh(order)
    assert order.status == S.SIGNED and order.signed_by == provider and order.signed_at is not None
    assert order.signed_hash == services.order_hash(order)


def test_the_batch_signature_is_in_the_audit_chain_with_each_hash(visit, vma, provider):
    from vma.models import AuditEvent

    first, second = pend(visit, vma, "lab"), pend(visit, vma, "imaging")
    sign(provider, first, second)
    event = AuditEvent.objects.get(action="orders.sign")
    assert event.actor == provider and event.patient_ids == [visit.patient_id]
    assert [o["id"] for o in event.detail["orders"]] == [str(first.public_id), str(second.public_id)]
    assert event.detail["orders"][0]["hash"] == fresh(first).signed_hash


def test_a_vma_cannot_sign(visit, vma, practice):
    order = pend(visit, vma)
    for role in (Role.CLINICAL_SUPPORT, Role.NURSE, Role.MANAGER):
        with pytest.raises(NotPermitted):
            sign(practice.users[role], order)
    assert fresh(order).status == S.PENDED


def test_another_provider_cannot_sign_even_on_the_same_team(practice, visit, vma):
    order = pend(visit, vma)
    colleague = UserFactory(role=Role.PROVIDER)
    add_to_care_team(colleague, practice.team)
    result = sign(colleague, order)
    assert result.outcomes[0].message == "Not found." and not result.signed
    result = sign(practice.outsider_provider, order)
    assert result.outcomes[0].message == "Not found."
    assert fresh(order).status == S.PENDED


def test_a_provider_no_longer_on_the_patients_team_cannot_sign(practice, visit, vma, provider):
    from vma.access import remove_from_care_team

    order = pend(visit, vma)
    remove_from_care_team(provider, practice.team)
    assert sign(provider, order).outcomes[0].message == "Not found."


def test_a_changed_order_is_refused_until_reviewed_again(visit, vma, provider):
    order = pend(visit, vma)
    shown = item(order)
    workflow.edit_order(
        order, actor=vma, diagnosis=order.diagnosis, **{**KIND_DATA["lab"], "title": "Lipid panel, fasting"}
    )
    result = signing.sign_batch(provider, [shown])
    assert not result.signed and "Changed since you reviewed it" in result.outcomes[0].message
    assert fresh(order).status == S.PENDED
    assert sign(provider, order).signed  # with the new hash


def test_signing_twice_answers_already_signed(visit, vma, provider):
    order = pend(visit, vma)
    shown = item(order)
    assert signing.sign_batch(provider, [shown]).signed
    again = signing.sign_batch(provider, [shown])
    assert not again.signed and again.outcomes[0].message.startswith("Already signed by")


def test_a_batch_signs_what_it_can_and_says_why_not_for_the_rest(practice, visit, vma, provider, other_visit):
    ok = pend(visit, vma, "lab")
    cancelled = pend(visit, vma, "imaging")
    workflow.cancel_order(cancelled, actor=vma, reason="Duplicate")
    their_vma = UserFactory(role=Role.CLINICAL_SUPPORT)
    add_to_care_team(their_vma, practice.other_team)
    theirs = pend(other_visit, their_vma, "lab")
    result = sign(provider, ok, cancelled, theirs)
    assert [o.ok for o in result.outcomes] == [True, False, False]
    assert "Cancelled" in result.outcomes[1].message and "Duplicate" in result.outcomes[1].message
    assert result.outcomes[2].message == "Not found."
    assert fresh(theirs).status == S.PENDED


def test_an_unknown_kind_or_id_is_refused_per_item(visit, vma, provider):
    import uuid

    order = pend(visit, vma)
    result = signing.sign_batch(provider, [("gizmo", uuid.uuid4(), "x"), ("order", uuid.uuid4(), "y"), item(order)])
    assert [o.ok for o in result.outcomes] == [False, False, True]
    assert "Unknown kind" in result.outcomes[0].message and result.outcomes[1].message == "Not found."


def test_an_empty_batch_is_refused(provider):
    with pytest.raises(ActionRefused):
        signing.sign_batch(provider, [])


def test_the_registered_kind_alone_never_signs_a_controlled_order(visit, vma, provider):
    from vma.signing import signable_kind

    from .factories import CONTROLLED

    order = pend(visit, vma, "prescription", **CONTROLLED)
    kind = signable_kind("order")
    assert kind is not None
    outcome = kind.sign([order.public_id], provider=provider, hashes={order.public_id: item(order)[2]})[0]
    assert not outcome.ok and "one-time code" in outcome.message


# --- returning, editing, cancelling -------------------------------------------------------------


def test_a_returned_order_goes_back_to_the_vmas_queue_and_re_pending_closes_it(visit, vma, provider):
    order = pend(visit, vma)
    result = signing.return_batch(provider, [item(order)], comment="Make it fasting")
    assert result.signed and fresh(order).status == S.RETURNED
    work = WorkItem.objects.get(kind=workflow.RETURNED_KIND)
    assert work.queue == Role.CLINICAL_SUPPORT and work.patient == visit.patient and work.is_open
    assert "Make it fasting" in work.detail
    assert work in list(WorkItem.objects.filter(queue__in=vma.role_names))
    # a returned order cannot be signed
    assert "Returned" in sign(provider, order).outcomes[0].message
    workflow.edit_order(
        order, actor=vma, diagnosis=order.diagnosis, **{**KIND_DATA["lab"], "title": "Lipid panel, fasting"}
    )
    work.refresh_from_db()
    assert not work.is_open and fresh(order).status == S.PENDED
    assert sign(provider, order).signed


def test_a_nurses_returned_order_goes_to_the_nurse_queue(practice, visit, provider):
    order = pend(visit, practice.users[Role.NURSE])
    signing.return_batch(provider, [item(order)], comment="Wrong drug")
    assert WorkItem.objects.get(kind=workflow.RETURNED_KIND).queue == Role.NURSE


def test_returning_needs_a_comment(visit, vma, provider):
    order = pend(visit, vma)
    with pytest.raises(ActionRefused):
        signing.return_batch(provider, [item(order)], comment="  ")
    assert fresh(order).status == S.PENDED


def test_a_signed_order_cannot_be_edited_or_cancelled(visit, vma, provider):
    order = pend(visit, vma)
    sign(provider, order)
    with pytest.raises(ActionRefused):
        workflow.edit_order(order, actor=vma, diagnosis=order.diagnosis, **KIND_DATA["lab"])
    with pytest.raises(ActionRefused):
        workflow.cancel_order(order, actor=vma, reason="Oops")


def test_cancelling_needs_a_reason_and_closes_the_returned_item(visit, vma, provider):
    order = pend(visit, vma)
    signing.return_batch(provider, [item(order)], comment="Not needed")
    with pytest.raises(ActionRefused):
        workflow.cancel_order(order, actor=vma, reason="")
    order = workflow.cancel_order(order, actor=vma, reason="Provider said not needed")
    assert order.status == S.CANCELLED and order.cancelled_by == vma
    assert not WorkItem.objects.get(kind=workflow.RETURNED_KIND).is_open


def test_a_provider_cannot_cancel_or_edit(visit, vma, provider):
    order = pend(visit, vma)
    with pytest.raises(NotPermitted):
        workflow.cancel_order(order, actor=provider, reason="No")
    with pytest.raises(NotPermitted):
        workflow.edit_order(order, actor=provider, diagnosis=order.diagnosis, **KIND_DATA["lab"])

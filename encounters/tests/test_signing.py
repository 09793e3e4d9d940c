"""Marking ready, signing exactly once by the right provider, the lock, addenda, returning a note."""

from __future__ import annotations

import pytest
from django.urls import reverse

from encounters import services, workflow
from encounters.models import Addendum, Encounter
from encounters.selectors import note_hash
from encounters.signing import NoteSignable
from tests.factories import PatientFactory, UserFactory
from vma.access import add_to_care_team
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import WorkItem
from vma.roles import Role
from vma.signing import signable_kind

from .helpers import checked_in_visit, complete_note, save

S = Encounter.Status


# --- ready for signature -------------------------------------------------------------------------


def test_a_note_is_marked_ready_only_once_it_has_the_minimum(encounter, scribe):
    save(encounter, scribe, "chief_complaint", "")
    with pytest.raises(ActionRefused) as refused:
        workflow.mark_ready(encounter, actor=scribe)
    message = refused.value.message
    assert "chief complaint" in message and "diagnosis" in message and "plan" in message
    complete_note(encounter, scribe)
    enc = workflow.mark_ready(encounter, actor=scribe)
    assert enc.status == S.PENDED and enc.pended_by == scribe and enc.pended_at is not None
    assert workflow.mark_ready(encounter, actor=scribe).status == S.PENDED  # a second click changes nothing


def test_a_ready_note_is_in_the_providers_signing_queue(ready_note, provider, practice):
    kind = signable_kind("note")
    assert isinstance(kind, NoteSignable)
    lines = kind.pending_for(provider)
    assert [line.public_id for line in lines] == [ready_note.public_id]
    line = lines[0]
    assert line.kind == "note" and line.patient == ready_note.patient
    assert line.content_hash == note_hash(ready_note) and "I10" in line.detail
    assert line.pended_by == str(practice.users[Role.CLINICAL_SUPPORT])
    assert kind.pending_for(practice.outsider_provider) == []
    assert kind.pending_for(practice.users[Role.CLINICAL_SUPPORT]) == []


def test_pending_for_is_a_constant_number_of_queries(provider, scribe, practice, django_assert_max_num_queries):
    kind = NoteSignable()

    def pend(n: int) -> None:
        for i in range(n):
            enc = services.open_encounter(
                checked_in_visit(PatientFactory(care_team=practice.team), hour=8 + i % 9), actor=scribe
            )[0]
            complete_note(enc, scribe)
            workflow.mark_ready(enc, actor=scribe)

    pend(2)
    provider = type(provider).objects.get(pk=provider.pk)
    with django_assert_max_num_queries(4):
        assert len(kind.pending_for(provider)) == 2
    pend(6)
    provider = type(provider).objects.get(pk=provider.pk)
    with django_assert_max_num_queries(4):
        assert len(kind.pending_for(provider)) == 8


# --- signing -------------------------------------------------------------------------------------


def test_the_provider_signs_with_the_hash_of_exactly_what_they_saw(ready_note, provider):
    shown = note_hash(ready_note)
    enc = workflow.sign_note(ready_note.public_id, provider=provider, expected_hash=shown)
    assert enc.status == S.SIGNED and enc.signed_by == provider and enc.signed_at is not None
    assert enc.signed_hash == shown
    assert WorkItem.objects.filter(kind=workflow.AVS_DELIVER, subject_id=enc.pk, status="open").count() == 1


def test_the_hash_covers_the_soap_fields_and_the_diagnoses(ready_note, scribe):
    before = note_hash(ready_note)
    save(ready_note, scribe, "exam", "BP 152/94.")
    after_field = note_hash(ready_note)
    services.add_diagnosis(ready_note, code="E78.5", actor=scribe)
    after_dx = note_hash(ready_note)
    assert len({before, after_field, after_dx}) == 3


def test_a_note_changed_since_review_is_refused(ready_note, provider, scribe):
    shown = note_hash(ready_note)
    save(ready_note, scribe, "plan", "Start lisinopril 20 mg daily.")
    with pytest.raises(ActionRefused, match="Changed since you reviewed it") as refused:
        workflow.sign_note(ready_note.public_id, provider=provider, expected_hash=shown)
    assert "Plan" in refused.value.message and str(scribe) in refused.value.message
    ready_note.refresh_from_db()
    assert ready_note.status == S.PENDED
    with pytest.raises(ActionRefused, match="Review the note"):
        workflow.sign_note(ready_note.public_id, provider=provider, expected_hash="")


def test_no_signature_without_a_diagnosis(encounter, provider, scribe):
    save(encounter, scribe, "plan", "Rest.")
    with pytest.raises(ActionRefused, match="diagnosis"):
        workflow.sign_note(encounter.public_id, provider=provider, expected_hash=note_hash(encounter))
    encounter.refresh_from_db()
    assert encounter.status == S.DRAFT


def test_the_provider_may_sign_their_own_draft_from_the_page(client, encounter, scribe, provider):
    complete_note(encounter, scribe)
    client.force_login(provider)
    page = client.get(reverse("encounters_note", args=[encounter.public_id])).content.decode()
    assert f'value="{note_hash(encounter)}"' in page and 'id="sign-note"' in page
    response = client.post(reverse("encounters_sign", args=[encounter.public_id]), {"hash": note_hash(encounter)})
    assert response.status_code == 302
    encounter.refresh_from_db()
    assert encounter.status == S.SIGNED


def test_the_queue_signs_only_pended_notes(encounter, scribe, provider):
    complete_note(encounter, scribe)
    [outcome] = NoteSignable().sign(
        [encounter.public_id], provider=provider, hashes={encounter.public_id: note_hash(encounter)}
    )
    assert not outcome.ok and "No longer awaiting signature" in outcome.message


def test_signing_twice_gives_a_clear_already_signed(ready_note, provider):
    shown = note_hash(ready_note)
    first, second = NoteSignable().sign(
        [ready_note.public_id, ready_note.public_id], provider=provider, hashes={ready_note.public_id: shown}
    )
    assert first.ok and first.message == "Signed"
    assert not second.ok and second.message.startswith(f"Already signed by {provider}")


def test_another_provider_or_a_vma_cannot_sign(ready_note, practice, scribe, nurse):
    shown = note_hash(ready_note)
    colleague = UserFactory(role=Role.PROVIDER)
    add_to_care_team(colleague, practice.team)  # same team, but not this visit's provider
    for who in (practice.outsider_provider, colleague, scribe, nurse):
        with pytest.raises(NotPermitted, match="Not found"):
            workflow.sign_note(ready_note.public_id, provider=who, expected_hash=shown)
        [outcome] = NoteSignable().sign([ready_note.public_id], provider=who, hashes={ready_note.public_id: shown})
        assert not outcome.ok and outcome.message == "Not found."
    ready_note.refresh_from_db()
    assert ready_note.status == S.PENDED and ready_note.signed_by is None


def test_pages_and_api_refuse_signing_by_others(client, ready_note, practice, scribe):
    shown = note_hash(ready_note)
    client.force_login(scribe)
    assert client.post(reverse("encounters_sign", args=[ready_note.public_id]), {"hash": shown}).status_code == 403
    api = reverse("api-encounter-sign", args=[ready_note.public_id])
    assert client.post(api, {"hash": shown}, content_type="application/json").status_code == 403
    client.force_login(practice.outsider_provider)
    assert client.post(reverse("encounters_sign", args=[ready_note.public_id]), {"hash": shown}).status_code == 404
    assert client.post(api, {"hash": shown}, content_type="application/json").status_code == 404
    colleague = UserFactory(role=Role.PROVIDER)
    add_to_care_team(colleague, practice.team)
    client.force_login(colleague)
    assert client.post(reverse("encounters_sign", args=[ready_note.public_id]), {"hash": shown}).status_code == 404
    assert client.post(api, {"hash": shown}, content_type="application/json").status_code == 404
    ready_note.refresh_from_db()
    assert ready_note.status == S.PENDED


def test_the_api_signs_with_the_hash_from_its_detail(client, ready_note, provider):
    client.force_login(provider)
    detail = client.get(reverse("api-encounter-detail", args=[ready_note.public_id])).json()
    api = reverse("api-encounter-sign", args=[ready_note.public_id])
    wrong = client.post(api, {"hash": "0" * 64}, content_type="application/json")
    assert wrong.status_code == 409 and "Changed since" in wrong.json()["detail"]
    ok = client.post(api, {"hash": detail["content_hash"]}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["status"] == "signed"
    again = client.post(api, {"hash": detail["content_hash"]}, content_type="application/json")
    assert again.status_code == 409 and again.json()["detail"].startswith("Already signed")


# --- the lock and addenda ------------------------------------------------------------------------


def test_a_signed_note_refuses_every_edit_through_the_services(signed_note, scribe, provider):
    for call in (
        lambda: services.save_field(signed_note, field="plan", value="x", base_version=99, actor=provider),
        lambda: services.add_diagnosis(signed_note, code="E11.9", actor=scribe),
        lambda: services.remove_diagnosis(signed_note, signed_note.diagnoses.get(), actor=scribe),
        lambda: workflow.mark_ready(signed_note, actor=scribe),
    ):
        with pytest.raises(ActionRefused, match=r"is locked\. Add an addendum instead"):
            call()
    signed_note.refresh_from_db()
    assert signed_note.plan == "Start lisinopril 10 mg daily. Recheck BP in 4 weeks."


def test_a_signed_note_refuses_edits_from_the_page_and_the_api(client, signed_note, scribe):
    client.force_login(scribe)
    page = client.get(reverse("encounters_note", args=[signed_note.public_id])).content.decode()
    assert "is locked" in page and '<textarea id="id_plan"' not in page
    response = client.post(
        reverse("encounters_field", args=[signed_note.public_id]),
        {"field": "plan", "value": "Changed.", "base_plan": signed_note.version},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409 and "locked" in response.content.decode()
    plain = client.post(
        reverse("encounters_field", args=[signed_note.public_id]),
        {"field": "plan", "value": "Changed.", "base_plan": signed_note.version},
        follow=True,
    )
    assert "locked" in plain.content.decode()
    api = client.patch(
        reverse("api-encounter-detail", args=[signed_note.public_id]),
        {"version": signed_note.version, "plan": "Changed."},
        content_type="application/json",
    )
    assert api.status_code == 409 and "locked" in api.json()["detail"]
    dx = client.post(
        reverse("api-encounter-diagnoses", args=[signed_note.public_id]),
        {"code": "E11.9"},
        content_type="application/json",
    )
    assert dx.status_code == 409
    signed_note.refresh_from_db()
    assert signed_note.plan.startswith("Start lisinopril") and signed_note.diagnoses.count() == 1


def test_an_addendum_works_after_signing_with_author_and_time(client, signed_note, provider, nurse):
    add = services.add_addendum(signed_note, text="Patient called: BP 138/86 at home.", actor=provider)
    assert add.author == provider and add.created_at is not None
    client.force_login(nurse)
    response = client.post(reverse("encounters_addendum", args=[signed_note.public_id]), {"text": "Reviewed meds."})
    assert response.status_code == 302
    page = client.get(reverse("encounters_note", args=[signed_note.public_id])).content.decode()
    assert "Patient called: BP 138/86 at home." in page and "Reviewed meds." in page
    assert str(provider) in page and str(nurse) in page
    api = client.get(reverse("api-encounter-addenda", args=[signed_note.public_id])).json()
    assert [a["text"] for a in api] == ["Patient called: BP 138/86 at home.", "Reviewed meds."]
    assert api[0]["author"] == str(provider)


def test_addenda_are_append_only_and_only_for_signed_notes(signed_note, encounter, provider, scribe):
    add = services.add_addendum(signed_note, text="Late entry.", actor=provider)
    add.text = "Rewritten."
    with pytest.raises(ValueError, match="append-only"):
        add.save()
    with pytest.raises(ValueError, match="append-only"):
        add.delete()
    assert Addendum.objects.get(pk=add.pk).text == "Late entry."
    with pytest.raises(NotPermitted):
        services.add_addendum(signed_note, text="A scribe's addition.", actor=scribe)
    with pytest.raises(ActionRefused, match="Write the addendum"):
        services.add_addendum(signed_note, text="   ", actor=provider)


def test_no_addendum_on_an_unsigned_note(ready_note, provider):
    other = services.open_encounter(
        checked_in_visit(PatientFactory(care_team=ready_note.patient.care_team), hour=10), actor=provider
    )[0]
    with pytest.raises(ActionRefused, match="not signed yet"):
        services.add_addendum(other, text="Too early.", actor=provider)


def test_the_api_adds_an_addendum(client, signed_note, provider, scribe):
    url = reverse("api-encounter-addenda", args=[signed_note.public_id])
    client.force_login(scribe)
    assert client.post(url, {"text": "Nope."}, content_type="application/json").status_code == 403
    client.force_login(provider)
    created = client.post(url, {"text": "Added by API."}, content_type="application/json")
    assert created.status_code == 201 and created.json()["author_id"] == str(provider.public_id)


# --- returning a note ----------------------------------------------------------------------------


def test_sending_back_returns_the_note_to_the_scribe_with_a_work_item(ready_note, provider, scribe):
    [outcome] = NoteSignable().send_back([ready_note.public_id], provider=provider, comment="Add the exam findings.")
    assert outcome.ok
    ready_note.refresh_from_db()
    assert ready_note.status == S.DRAFT and ready_note.returned_comment == "Add the exam findings."
    assert ready_note.returned_by == provider
    item = WorkItem.objects.get(kind=workflow.NOTE_RETURNED, subject_id=ready_note.pk)
    assert item.queue == Role.CLINICAL_SUPPORT and item.status == "open" and "Add the exam findings." in item.detail
    assert item.patient == ready_note.patient
    assert NoteSignable().pending_for(provider) == []
    # The scribe fixes it and marks it ready again: the item closes.
    save(ready_note, scribe, "exam", "BP 150/92, heart regular.")
    workflow.mark_ready(ready_note, actor=scribe)
    item.refresh_from_db()
    assert item.status == "done"


def test_sending_back_needs_a_comment_and_the_right_provider(ready_note, provider, practice):
    with pytest.raises(ActionRefused, match="comment is required"):
        workflow.send_back_note(ready_note.public_id, provider=provider, comment="  ")
    [outcome] = NoteSignable().send_back([ready_note.public_id], provider=practice.outsider_provider, comment="No")
    assert not outcome.ok and outcome.message == "Not found."
    ready_note.refresh_from_db()
    assert ready_note.status == S.PENDED


def test_the_page_returns_a_note(client, ready_note, provider):
    client.force_login(provider)
    client.post(reverse("encounters_send_back", args=[ready_note.public_id]), {"comment": "Code the lipid disorder."})
    ready_note.refresh_from_db()
    assert ready_note.status == S.DRAFT
    client.force_login(ready_note.pended_by)
    page = client.get(reverse("encounters_note", args=[ready_note.public_id])).content.decode()
    assert "Code the lipid disorder." in page

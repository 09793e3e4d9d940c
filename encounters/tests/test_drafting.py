"""Opening a visit's note, live drafting with per-field versions, presence, coded diagnoses."""

from __future__ import annotations

import pytest
from django.urls import reverse

from encounters import presence, services
from encounters.models import Encounter
from scheduling.models import Appointment
from tests.factories import UserFactory
from vma.access import add_to_care_team
from vma.exceptions import ActionRefused, NotPermitted
from vma.roles import Role

from .helpers import checked_in_visit, save

HTMX = {"HTTP_HX_REQUEST": "true"}


# --- opening -----------------------------------------------------------------------------------


def test_opening_is_idempotent_and_defaults_come_from_the_visit(patient, scribe, provider):
    visit = checked_in_visit(patient, telehealth=True)
    first, created = services.open_encounter(visit, actor=scribe)
    again, created_again = services.open_encounter(visit, actor=scribe)
    assert created and not created_again and first.pk == again.pk
    assert Encounter.objects.filter(appointment=visit).count() == 1
    assert first.modality == Encounter.Modality.VIDEO
    assert first.provider == provider and first.patient == patient
    assert first.chief_complaint == "Follow-up of blood pressure"
    assert first.status == Encounter.Status.DRAFT and first.version == 1


@pytest.mark.parametrize("status", ["scheduled", "confirmed", "cancelled", "no_show"])
def test_a_note_opens_only_once_the_patient_is_here(patient, scribe, status):
    visit = checked_in_visit(patient, status=status)
    with pytest.raises(ActionRefused, match="checked in"):
        services.open_encounter(visit, actor=scribe)
    assert not Encounter.objects.exists()


def test_open_page_redirects_to_the_note_and_refuses_other_teams(client, patient, other_patient, scribe):
    client.force_login(scribe)
    visit = checked_in_visit(patient)
    response = client.post(reverse("encounters_open", args=[visit.public_id]))
    enc = Encounter.objects.get(appointment=visit)
    assert response.status_code == 302 and response["Location"] == reverse("encounters_note", args=[enc.public_id])
    assert client.post(reverse("encounters_open", args=[visit.public_id]))["Location"] == response["Location"]
    outsider = checked_in_visit(other_patient)
    assert client.post(reverse("encounters_open", args=[outsider.public_id])).status_code == 404
    early = checked_in_visit(patient, hour=11, status=Appointment.Status.SCHEDULED)
    refused = client.post(reverse("encounters_open", args=[early.public_id]), follow=True)
    assert "checked in" in refused.content.decode()


def test_front_office_and_billing_cannot_open_or_read_notes(client, practice, encounter):
    for role in (Role.FRONT_OFFICE, Role.BILLING):
        client.force_login(practice.users[role])
        assert client.get(reverse("encounters_note", args=[encounter.public_id])).status_code == 403
    with pytest.raises(NotPermitted):
        services.open_encounter(encounter.appointment, actor=practice.users[Role.FRONT_OFFICE])


# --- live drafting -----------------------------------------------------------------------------


def test_the_page_saves_a_field_as_typed(client, encounter, scribe):
    client.force_login(scribe)
    page = client.get(reverse("encounters_note", args=[encounter.public_id])).content.decode()
    assert 'hx-trigger="input changed delay:1s, save-now"' in page  # saves itself, debounced, no button
    response = client.post(
        reverse("encounters_field", args=[encounter.public_id]),
        {"field": "hpi", "value": "Cough for 3 days.", "base_hpi": encounter.version},
        **HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Saved" in body and 'id="base-hpi"' in body and 'value="2"' in body and 'hx-swap-oob="true"' in body
    encounter.refresh_from_db()
    assert encounter.hpi == "Cough for 3 days." and encounter.version == 2
    assert encounter.field_changes["hpi"]["by"] == scribe.pk and encounter.last_edited_by == scribe


def test_an_unchanged_value_does_not_bump_the_version(encounter, scribe):
    save(encounter, scribe, "exam", "Lungs clear.")
    encounter.refresh_from_db()
    version = encounter.version
    assert not services.save_field(
        encounter, field="exam", value="Lungs clear.", base_version=version, actor=scribe
    ).changed
    encounter.refresh_from_db()
    assert encounter.version == version


def test_a_stale_save_is_refused_and_names_the_other_editor(encounter, scribe, provider):
    loaded = encounter.version
    save(encounter, provider, "hpi", "Provider's history.", base=loaded)
    with pytest.raises(services.StaleEdit) as refused:
        services.save_field(encounter, field="hpi", value="Scribe's history.", base_version=loaded, actor=scribe)
    exc = refused.value
    assert exc.status_code == 409
    assert exc.changed_by == str(provider) and str(provider) in exc.message
    assert exc.their_value == "Provider's history."
    encounter.refresh_from_db()
    assert encounter.hpi == "Provider's history."  # nothing overwritten


def test_the_page_answers_409_with_the_other_text_and_keeps_the_base(client, encounter, scribe, provider):
    loaded = encounter.version
    save(encounter, provider, "plan", "Provider's plan.", base=loaded)
    client.force_login(scribe)
    response = client.post(
        reverse("encounters_field", args=[encounter.public_id]),
        {"field": "plan", "value": "Scribe's plan.", "base_plan": loaded},
        **HTMX,
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert f"{provider}" in body and "Provider&#x27;s plan." in body and 'data-conflict="plan"' in body
    assert "hx-swap-oob" not in body  # the editor's base stays old: nothing is saved until they choose
    encounter.refresh_from_db()
    assert encounter.plan == "Provider's plan."
    # Choosing "keep mine" re-sends based on their version: now it is a knowing overwrite.
    kept = client.post(
        reverse("encounters_field", args=[encounter.public_id]),
        {"field": "plan", "value": "Scribe's plan.", "base_plan": encounter.version},
        **HTMX,
    )
    assert kept.status_code == 200
    encounter.refresh_from_db()
    assert encounter.plan == "Scribe's plan."


def test_editors_in_different_fields_never_collide(encounter, scribe, provider):
    loaded = encounter.version
    save(encounter, provider, "exam", "Provider's exam.", base=loaded)
    services.save_field(encounter, field="hpi", value="Scribe's history.", base_version=loaded, actor=scribe)
    encounter.refresh_from_db()
    assert (encounter.exam, encounter.hpi, encounter.version) == ("Provider's exam.", "Scribe's history.", 3)


def test_an_editor_is_not_stale_against_their_own_earlier_save(encounter, scribe):
    loaded = encounter.version
    save(encounter, scribe, "ros", "Negative.", base=loaded)
    services.save_field(encounter, field="ros", value="Negative except cough.", base_version=loaded, actor=scribe)
    encounter.refresh_from_db()
    assert encounter.ros == "Negative except cough."


def test_bad_input_is_refused_clearly_and_the_text_is_not_lost(client, encounter, scribe):
    client.force_login(scribe)
    url = reverse("encounters_field", args=[encounter.public_id])
    too_long = client.post(url, {"field": "chief_complaint", "value": "x" * 301, "base_chief_complaint": 1}, **HTMX)
    assert too_long.status_code == 400 and "300 characters" in too_long.content.decode()
    unknown = client.post(url, {"field": "signed_by", "value": "me", "base_signed_by": 1}, **HTMX)
    assert unknown.status_code == 400
    modality = client.post(url, {"field": "modality", "value": "fax", "base_modality": 1}, **HTMX)
    assert modality.status_code == 400
    encounter.refresh_from_db()
    assert encounter.version == 1


def test_modality_is_saved_like_a_field(client, encounter, scribe):
    client.force_login(scribe)
    client.post(
        reverse("encounters_field", args=[encounter.public_id]),
        {"field": "modality", "value": "audio", "base_modality": 1},
        **HTMX,
    )
    encounter.refresh_from_db()
    assert encounter.modality == Encounter.Modality.AUDIO


def test_the_api_updates_with_a_version_and_refuses_stale_with_409(client, encounter, scribe, provider):
    client.force_login(scribe)
    url = reverse("api-encounter-detail", args=[encounter.public_id])
    ok = client.patch(
        url, {"version": 1, "hpi": "Typed by the scribe.", "exam": "Normal."}, content_type="application/json"
    )
    assert ok.status_code == 200, ok.content
    assert ok.json()["version"] == 3 and ok.json()["hpi"] == "Typed by the scribe."
    save(encounter, provider, "exam", "Provider's exam.")
    stale = client.patch(url, {"version": 3, "exam": "Scribe's exam."}, content_type="application/json")
    assert stale.status_code == 409
    data = stale.json()
    assert data["field"] == "exam" and data["changed_by"] == str(provider)
    assert data["current_value"] == "Provider's exam." and data["version"] == 4
    empty = client.patch(url, {"version": 4}, content_type="application/json")
    assert empty.status_code == 400


def test_a_stale_api_update_changes_nothing_at_all(client, encounter, scribe, provider):
    save(encounter, provider, "plan", "Provider's plan.")
    client.force_login(scribe)
    url = reverse("api-encounter-detail", args=[encounter.public_id])
    response = client.patch(
        url, {"version": 1, "hpi": "New history.", "plan": "Scribe's plan."}, content_type="application/json"
    )
    assert response.status_code == 409
    encounter.refresh_from_db()
    assert encounter.hpi == "" and encounter.plan == "Provider's plan."


# --- presence ------------------------------------------------------------------------------------


def test_presence_tells_two_editors_of_each_other(client, encounter, scribe, provider):
    assert presence.beat(encounter, scribe) == []
    others = presence.beat(encounter, provider)
    assert [o.name for o in others] == [str(scribe)]
    assert [o.name for o in presence.others(encounter, scribe)] == [str(provider)]
    client.force_login(scribe)
    body = client.post(reverse("encounters_presence", args=[encounter.public_id]), **HTMX).content.decode()
    assert f"<strong>{provider}</strong> is also editing this note." in body.replace("&#x27;", "'")


def test_a_silent_editor_drops_out_and_leaving_is_immediate(encounter, scribe, provider):
    presence.beat(encounter, scribe, now=1000.0)
    assert [o.name for o in presence.others(encounter, provider, now=1000.0 + presence.STALE_SECONDS - 1)] == [
        str(scribe)
    ]
    assert presence.others(encounter, provider, now=1000.0 + presence.STALE_SECONDS + 1) == []
    presence.beat(encounter, scribe)
    presence.leave(encounter, scribe)
    assert presence.others(encounter, provider) == []


def test_the_heartbeat_brings_in_fields_others_changed(client, encounter, scribe, provider):
    save(encounter, provider, "exam", "Provider's exam.", base=1)
    client.force_login(scribe)
    url = reverse("encounters_presence", args=[encounter.public_id])
    body = client.post(url, {"base_exam": 1, "base_hpi": 1, "status": "draft"}, **HTMX).content.decode()
    assert 'id="remote-fields"' in body and "Provider's exam." in body
    caught_up = client.post(url, {"base_exam": 2, "base_hpi": 1, "status": "draft"}, **HTMX).content.decode()
    assert "remote-fields" not in caught_up


def test_a_second_browser_session_is_warned_on_page_load(client, encounter, scribe, provider):
    client.force_login(scribe)
    client.get(reverse("encounters_note", args=[encounter.public_id]))
    client.force_login(provider)
    page = client.get(reverse("encounters_note", args=[encounter.public_id])).content.decode()
    assert f"<strong>{scribe}</strong> is also editing this note." in page.replace("&#x27;", "'")


# --- coded diagnoses -----------------------------------------------------------------------------


def test_codes_are_normalised_validated_and_ranked(encounter, scribe):
    first = services.add_diagnosis(encounter, code=" e11 .9 ", actor=scribe)
    second = services.add_diagnosis(encounter, code="i10", actor=scribe)
    assert (first.code, first.rank) == ("E11.9", 1) and "diabetes" in first.description.lower()
    assert (second.code, second.rank) == ("I10", 2)
    encounter.refresh_from_db()
    assert encounter.version == 3 and encounter.field_changes["diagnoses"]["by"] == scribe.pk


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("E11", "header code, not billable"),
        ("Z99.999", "not in the ICD-10-CM code set"),
        ("hello", "is not an ICD-10-CM code"),
        ("", "Enter an ICD-10-CM code"),
    ],
)
def test_invalid_codes_are_refused_with_a_clear_message(encounter, scribe, typed, message):
    with pytest.raises(ActionRefused, match=message) as refused:
        services.add_diagnosis(encounter, code=typed, actor=scribe)
    assert refused.value.status_code == 400
    assert not encounter.diagnoses.exists()


def test_the_page_keeps_what_was_typed_when_a_code_is_refused(client, encounter, scribe):
    client.force_login(scribe)
    url = reverse("encounters_diagnoses", args=[encounter.public_id])
    response = client.post(url, {"code": "e11"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 400 and "header code" in body and 'value="e11"' in body
    assert client.post(url, {"code": "E11.9"}, **HTMX).status_code == 200
    duplicate = client.post(url, {"code": "e119"}, **HTMX)
    assert duplicate.status_code == 400 and "already on this note" in duplicate.content.decode()


def test_diagnoses_are_reranked_and_removed(client, encounter, scribe):
    a = services.add_diagnosis(encounter, code="I10", actor=scribe)
    b = services.add_diagnosis(encounter, code="E11.9", actor=scribe)
    c = services.add_diagnosis(encounter, code="E78.5", actor=scribe)
    client.force_login(scribe)
    client.post(reverse("encounters_diagnosis", args=[encounter.public_id, c.public_id]), {"action": "primary"}, **HTMX)
    assert list(encounter.diagnoses.values_list("code", flat=True)) == ["E78.5", "I10", "E11.9"]
    client.post(reverse("encounters_diagnosis", args=[encounter.public_id, a.public_id]), {"action": "remove"}, **HTMX)
    assert list(encounter.diagnoses.values_list("code", "rank")) == [("E78.5", 1), ("E11.9", 2)]
    services.move_diagnosis(encounter, b, to_rank=1, actor=scribe)
    assert list(encounter.diagnoses.values_list("code", "rank")) == [("E11.9", 1), ("E78.5", 2)]


def test_the_api_adds_and_removes_diagnoses(client, encounter, scribe):
    client.force_login(scribe)
    added = client.post(
        reverse("api-encounter-diagnoses", args=[encounter.public_id]),
        {"code": "j06.9"},
        content_type="application/json",
    )
    assert added.status_code == 201 and added.json()["diagnoses"][0]["code"] == "J06.9"
    bad = client.post(
        reverse("api-encounter-diagnoses", args=[encounter.public_id]), {"code": "J06"}, content_type="application/json"
    )
    assert bad.status_code == 400 and "header code" in bad.json()["detail"]
    dx = encounter.diagnoses.get()
    removed = client.delete(reverse("api-encounter-diagnosis", args=[encounter.public_id, dx.public_id]))
    assert removed.status_code == 200 and removed.json()["diagnoses"] == []


def test_a_nurse_from_another_team_sees_nothing(client, encounter, practice):
    stranger = UserFactory(role=Role.NURSE)
    add_to_care_team(stranger, practice.other_team)
    client.force_login(stranger)
    assert client.get(reverse("encounters_note", args=[encounter.public_id])).status_code == 404
    assert client.get(reverse("api-encounter-detail", args=[encounter.public_id])).status_code == 404
    with pytest.raises(NotPermitted):
        services.save_field(encounter, field="hpi", value="x", base_version=1, actor=stranger)

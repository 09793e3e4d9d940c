"""Scrub pages (htmx marks, refusals shown) and the huddle API, under the access rules."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from huddle import services
from huddle.models import ChartScrub, ScrubItem
from tests.factories import PatientFactory
from vma.roles import Role

from .helpers import coverage, eligibility, intake_packet, scrub_day, submit, visit

I = ScrubItem.State  # noqa: E741


def built(patient) -> ChartScrub:
    appt = visit(patient)
    services.build_scrubs()
    return ChartScrub.objects.get(appointment=appt)


def test_scrub_list_and_detail_pages(client, practice, patient, vma):
    scrub = built(patient)
    client.force_login(vma)
    body = client.get(reverse("huddle_scrubs")).content.decode()
    assert f'data-scrub="{scrub.public_id}"' in body and "Inpanel" in body
    page = client.get(reverse("huddle_scrub", args=[scrub.public_id])).content.decode()
    assert 'data-item="eligibility"' in page and "Mark chart scrubbed" in page
    assert "Open referrals awaiting a report" in page and "No referral awaiting a report." in page


def test_scrub_list_filters_by_provider_and_day(client, practice, patient, vma):
    built(patient)
    client.force_login(vma)
    other = practice.outsider_provider
    body = client.get(reverse("huddle_scrubs") + f"?provider={other.public_id}").content.decode()
    assert "data-scrub=" not in body
    later = client.get(reverse("huddle_scrubs") + "?day=2030-01-07").content.decode()
    assert "data-scrub=" not in later


def test_scrub_list_query_count_is_constant(client, practice, vma):
    client.force_login(vma)
    for _ in range(3):
        visit(PatientFactory(care_team=practice.team))
    services.build_scrubs()
    client.get(reverse("huddle_scrubs"))
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("huddle_scrubs"))
    for i in range(20):
        visit(PatientFactory(care_team=practice.team), hour=10 + i % 6, minute=i)
    services.build_scrubs()
    with CaptureQueriesContext(connection) as large:
        body = client.get(reverse("huddle_scrubs")).content.decode()
    assert body.count("data-scrub=") == 23
    assert len(small.captured_queries) == len(large.captured_queries)


def test_htmx_marks_and_refusals(client, practice, patient, vma):
    scrub = built(patient)
    client.force_login(vma)
    item = scrub.items.get(code="intake")
    url = reverse("huddle_scrub_item", args=[scrub.public_id, item.public_id])
    # not applicable without a note: refused, said in the swapped checklist
    r = client.post(url, {"state": "not_applicable", "note": ""}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and 'role="alert"' in r.content.decode() and "note is required" in r.content.decode()
    item.refresh_from_db()
    assert item.state == I.NEEDS_ACTION
    r = client.post(
        url, {"state": "not_applicable", "note": "Established patient, forms on file"}, HTTP_HX_REQUEST="true"
    )
    assert 'id="checklist"' in r.content.decode()
    item.refresh_from_db()
    assert (item.state, item.note, item.marked_by) == (I.NOT_APPLICABLE, "Established patient, forms on file", vma)
    # marking scrubbed while eligibility needs action: refused with the reason
    r = client.post(reverse("huddle_scrub_done", args=[scrub.public_id]), HTTP_HX_REQUEST="true")
    assert "still need action" in r.content.decode() and "Eligibility verified" in r.content.decode()
    elig = scrub.items.get(code="eligibility")
    client.post(
        reverse("huddle_scrub_item", args=[scrub.public_id, elig.public_id]), {"state": "done", "note": "Called payer"}
    )
    r = client.post(reverse("huddle_scrub_done", args=[scrub.public_id]))
    assert r.status_code == 302
    scrub.refresh_from_db()
    assert scrub.status == ChartScrub.Status.SCRUBBED
    # undo a mark re-opens the scrubbed chart
    client.post(url, {"state": "undo"})
    scrub.refresh_from_db()
    assert scrub.status == ChartScrub.Status.OPEN


def test_opening_the_scrub_page_reads_the_chart_again(client, practice, patient, vma):
    scrub = built(patient)
    packet = intake_packet(scrub.appointment)
    submit(packet)  # no re-scrub task ran (no worker in tests): the page itself re-reads
    client.force_login(vma)
    client.get(reverse("huddle_scrub", args=[scrub.public_id]))
    assert scrub.items.get(code="intake").state == I.AUTO_OK


def test_other_teams_scrub_is_404_on_pages_and_api(client, practice, other_patient, vma):
    scrub = built(other_patient)
    client.force_login(vma)
    assert client.get(reverse("huddle_scrub", args=[scrub.public_id])).status_code == 404
    assert client.get(reverse("api-chartscrub-detail", args=[scrub.public_id])).status_code == 404
    item = scrub.items.first()
    assert (
        client.post(
            reverse("api-chartscrub-mark-item", args=[scrub.public_id, item.public_id]),
            {"state": "done"},
            content_type="application/json",
        ).status_code
        == 404
    )


def test_api_scrubs_list_detail_mark_and_scrubbed(client, practice, patient, vma):
    appt = visit(patient)
    eligibility(appt, coverage(patient))
    services.build_scrubs()
    scrub = ChartScrub.objects.get(appointment=appt)
    client.force_login(vma)
    listing = client.get(reverse("api-chartscrub-list")).json()
    assert [row["id"] for row in listing["results"]] == [str(scrub.public_id)]
    assert listing["results"][0]["day"] == scrub_day().isoformat()
    detail = client.get(reverse("api-chartscrub-detail", args=[scrub.public_id])).json()
    codes = {i["code"]: i for i in detail["items"]}
    assert codes["eligibility"]["state"] == "auto_ok" and codes["intake"]["state"] == "needs_action"
    refused = client.post(reverse("api-chartscrub-scrubbed", args=[scrub.public_id]))
    assert refused.status_code == 409 and "Intake complete" in refused.json()["detail"]
    mark_url = reverse("api-chartscrub-mark-item", args=[scrub.public_id, codes["intake"]["id"]])
    bad = client.post(mark_url, {"state": "not_applicable"}, content_type="application/json")
    assert bad.status_code == 400 and "note" in bad.json()["detail"]
    ok = client.post(mark_url, {"state": "done", "note": "Paper forms"}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["needs_action"] == 0
    done = client.post(reverse("api-chartscrub-scrubbed", args=[scrub.public_id]))
    assert done.status_code == 200 and done.json()["status"] == "scrubbed"


def test_api_huddle_sheet(client, practice, patient):
    doc = practice.users[Role.PROVIDER]
    visit(patient, day=timezone.localdate(), hour=9)
    client.force_login(practice.users[Role.NURSE])
    r = client.get(reverse("api-huddlesheet-list"), {"provider": str(doc.public_id)})
    assert r.status_code == 200
    data = r.json()
    assert len(data["rows"]) == 1 and data["rows"][0]["patient"] == str(patient.public_id)
    assert {f["code"] for f in data["rows"][0]["flags"]} == {"coverage", "intake"}
    assert data["totals"]["coverage"] == 1 and data["snapshot_generated_at"] is None
    assert client.get(reverse("api-huddlesheet-list")).status_code == 400
    assert client.get(reverse("api-huddlesheet-list"), {"provider": str(doc.public_id), "date": "x"}).status_code == 400
    # a nurse reads the sheet but does not work scrubs
    assert client.get(reverse("api-chartscrub-list")).status_code == 403


def test_api_token_needs_the_huddle_scope(client, practice, patient):
    from datetime import timedelta

    from vma.api.auth import create_token

    doc = practice.users[Role.PROVIDER]
    user = practice.users[Role.FRONT_OFFICE]
    expires = timezone.now() + timedelta(days=1)
    url = reverse("api-huddlesheet-list") + f"?provider={doc.public_id}"
    _t, wrong = create_token(name="t1", user=user, scopes=["appointments:read"], expires_at=expires, created_by=None)
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {wrong}").status_code == 403
    _t, right = create_token(name="t2", user=user, scopes=["huddle:read"], expires_at=expires, created_by=None)
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {right}").status_code == 200

"""Orders pages: a visit's orders (htmx pend, cancel), editing a returned order, the signing queue."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orders.models import Order
from orders.selectors import avs_lines
from tests.factories import PASSWORD, PatientFactory
from vma.models import AuditEvent, WorkItem
from vma.roles import Role

from .factories import CONTROLLED, KIND_DATA, code_at, encounter, enroll, fresh, item, pend, sign

S = Order.Status
pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _form(visit, kind="lab", dx="E78.5", **fields):
    data = {"kind": kind, "diagnosis": str(visit.diagnoses.get(code=dx).public_id), "urgency": "routine"}
    data.update({k: "" if v is None else v for k, v in {**KIND_DATA[kind], **fields}.items()})
    return data


# --- a visit's orders ----------------------------------------------------------------------------


def test_the_visit_page_lists_orders_and_offers_the_form(client, visit, vma):
    pend(visit, vma, "lab")
    client.force_login(vma)
    response = client.get(reverse("orders_encounter", args=[visit.public_id]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Lab test: Lipid panel" in body and 'id="pend-form"' in body and "E78.5" in body
    assert AuditEvent.objects.filter(action="page.orders_encounter").exists()


def test_a_provider_reads_the_page_without_the_form(client, visit, vma, provider):
    pend(visit, vma)
    client.force_login(provider)
    response = client.get(reverse("orders_encounter", args=[visit.public_id]))
    assert response.status_code == 200 and b'id="pend-form"' not in response.content


def test_another_teams_visit_answers_404(client, other_visit, vma):
    client.force_login(vma)
    assert client.get(reverse("orders_encounter", args=[other_visit.public_id])).status_code == 404
    response = client.post(reverse("orders_pend", args=[other_visit.public_id]), _form(other_visit))
    assert response.status_code == 404 and not Order.objects.exists()


def test_pending_through_htmx_swaps_the_section_with_the_new_order(client, visit, vma):
    client.force_login(vma)
    response = client.post(reverse("orders_pend", args=[visit.public_id]), _form(visit, "prescription"), **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="orders"' in body
    assert "Pended for" in body and "atorvastatin 20 mg" in body
    order = Order.objects.get()
    assert order.kind == "prescription" and order.quantity == 90 and order.pended_by == vma


def test_a_bad_field_keeps_the_form_and_says_what_is_wrong(client, visit, vma):
    client.force_login(vma)
    data = _form(visit, "prescription", quantity="lots", pharmacy="")
    response = client.post(reverse("orders_pend", args=[visit.public_id]), data, **HTMX)
    assert response.status_code == 200 and not Order.objects.exists()
    body = response.content.decode()
    assert 'data-error-for="quantity"' in body and "Enter a whole number." in body
    assert "Choose the patient&#x27;s pharmacy." in body
    assert 'value="atorvastatin"' in body  # what was typed is kept
    # without htmx: the whole page, 400
    response = client.post(reverse("orders_pend", args=[visit.public_id]), data)
    assert response.status_code == 400 and b"Enter a whole number." in response.content


def test_no_diagnosis_chosen_is_said_on_the_form(client, visit, vma):
    client.force_login(vma)
    data = _form(visit)
    data["diagnosis"] = ""
    response = client.post(reverse("orders_pend", args=[visit.public_id]), data, **HTMX)
    assert b"Choose one of this visit" in response.content and not Order.objects.exists()


def test_cancel_from_the_page(client, visit, vma):
    order = pend(visit, vma)
    client.force_login(vma)
    response = client.post(reverse("orders_cancel", args=[order.public_id]), {"reason": "Duplicate"}, **HTMX)
    assert response.status_code == 200 and b"Cancelled: Lipid panel" in response.content
    assert fresh(order).status == S.CANCELLED
    response = client.post(reverse("orders_cancel", args=[order.public_id]), {"reason": "Again"}, **HTMX)
    assert b'role="alert"' in response.content  # already cancelled: said, not a 500


def test_a_returned_order_is_edited_and_pended_again_from_its_page(client, visit, vma, provider):
    from orders import signing

    order = pend(visit, vma)
    signing.return_batch(provider, [item(order)], comment="Add the fasting instruction")
    client.force_login(vma)
    page = client.get(reverse("orders_detail", args=[order.public_id]))
    assert b"Add the fasting instruction" in page.content and b"Edit and pend again" in page.content
    data = _form(visit, instructions="Fast for 12 hours")
    response = client.post(reverse("orders_edit", args=[order.public_id]), data)
    assert response.status_code == 302
    order = fresh(order)
    assert order.status == S.PENDED and order.instructions == "Fast for 12 hours"
    assert not WorkItem.objects.get(kind="orders.returned").is_open


def test_editing_with_a_bad_field_keeps_the_old_order(client, visit, vma):
    order = pend(visit, vma)
    client.force_login(vma)
    response = client.post(reverse("orders_edit", args=[order.public_id]), _form(visit, title=""))
    assert response.status_code == 400 and b"Name the test" in response.content
    assert fresh(order).title == "Lipid panel"


# --- the signing queue ---------------------------------------------------------------------------


def test_only_a_provider_has_the_signing_queue(client, practice):
    for role in (Role.CLINICAL_SUPPORT, Role.NURSE, Role.FRONT_OFFICE, Role.MANAGER):
        client.force_login(practice.users[role])
        assert client.get(reverse("orders_signing_queue")).status_code == 403
        assert client.post(reverse("orders_sign_batch"), {"action": "sign"}).status_code == 403


def test_the_queue_groups_by_patient_and_says_what_each_will_do(client, practice, visit, vma, provider):
    second = encounter(PatientFactory(care_team=practice.team, last_name="Aardvark"))
    lab = pend(visit, vma, "lab")
    pend(visit, vma, "follow_up")
    pend(second, vma, "prescription", **CONTROLLED)
    client.force_login(provider)
    response = client.get(reverse("orders_signing_queue"))
    body = response.content.decode()
    assert response.status_code == 200 and 'id="queue-count">3<' in body
    assert body.index("Aardvark") < body.index(visit.patient.last_name)  # grouped, by name
    assert "Sent to the lab; result expected within 5 days" in body
    assert "Front office books a follow-up visit in 4 weeks" in body
    assert 'name="otp"' in body and "Second factor" in body
    assert f'value="order:{lab.public_id}:{item(lab)[2]}"' in body


def test_sign_selected_shows_each_items_result(client, visit, vma, provider):
    enroll(provider)
    lab, controlled = pend(visit, vma, "lab"), pend(visit, vma, "prescription", **CONTROLLED)
    client.force_login(provider)
    values = [":".join(str(p) for p in item(o)) for o in (lab, controlled)]
    response = client.post(reverse("orders_sign_batch"), {"item": values, "action": "sign"}, follow=True)
    body = response.content.decode()
    assert "1 signed, 1 not signed" in body
    assert f'data-result="{lab.public_id}" data-ok="true"' in body
    assert f'data-result="{controlled.public_id}" data-ok="false"' in body and "one-time code" in body
    assert fresh(lab).status == S.SIGNED and fresh(controlled).status == S.PENDED
    # now with the second factor
    values = [":".join(str(p) for p in item(controlled))]
    data = {"item": values, "action": "sign", "password": PASSWORD, "otp": code_at()}
    body = client.post(reverse("orders_sign_batch"), data, follow=True).content.decode()
    assert "1 item signed." in body and fresh(controlled).status == S.SIGNED
    assert 'id="queue-empty"' in body


def test_return_selected_needs_a_comment(client, visit, vma, provider):
    order = pend(visit, vma)
    client.force_login(provider)
    value = ":".join(str(p) for p in item(order))
    body = client.post(reverse("orders_sign_batch"), {"item": [value], "action": "return"}, follow=True).content
    assert b"a comment is required" in body and fresh(order).status == S.PENDED
    data = {"item": [value], "action": "return", "comment": "Wrong test"}
    body = client.post(reverse("orders_sign_batch"), data, follow=True).content
    assert b"1 item returned." in body and fresh(order).status == S.RETURNED


def test_a_malformed_item_is_refused_with_a_message(client, provider):
    client.force_login(provider)
    body = client.post(reverse("orders_sign_batch"), {"item": ["order:nope"], "action": "sign"}, follow=True).content
    assert b"is not an item" in body


@pytest.mark.parametrize("size", [10, 60])
def test_the_queue_costs_the_same_queries_at_any_size(
    client, practice, vma, provider, size, django_assert_max_num_queries
):
    for i in range(size // 5):
        visit = encounter(PatientFactory(care_team=practice.team, last_name=f"P{i:03d}"))
        for kind in Order.Kind.values:
            pend(visit, vma, kind)
    client.force_login(provider)
    client.get(reverse("orders_signing_queue"))  # warm the session and permission caches alike
    with django_assert_max_num_queries(14):
        response = client.get(reverse("orders_signing_queue"))
    assert response.content.decode().count('name="item"') == size


@pytest.mark.parametrize("size", [5, 30])
def test_the_visit_page_costs_the_same_queries_at_any_size(client, visit, vma, size, django_assert_max_num_queries):
    for _ in range(size // 5):
        for kind in Order.Kind.values:
            pend(visit, vma, kind)
    client.force_login(vma)
    client.get(reverse("orders_encounter", args=[visit.public_id]))
    with django_assert_max_num_queries(14):
        response = client.get(reverse("orders_encounter", args=[visit.public_id]))
    assert response.content.decode().count("data-order=") == size


# --- the after visit summary's lines ----------------------------------------------------------------


def test_avs_lines_are_the_signed_orders_in_patient_words(visit, vma, provider):
    orders = [pend(visit, vma, kind) for kind in Order.Kind.values]
    pend(visit, vma, "imaging", title="Not signed")  # pended: not promised to the patient
    sign(provider, *orders)
    lines = {line["kind"]: line for line in avs_lines(visit)}
    assert set(lines) == set(Order.Kind.values)
    assert lines["lab"]["instructions"].startswith("Have your blood drawn for: Lipid panel")
    assert lines["prescription"]["instructions"].startswith("New medicine: atorvastatin 20 mg, take 1 tablet daily")
    assert lines["referral"]["instructions"].startswith("You are being referred to Cardiology")
    assert lines["follow_up"]["instructions"].startswith("Book a follow-up visit in 4 weeks")
    assert lines["imaging"]["title"] == "Chest X-ray, 2 views" and lines["imaging"]["kind_label"] == "Imaging"

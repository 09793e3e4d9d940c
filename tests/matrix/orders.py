"""Matrix entries for orders (see tests/matrix/__init__.py).

Orders belong to the team's provider (practice.users["provider"] on the own team, the other team's
provider otherwise). The batch sign is not object-scoped: it answers each item (another team's
item is "not found" in its result), so only the role decides the status code.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from .base import Case, Entries

VIEW, PEND, CHANGE, CANCEL, SIGN = (
    "orders.view_order",
    "orders.add_order",
    "orders.change_order",
    "orders.cancel_order",
    "orders.sign_order",
)
LAB = {"kind": "lab", "title": "Lipid panel", "procedure_code": "80061", "urgency": "routine"}


def _visit(practice: Any, own: bool) -> Any:
    from orders.tests.factories import encounter
    from tests.factories import PatientFactory

    return encounter(PatientFactory(care_team=practice.team if own else practice.other_team))


def _order(practice: Any, own: bool, status: str = "pended") -> Any:
    """A lab order pended by the team's clinical-support VMA (created directly: any role's builder uses it)."""
    from orders import services
    from orders.models import Order
    from tests.factories import UserFactory
    from vma.roles import Role

    visit = _visit(practice, own)
    vma = practice.users[Role.CLINICAL_SUPPORT] if own else UserFactory(role=Role.CLINICAL_SUPPORT)
    order = Order.objects.create(
        encounter=visit,
        patient=visit.patient,
        provider=visit.provider,
        diagnosis=visit.diagnoses.get(code="E78.5"),
        kind="lab",
        title="Lipid panel",
        procedure_code="80061",
        pended_by=vma,
    )
    if status == "signed":
        from django.utils import timezone

        Order.objects.filter(pk=order.pk).update(
            status="signed", signed_by=visit.provider, signed_at=timezone.now(), signed_hash=services.order_hash(order)
        )
        order.refresh_from_db()
    return order


def _form(visit: Any) -> dict[str, str]:
    return {**LAB, "diagnosis": str(visit.diagnoses.get(code="E78.5").public_id), "result_expected_days": "7"}


def _item(order: Any) -> str:
    from orders import services
    from orders.models import Order

    fresh = Order.objects.select_related("patient", "encounter", "diagnosis").get(pk=order.pk)
    return f"order:{order.public_id}:{services.order_hash(fresh)}"


def _edit(p: Any, u: Any, o: bool) -> Case:
    order = _order(p, o)
    return Case("post", reverse("orders_edit", args=[order.public_id]), _form(order.encounter))


ENDPOINTS: Entries = {
    "orders_encounter": (
        VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("orders_encounter", args=[_visit(p, o).public_id]))],
    ),
    "orders_pend": (
        PEND,
        True,
        [lambda p, u, o: Case("post", reverse("orders_pend", args=[(v := _visit(p, o)).public_id]), _form(v))],
    ),
    "orders_detail": (
        VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("orders_detail", args=[_order(p, o).public_id]))],
    ),
    "orders_edit": (CHANGE, True, [_edit]),
    "orders_cancel": (
        CANCEL,
        True,
        [
            lambda p, u, o: Case(
                "post", reverse("orders_cancel", args=[_order(p, o).public_id]), {"reason": "Duplicate"}
            )
        ],
    ),
    "orders_fhir": (
        VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("orders_fhir", args=[_order(p, o, "signed").public_id]))],
    ),
    "orders_signing_queue": (SIGN, False, [lambda p, u, o: Case("get", reverse("orders_signing_queue"))]),
    "orders_sign_batch": (
        SIGN,
        False,
        [
            lambda p, u, o: Case(
                "post", reverse("orders_sign_batch"), {"item": [_item(_order(p, o))], "action": "sign"}
            ),
            lambda p, u, o: Case(
                "post",
                reverse("orders_sign_batch"),
                {"item": [_item(_order(p, o))], "action": "return", "comment": "Fasting"},
            ),
        ],
    ),
    "api-order-list": (VIEW, False, [lambda p, u, o: Case("get", reverse("api-order-list"))]),
    "api-order-create": (
        PEND,
        True,
        [
            lambda p, u, o: Case(
                "post",
                reverse("api-order-list"),
                {**LAB, "encounter": str(_visit(p, o).public_id), "diagnosis": "E78.5"},
                json=True,
            )
        ],
    ),
    "api-order-detail": (
        VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("api-order-detail", args=[_order(p, o).public_id]))],
    ),
    "api-order-update": (
        CHANGE,
        True,
        [
            lambda p, u, o: Case(
                "patch", reverse("api-order-detail", args=[_order(p, o).public_id]), {"title": "HbA1c"}, json=True
            )
        ],
    ),
    "api-order-cancel": (
        CANCEL,
        True,
        [
            lambda p, u, o: Case(
                "post", reverse("api-order-cancel", args=[_order(p, o).public_id]), {"reason": "Duplicate"}, json=True
            )
        ],
    ),
    "api-order-fhir": (
        VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("api-order-fhir", args=[_order(p, o, "signed").public_id]))],
    ),
    "api-signing-queue": (SIGN, False, [lambda p, u, o: Case("get", reverse("api-signing-queue"))]),
    "api-signing-batch": (
        SIGN,
        False,
        [
            lambda p, u, o: Case(
                "post", reverse("api-signing-batch"), {"items": [_item(_order(p, o))], "action": "sign"}, json=True
            )
        ],
    ),
}
BODY_REFERENCES: dict[str, dict[str, list[str]]] = {"api-order-create": {"encounter": ["No such encounter."]}}
ROUTER_ALIASES: dict[str, list[str]] = {
    "api-order-list": ["api-order-list", "api-order-create"],
    "api-order-detail": ["api-order-detail", "api-order-update"],
}

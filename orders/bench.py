"""Orders benchmarks: the provider's signing queue with 200 pended orders, and a 100-item batch sign."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.harness import Case, benchmark, dataset_part

if TYPE_CHECKING:
    from bench.dataset import Dataset

PROVIDER = "bench.provider.01"
MARK = "bench.orders"  # Encounter.chief_complaint of the part's visits
PATIENTS = 40
PENDED = 200  # five orders (one of each kind) per patient
BATCH = 100


@dataset_part("orders_signing", version=1)
def build_orders(ds: Dataset) -> None:
    """40 visits of one provider's patients with two diagnoses each and five pended orders each (200),
    pended by a clinical-support VMA of the provider's pod: the provider's end-of-clinic signing queue."""
    from django.db import transaction
    from django.utils import timezone

    from encounters.models import Encounter, EncounterDiagnosis
    from patients.models import Patient
    from vma.models import CareTeam, OutboxMessage

    from .models import Order
    from .tests.factories import KIND_DATA

    provider = ds.user(PROVIDER)
    team = CareTeam.objects.get(provider=provider)
    vma = ds.staff("clinical_support", pod=0)[0]
    with transaction.atomic():
        old = Order.objects.filter(encounter__chief_complaint=MARK)
        OutboxMessage.objects.filter(
            key__in=[f"order-effects:{pk}" for pk in old.values_list("pk", flat=True)]
        ).delete()
        old.delete()
        Encounter.objects.filter(chief_complaint=MARK).delete()
        patients = list(Patient.objects.filter(care_team=team).order_by("pk")[:PATIENTS])
        visits = Encounter.objects.bulk_create(
            [Encounter(patient=p, provider=provider, chief_complaint=MARK) for p in patients]
        )
        EncounterDiagnosis.objects.bulk_create(
            [
                EncounterDiagnosis(encounter=v, code=code, description=text, rank=rank)
                for v in visits
                for rank, (code, text) in enumerate(
                    [("E78.5", "Hyperlipidemia, unspecified"), ("R07.9", "Chest pain, unspecified")], 1
                )
            ]
        )
        primary = {d.encounter_id: d for d in EncounterDiagnosis.objects.filter(encounter__in=visits, rank=1)}
        now = timezone.now()
        orders = []
        for v in visits:
            for kind, data in KIND_DATA.items():
                fields = dict(data)
                title = (
                    fields.pop("title", None)
                    or {
                        "prescription": "atorvastatin 20 mg",
                        "referral": "Referral to Cardiology",
                        "follow_up": "Follow-up visit in 4 weeks",
                    }[kind]
                )
                orders.append(
                    Order(
                        encounter=v,
                        patient_id=v.patient_id,
                        provider=provider,
                        diagnosis=primary[v.pk],
                        kind=kind,
                        title=title,
                        pended_by=vma,
                        pended_at=now,
                        **fields,
                    )
                )
        Order.objects.bulk_create(orders)


def _queue_orders(ds: Dataset) -> list[Any]:
    from vma.access import sync_role_groups

    from .models import Order

    # After the dataset's flush, post_migrate re-synced the role groups before the later apps'
    # permissions existed; set them again (idempotent) so the provider holds orders.sign_order.
    sync_role_groups()

    orders = list(
        Order.objects.filter(encounter__chief_complaint=MARK)
        .select_related("patient", "encounter", "diagnosis")
        .order_by("pk")
    )
    if len(orders) != PENDED:
        raise RuntimeError(f"The orders_signing part has {len(orders)} orders; {PENDED} expected")
    return orders


def _reset(ids: list[int]) -> None:
    """Back to pended, as if never signed (bench only: a bulk update skips the audit on purpose)."""
    from vma.models import OutboxMessage

    from .models import Order

    Order.objects.filter(pk__in=ids).update(
        status=Order.Status.PENDED, signed_by=None, signed_at=None, signed_hash="", second_factor_at=None
    )
    OutboxMessage.objects.filter(key__in=[f"order-effects:{pk}" for pk in ids]).delete()


@benchmark("orders_signing_queue", target_p95_ms=1000, max_queries=20)
def signing_queue(ds: Dataset) -> Case:
    """GET the signing queue of a provider with 200 pended orders of 40 patients (every line hashed)."""
    ids = [o.pk for o in _queue_orders(ds)]
    _reset(ids)
    client = ds.client_for(ds.user(PROVIDER))
    shown = ds.get_ok(client, "/orders/signing/").content.count(b'name="item"')
    if shown < PENDED:
        raise RuntimeError(f"The queue shows {shown} items; at least {PENDED} expected")
    return Case(run=lambda: ds.get_ok(client, "/orders/signing/"))


@benchmark("orders_sign_batch_100", target_p95_ms=3000, max_queries=450, iterations=15)
def sign_batch(ds: Dataset) -> Case:
    """POST a 100-item batch sign (page path: queue read, lock, hash check, signature, audit, outbox) of 200 pended."""
    from . import services
    from .models import Order

    orders = _queue_orders(ds)
    ids = [o.pk for o in orders]
    _reset(ids)
    batch = orders[:BATCH]
    items = [f"order:{o.public_id}:{services.order_hash(o)}" for o in batch]
    client = ds.client_for(ds.user(PROVIDER))

    def run() -> None:
        response = client.post("/orders/signing/batch/", {"item": items, "action": "sign"})
        if response.status_code != 302:
            raise RuntimeError(f"The batch sign answered {response.status_code}")

    def before_each() -> None:
        from django.db import connection

        _reset(ids)
        # ~700 statements a run: Django keeps the last 9000 in a deque, and once it is full the
        # harness's CaptureQueriesContext slices the wrong ones. Start each run with it empty.
        connection.queries_log.clear()

    def extra() -> dict[str, Any]:
        signed = Order.objects.filter(pk__in=[o.pk for o in batch], status=Order.Status.SIGNED).count()
        failures = [] if signed == BATCH else [f"{signed} of {BATCH} signed after the last run"]
        return {"signed_in_last_run": signed, "failures": failures}

    return Case(run=run, before_each=before_each, extra=extra, teardown=lambda: _reset(ids))

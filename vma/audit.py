"""The audit trail: one append-only, hash-chained table for reads and writes of patient data.

django-auditlog records writes through model signals; every LogEntry it writes is appended here
too (post_log). Reads are recorded explicitly by pages, API views, exports and tasks through
`record_read`, because auditlog only logs reads of single-object views.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .models import AuditChainHead, AuditEvent, AuditEventPatient

if TYPE_CHECKING:
    from django.http import HttpRequest

GENESIS = "0" * 64


def _body(event: AuditEvent) -> str:
    """The event's content as canonical JSON (everything but its place in the chain)."""
    body = {
        "at": event.at.isoformat(),
        "actor": event.actor_id,
        "actor_label": event.actor_label,
        "kind": event.kind,
        "action": event.action,
        "target": event.target,
        "patients": list(event.patient_ids),
        "detail": event.detail,
        "remote_addr": event.remote_addr,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def chain_hash(body: str, seq: int, prev_hash: str) -> str:
    # The same formula is computed inside PostgreSQL by _APPEND_SQL; keep them in step.
    return hashlib.sha256(f"{body}|{seq}|{prev_hash}".encode()).hexdigest()


def compute_hash(event: AuditEvent) -> str:
    return chain_hash(_body(event), event.seq, event.prev_hash)


# One statement: lock the head, link, hash, insert the event and its patient index, move the
# head. Keeps the per-request cost of auditing to a single round trip.
_APPEND_SQL = """
WITH old AS (
    SELECT seq, hash FROM vma_auditchainhead WHERE id = 1 FOR UPDATE
), new AS (
    SELECT old.seq + 1 AS seq, old.hash AS prev,
           encode(sha256(convert_to(%(body)s || '|' || (old.seq + 1)::text || '|' || old.hash, 'UTF8')), 'hex') AS hash
    FROM old
), moved AS (
    UPDATE vma_auditchainhead h SET seq = new.seq, hash = new.hash FROM new WHERE h.id = 1
), ev AS (
    INSERT INTO vma_auditevent (seq, at, actor_id, actor_label, kind, action, target, patient_ids, detail,
                                remote_addr, prev_hash, hash)
    SELECT new.seq, %(at)s, %(actor)s, %(actor_label)s, %(kind)s, %(action)s, %(target)s, %(patients)s::jsonb,
           %(detail)s::jsonb, %(remote_addr)s, new.prev, new.hash
    FROM new
    RETURNING id, seq
), links AS (
    INSERT INTO vma_auditeventpatient (event_id, patient_id)
    SELECT ev.id, p FROM ev, unnest(%(patient_array)s::bigint[]) AS p
)
SELECT id, seq FROM ev
"""


def _lock_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(id=1).first()
    if head is not None:
        return head
    try:
        with transaction.atomic():
            AuditChainHead.objects.create(id=1, seq=0, hash=GENESIS)
    except IntegrityError:
        pass  # another process created it first
    return AuditChainHead.objects.select_for_update().get(id=1)


def append(
    *,
    kind: str,
    action: str,
    actor: Any = None,
    target: str = "",
    patient_ids: Iterable[int] = (),
    detail: dict[str, Any] | None = None,
    remote_addr: str | None = None,
) -> AuditEvent:
    """Append one event to the chain. Runs inside the caller's transaction if there is one."""
    ids = sorted({int(p) for p in patient_ids if p is not None})
    actor_obj = actor if (actor is not None and getattr(actor, "is_authenticated", False)) else None
    event = AuditEvent(
        at=timezone.now(),
        actor=actor_obj,
        actor_label=actor_obj.get_username() if actor_obj else "system",
        kind=kind,
        action=action[:120],
        target=target[:200],
        patient_ids=ids,
        detail=detail or {},
        remote_addr=remote_addr,
    )
    if connection.vendor == "postgresql":
        return _append_postgresql(event)
    with transaction.atomic():
        # The head row lock serialises appends: each event must see its predecessor's hash.
        head = _lock_head()
        event.seq, event.prev_hash = head.seq + 1, head.hash
        event.hash = compute_hash(event)
        event.save()
        if ids:
            AuditEventPatient.objects.bulk_create([AuditEventPatient(event=event, patient_id=i) for i in ids])
        head.seq, head.hash = event.seq, event.hash
        head.save(update_fields=["seq", "hash"])
    return event


def _append_postgresql(event: AuditEvent) -> AuditEvent:
    params: dict[str, Any] = {
        "body": _body(event),
        "at": event.at,
        "actor": event.actor_id,
        "actor_label": event.actor_label,
        "kind": event.kind,
        "action": event.action,
        "target": event.target,
        "patients": json.dumps(event.patient_ids),
        "detail": json.dumps(event.detail, default=str),
        "remote_addr": event.remote_addr,
        "patient_array": list(event.patient_ids),
    }
    for _attempt in range(2):
        with connection.cursor() as cur:
            cur.execute(_APPEND_SQL, params)
            row = cur.fetchone()
        if row is not None:
            event.pk, event.seq = row
            event._state.adding = False
            return event
        with transaction.atomic():
            _lock_head()  # no head row yet (a new database): create it, then append again
    raise RuntimeError("audit: could not append to the chain")  # never silently lose an event


def _remote_addr(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record_read(
    request_or_actor: Any,
    patients: Iterable[Any],
    *,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    kind: str = AuditEvent.Kind.READ,
) -> AuditEvent | None:
    """Record which patients a page, API response, export or task returned.

    `patients` may be Patient objects, objects with audit_patient_id(), or plain ids.
    Nothing is written when no patient data was returned.
    """
    ids: set[int] = set()
    for obj in patients:
        if obj is None:
            continue
        if isinstance(obj, int):
            ids.add(obj)
        elif hasattr(obj, "audit_patient_id"):
            pid = obj.audit_patient_id()
            if pid is not None:
                ids.add(pid)
    if not ids:
        return None
    request = request_or_actor if hasattr(request_or_actor, "META") else None
    actor = request.user if request is not None else request_or_actor
    return append(
        kind=kind,
        action=action,
        actor=actor,
        target=target or (request.path if request is not None else ""),
        patient_ids=ids,
        detail=detail,
        remote_addr=_remote_addr(request),
    )


def on_auditlog_entry(sender: Any, instance: Any, action: Any, log_entry: Any = None, **kwargs: Any) -> None:
    """Receiver for auditlog's post_log: chain every write auditlog recorded."""
    if log_entry is None:
        return
    getter = getattr(instance, "audit_patient_id", None)
    pid = getter() if getter else None
    changed = sorted((log_entry.changes_dict or {}).keys()) if hasattr(log_entry, "changes_dict") else []
    append(
        kind=AuditEvent.Kind.WRITE,
        action=f"{instance._meta.label_lower}.{log_entry.get_action_display().lower()}",
        actor=log_entry.actor,
        target=f"{instance._meta.label_lower}:{log_entry.object_pk}",
        patient_ids=[pid] if pid else [],
        # Field names only: the values live in auditlog's own table, not copied twice.
        detail={"auditlog_id": log_entry.pk, "fields": changed},
        remote_addr=log_entry.remote_addr,
    )


@dataclass
class ChainReport:
    checked: int
    broken_at: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(batch: int = 5000) -> ChainReport:
    """Walk the chain in order; report the first row whose link or hash does not hold."""
    expected_prev = GENESIS
    expected_seq = 1
    checked = 0
    qs = AuditEvent.objects.order_by("seq")
    for event in qs.iterator(chunk_size=batch):
        if event.seq != expected_seq:
            return ChainReport(checked, expected_seq, f"event #{expected_seq} is missing (next found is #{event.seq})")
        if event.prev_hash != expected_prev:
            return ChainReport(checked, event.seq, f"event #{event.seq} does not link to event #{event.seq - 1}")
        if compute_hash(event) != event.hash:
            return ChainReport(checked, event.seq, f"event #{event.seq} was altered (its hash does not match)")
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
    head = AuditChainHead.objects.filter(id=1).first()
    if head is not None and head.seq != checked:
        return ChainReport(checked, checked + 1, f"the chain head says {head.seq} events but {checked} were found")
    return ChainReport(checked, None, "intact")

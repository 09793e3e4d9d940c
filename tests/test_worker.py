"""Background work against a real Celery worker, real Redis and real PostgreSQL: loss, outage, kill."""

from __future__ import annotations

import os
import re
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from patients.models import Patient
from vma import outbox, workflow
from vma.models import Heartbeat, Notification, OutboxMessage, User, WorkItem
from vma.tasks import canary, sweep_outbox

from .factories import PatientFactory
from .worker_support import (
    RedisServer,
    Worker,
    celery_broker,
    purge_queue,
    queued_messages,
    show_on_failure,
    wait_for,
)
from .worker_tasks import SLOW_NOTIFY

pytestmark = pytest.mark.worker

BROKER = settings.CELERY_BROKER_URL  # the Redis under test (REDIS_URL)
Status = OutboxMessage.Status


class Processes:
    """What a test started: each is stopped at teardown, before the database is flushed."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[Worker | RedisServer] = []

    def redis(self) -> RedisServer:
        server = RedisServer(self.tmp_path / f"redis-{len(self.started)}.log")
        self.started.append(server)
        server.start()
        return server

    def worker(self, *, broker_url: str = BROKER, purge: bool = True, **options) -> Worker:
        if broker_url == BROKER and purge:
            purge_queue(BROKER)  # nothing left over from an earlier run reaches this worker
        worker = Worker(broker_url=broker_url, log_path=self.tmp_path / f"worker-{len(self.started)}.log", **options)
        self.started.append(worker)
        worker.start()
        return worker


@pytest.fixture
def processes(request, transactional_db, tmp_path):
    # transactional_db: the worker is another process, it sees only committed rows.
    failed_before = request.session.testsfailed
    procs = Processes(tmp_path)
    yield procs
    for proc in reversed(procs.started):
        proc.stop()
    if request.session.testsfailed > failed_before:
        for proc in procs.started:
            if isinstance(proc, Worker):
                show_on_failure(request, f"log of worker {proc.hostname}", proc.log())
            else:
                show_on_failure(request, f"log of redis-server :{proc.port}", proc.log_tail())


def open_callback(patient: Patient) -> WorkItem:
    item, _ = workflow.open_work_item(kind="patients.callback", subject=patient, patient=patient, title="Call back")
    return item


def nurse_notices(nurse: User, item: WorkItem) -> int:
    return Notification.objects.filter(user=nurse, work_item=item).count()


def fence(timeout: float = 20) -> None:
    """Wait until the worker has handled everything published so far (one child, FIFO queue)."""
    sent_at = timezone.now()
    canary.delay()
    wait_for(
        lambda: Heartbeat.objects.filter(name="canary", seen_at__gte=sent_at).exists(),
        timeout=timeout,
        what="the canary sent after earlier messages",
    )


def test_rolled_back_escalation_never_notifies_while_a_committed_one_does(processes, practice, patient):
    # given a worker, and two open items on the front office's queue
    processes.worker()
    vma, nurse = practice.users["front_office"], practice.users["nurse"]
    doomed = open_callback(patient)
    kept = open_callback(PatientFactory(care_team=practice.team))

    # when one escalation's transaction rolls back and the other's commits
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        workflow.escalate_item(doomed, actor=vma, to_queue="nurse", reason="Chest pain")
        raise Abort
    workflow.escalate_item(kept, actor=vma, to_queue="nurse", reason="Chest pain")

    # then the committed one reaches the nurse through the worker ...
    wait_for(lambda: nurse_notices(nurse, kept) == 1, timeout=20, what="the nurse's notice of the committed escalation")
    fence()
    # ... and the rolled-back one left no row, no message and no notice
    assert nurse_notices(nurse, doomed) == 0
    assert list(OutboxMessage.objects.filter(handler="vma.notify_escalation").values_list("status", flat=True)) == [
        Status.DONE
    ]
    doomed.refresh_from_db()
    assert doomed.status == WorkItem.Status.OPEN
    assert queued_messages(BROKER) == 0


def test_broker_outage_web_action_succeeds_and_the_sweeper_delivers_later(processes, practice, patient, client):
    # given a worker on a Redis of the test's own, and the web side publishing to it
    broker = processes.redis()
    nurse = practice.users["nurse"]
    item = open_callback(patient)
    client.force_login(practice.users["front_office"])
    with celery_broker(broker.url()):
        processes.worker(broker_url=broker.url())

        # when Redis goes down and a VMA escalates an item
        broker.stop()
        started = time.monotonic()
        response = client.post(f"/queue/items/{item.public_id}/escalate/", {"queue": "nurse", "reason": "BP 190/110"})
        elapsed = time.monotonic() - started

        # then the page answers at once, the change is made, and the side effect waits in the outbox
        assert response.status_code == 302, response.content[:500]
        assert response["Location"] == "/queue/"
        assert elapsed < 5, f"the escalation took {elapsed:.1f}s with the broker down"
        item.refresh_from_db()
        assert (item.status, item.queue) == (WorkItem.Status.ESCALATED, "nurse")
        message = OutboxMessage.objects.get(handler="vma.notify_escalation")
        assert (message.status, message.attempts) == (Status.PENDING, 0)
        assert nurse_notices(nurse, item) == 0

        # when Redis is back and beat runs the sweeper
        broker.start()
        assert sweep_outbox() == 1

        # then the worker reconnects and the nurse is told, once
        wait_for(lambda: nurse_notices(nurse, item) == 1, timeout=20, what="the nurse's notice after the outage")
        wait_for(
            lambda: OutboxMessage.objects.filter(pk=message.pk, status=Status.DONE).exists(),
            timeout=5,
            what="the outbox row to be done",
        )
    message.refresh_from_db()
    assert message.attempts == 1


def test_worker_child_killed_mid_task_neither_loses_nor_doubles_the_result(processes, practice, tmp_path):
    # given a worker with one child and a short outbox lease, running a slow message
    worker = processes.worker(env={"OUTBOX_LEASE_SECONDS": "8"})
    nurse = practice.users["nurse"]
    starts = tmp_path / "starts"
    with transaction.atomic():
        payload = {"user_id": nurse.pk, "key": "slow:1", "seconds": 2, "starts_file": str(starts)}
        message = outbox.enqueue(SLOW_NOTIFY, payload, key="slow-1")
    started = wait_for(lambda: starts.exists() and starts.read_text().split(), timeout=20, what="the handler to start")
    victim = int(started[0])
    assert victim in worker.children()
    assert OutboxMessage.objects.get(pk=message.pk).status == Status.RUNNING

    # when that child is killed with SIGKILL while the handler runs
    os.kill(victim, signal.SIGKILL)

    # then the worker survives it and hands the message back to the queue (acks_late, reject on worker lost) ...
    wait_for(lambda: "WorkerLostError" in worker.log(), timeout=20, what="the worker to notice its lost child")
    assert worker.proc is not None and worker.proc.poll() is None

    # ... which comes back (same task id) while a sweep, what beat runs, re-sends the row once the
    # killed attempt's lease has run out; whichever claims it first delivers it, the other skips
    first_id = re.search(r"deliver_outbox\[([0-9a-f-]+)\] received", worker.log()).group(1)

    def delivered() -> bool:
        sweep_outbox()
        return OutboxMessage.objects.filter(pk=message.pk, status=Status.DONE).exists()

    wait_for(delivered, timeout=20, what="the message to be delivered after the kill", interval=0.5)
    wait_for(
        lambda: worker.log().count(f"deliver_outbox[{first_id}] received") == 2,
        timeout=20,
        what="the killed task's message to be redelivered",
    )
    fence()

    # then the effect exists exactly once, and the handler ran to its end exactly once
    assert Notification.objects.filter(user=nurse, key="slow:1").count() == 1
    message.refresh_from_db()
    # Both starts count: the killed one used up an attempt (so a handler that always kills its
    # worker ends FAILED with a work item instead of looping forever).
    assert (message.attempts, message.lease_until, message.last_error) == (2, None, "")
    runs = starts.read_text().split()
    assert len(runs) == 2, f"the handler started {len(runs)} times: {runs}"
    assert int(runs[1]) != victim
    assert worker.log().count("s: 'done'") == 1


def test_healthz_names_a_stale_canary_then_reports_the_one_a_worker_ran(processes, client):
    # given a canary last seen ten minutes ago and no beat tick ever
    Heartbeat.objects.update_or_create(name="canary", defaults={"seen_at": timezone.now() - timedelta(minutes=10)})

    # then /healthz is unhealthy and names the stale canary and the missing beat tick
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["broker"] == {"ok": True}
    assert body["checks"]["canary"]["ok"] is False
    assert 590 <= body["checks"]["canary"]["age_seconds"] <= 700
    assert body["checks"]["beat"] == {"ok": False, "age_seconds": None}

    # when a real worker runs the canary
    processes.worker()
    sent_at = timezone.now()
    canary.delay()

    # then the canary's heartbeat is the worker's, and /healthz reports it fresh
    wait_for(
        lambda: Heartbeat.objects.filter(name="canary", seen_at__gte=sent_at).exists(),
        timeout=20,
        what="the worker to run the canary",
    )
    checks = client.get("/healthz").json()["checks"]
    assert checks["canary"]["ok"] is True
    assert checks["canary"]["age_seconds"] < 20


def test_healthz_recovers_when_a_worker_and_its_beat_start(processes, client):
    # given beat and worker down for an hour: the canary and the last beat tick are that old
    an_hour_ago = timezone.now() - timedelta(hours=1)
    for name in ("canary", "beat"):
        Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": an_hour_ago})
    assert PeriodicTask.objects.filter(task="vma.tasks.canary").update(last_run_at=an_hour_ago) == 1
    response = client.get("/healthz")
    assert response.status_code == 503
    assert [name for name, check in response.json()["checks"].items() if not check["ok"]] == ["beat", "canary"]

    # when a worker with embedded beat starts (the overdue canary is sent on beat's first tick)
    processes.worker(beat=True)

    # then /healthz turns healthy, every check fresh
    response = wait_for(
        lambda: (r := client.get("/healthz")).status_code == 200 and r, timeout=20, what="/healthz to answer 200"
    )
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["canary"]["age_seconds"] < 20
    assert body["checks"]["beat"]["age_seconds"] < 20


def test_sweeping_twice_delivers_each_message_once(processes, practice):
    # given three escalations whose doorbells were lost (Redis restarted without persistence)
    vma, nurse = practice.users["front_office"], practice.users["nurse"]
    items = [open_callback(PatientFactory(care_team=practice.team)) for _ in range(3)]
    for item in items:
        workflow.escalate_item(item, actor=vma, to_queue="nurse", reason="Fever")
    purge_queue(BROKER)
    worker = processes.worker()
    fence()
    assert set(OutboxMessage.objects.filter(handler="vma.notify_escalation").values_list("status", flat=True)) == {
        Status.PENDING
    }
    assert Notification.objects.count() == 0

    # when the sweeper runs twice in a row, and every doorbell rings once more on top
    first, second = sweep_outbox(), sweep_outbox()
    for message_id in OutboxMessage.objects.filter(handler="vma.notify_escalation").values_list("pk", flat=True):
        outbox.publish(message_id)
    fence()

    # then each escalation reached the nurse exactly once, and the duplicates did nothing
    assert first == 3
    assert [nurse_notices(nurse, item) for item in items] == [1, 1, 1]
    assert Notification.objects.count() == 3
    assert (
        list(OutboxMessage.objects.filter(handler="vma.notify_escalation").values_list("status", "attempts"))
        == [(Status.DONE, 1)] * 3
    )
    duplicates = second + 3
    assert worker.log().count("'skipped'") == duplicates

    # and, once the e-mail notices those handlers enqueued are delivered too (their doorbells rang
    # while the handlers ran, so behind the first canary: a second fence waits for them), a later
    # sweep finds nothing to do
    fence()
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {Status.DONE}
    assert sweep_outbox() == 0
    fence()
    assert Notification.objects.count() == 3


def test_eligibility_sweep_with_no_worker_then_a_worker_checks_each_visit_once(processes, practice):
    """Issue 4: the sweep runs while no worker consumes; a worker started later sends every check once."""
    from eligibility import services as eligibility_services
    from eligibility.models import EligibilityCheck

    from .factories import AppointmentFactory, CoverageFactory

    # given: three visits within 72 h, each patient with an active coverage the simulated payer answers at once
    for n in range(3):
        patient = PatientFactory(care_team=practice.team)
        CoverageFactory(patient=patient, member_id=f"W{n:07d}11")
        AppointmentFactory(patient=patient, start_at=timezone.now() + timedelta(hours=30 + n))
    purge_queue(BROKER)

    # when: the sweep runs twice with no worker: the checks are queued once, their doorbells wait in
    # Redis (the second sweep may ring them again: the sends are idempotent)
    assert eligibility_services.sweep().requested == 3
    second = eligibility_services.sweep()
    assert second.requested == 0
    assert queued_messages(BROKER) == 3 + second.dispatched
    assert EligibilityCheck.objects.count() == 3
    assert set(EligibilityCheck.objects.values_list("status", flat=True)) == {"queued"}

    # then: a worker comes (to the messages waiting for it), and each check is sent once, answered active
    processes.worker(purge=False)
    wait_for(
        lambda: set(EligibilityCheck.objects.values_list("status", flat=True)) == {"active"},
        timeout=60,
        what="the worker to send the three checks",
    )
    assert list(EligibilityCheck.objects.values_list("attempts", flat=True)) == [1, 1, 1]
    assert EligibilityCheck.objects.exclude(raw_271="").count() == 3
    assert eligibility_services.sweep().requested == 0 and EligibilityCheck.objects.count() == 3

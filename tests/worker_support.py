"""Real background processes for tests: a throwaway redis-server and a `celery -A vma worker`."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import kombu.pools
import redis
from django.conf import settings
from django.db import connection

from vma.celery import app as celery_app

T = TypeVar("T")
ROOT = Path(settings.BASE_DIR)


def wait_for(predicate: Callable[[], T], *, timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll until `predicate()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def current_database_url() -> str:
    """The URL of the database this test runs on (the test database, not the configured one)."""
    s = connection.settings_dict
    auth = s["USER"] or ""
    if s["PASSWORD"]:
        auth = f"{auth}:{s['PASSWORD']}"
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class RedisServer:
    """A redis-server of the test's own, on its own port, that the test may stop and restart."""

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 10) -> None:
        assert self.proc is None, "already running"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def answers() -> bool:
            # Someone else's server on the port would answer too: ours must still be alive.
            assert self.proc is not None and self.proc.poll() is None, f"redis-server exited: {self.log_tail()}"
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_for(answers, timeout=timeout, what=f"redis-server on port {self.port}", interval=0.05)
        client.close()

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""


class Worker:
    """`celery -A vma worker` in a subprocess, on the test database and the given broker."""

    def __init__(
        self,
        *,
        broker_url: str,
        log_path: Path,
        pool: str = "prefork",
        concurrency: int = 1,
        beat: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.broker_url = broker_url
        self.log_path = log_path
        self.hostname = f"test-{uuid.uuid4().hex[:10]}@localhost"
        self.args = [
            sys.executable, "-m", "celery", "-A", "vma", "worker",
            f"--pool={pool}", f"--concurrency={concurrency}",
            "--without-heartbeat", "--without-gossip", "--without-mingle",
            "--hostname", self.hostname, "--loglevel=INFO",
            "--include", "tests.worker_tasks",
        ]  # fmt: skip
        if beat:
            # The embedded beat keeps its state file in the test's directory, not in var/.
            self.args += ["--beat", "--schedule", str(log_path.with_suffix(".beat-schedule"))]
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "vma.settings",
            "VMA_TESTING": "true",
            "DATABASE_URL": current_database_url(),
            "REDIS_URL": broker_url,
            # The escalation handler mails the people it notifies; no SMTP server here.
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

        def ready() -> bool:
            assert self.proc is not None and self.proc.poll() is None, f"worker exited early:\n{self.log()}"
            return f"{self.hostname} ready." in self.log()

        wait_for(ready, timeout=timeout, what=f"worker {self.hostname} to be ready", interval=0.1)

    def stop(self) -> None:
        """Warm shutdown; then kill the whole process group, pool children and beat included."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self.proc = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def children(self) -> list[int]:
        """PIDs whose parent is the worker's main process (the pool children, beat)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces and parentheses: the fields start after the last ")".
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == self.pid:
                pids.append(int(entry.name))
        return pids

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextlib.contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Point this process's Celery app (what the web side publishes with) at another broker.

    The broker URL is read from settings at import time, and the app caches its connection and
    producer pools (kombu keeps them in process-wide registries too), so on the way in and on the
    way out every pool is closed and forgotten, and the next publish opens fresh ones.
    """
    original = celery_app.conf.broker_url

    def switch(to: str) -> None:
        kombu.pools.reset()
        celery_app.amqp._producer_pool = None
        celery_app._pool = None
        celery_app.conf.broker_url = to

    switch(url)
    try:
        yield
    finally:
        switch(original)


def queued_messages(broker_url: str, queue: str = "celery") -> int:
    client = redis.Redis.from_url(broker_url)
    try:
        return int(client.llen(queue))
    finally:
        client.close()


def purge_queue(broker_url: str, queue: str = "celery") -> None:
    """Drop messages left in the queue by an earlier run (or lost on purpose by a test).

    The unacked ones go too: a worker would put them back into the queue an hour later.
    """
    client = redis.Redis.from_url(broker_url)
    try:
        client.delete(queue, "unacked", "unacked_index", "unacked_mutex")
    finally:
        client.close()


def show_on_failure(request: Any, title: str, text: str) -> None:
    """Print a process log to the terminal if the running test has failed."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        sys.stdout.write(f"\n----- {title} -----\n{text[-20000:]}\n----- end of {title} -----\n")

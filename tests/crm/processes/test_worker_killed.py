"""A worker killed in the middle of an instance: the step it was running is run again, once, and nothing is lost."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.activities.models import Activity
from crm.processes import engine, timers
from crm.processes.models import Instance, Notification
from platform_core.celery import app as celery_app
from tests.crm.processes.support import process
from tests.crm.processes.worker_support import QUEUE, STEP, attempts_key
from tests.factories import DealFactory

ROOT = Path(__file__).resolve().parents[3]


def _database_url() -> str:
    parts = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kontor"))
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


class Worker:
    """`celery worker -B`: the beat's tick every half second queues the runner of workspaces with timers due."""

    def __init__(self, tmp_path: Path, run: str) -> None:
        self.tmp_path, self.run, self.starts = tmp_path, run, 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, delay: float) -> None:
        self.starts += 1
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "PROCESSES_TEST_RUN": self.run,
            "PROCESSES_TEST_DELAY": str(delay),
            "PROCESSES_TICK_SECONDS": "0.5",
            "EVENTS_DISPATCH_EAGER": "false",
        }
        log = open(self.tmp_path / f"worker-{self.starts}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "platform_core.celery", "worker", "-B"),
                *("-s", str(self.tmp_path / f"beat-{self.starts}"), "-Q", QUEUE, "-c", "1"),
                *("--include", "tests.crm.processes.worker_support", "-l", "warning"),
                *("--without-mingle", "--without-gossip"),
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)
        self.process = None


def _wait(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_killed_worker_runs_the_interrupted_step_again_once(committed_db, tmp_path, settings) -> None:
    settings.EVENTS_DISPATCH_EAGER = False
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(QUEUE)
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = QUEUE  # runners queued by this process go to the test worker too
    worker = Worker(tmp_path, uuid.uuid4().hex)
    ws = committed_db()
    try:
        with schema_context(ws.schema):
            definition = process(
                ws.owner,
                {
                    "trigger": {"type": "manual", "record_type": "deal"},
                    "steps": [
                        {
                            "id": "pause",
                            "type": "wait",
                            "until": (timezone.now() + datetime.timedelta(seconds=1)).isoformat(),
                        },
                        {"id": "ship", "type": STEP, "title": "Ship {record.title}", "assign": {"to": "owner"}},
                        {"id": "told", "type": "notify", "to": {"to": "owner"}, "text": "Shipped {record.title}"},
                    ],
                },
            )
            deals = [DealFactory(owner=ws.owner, title=f"Order {n}") for n in range(4)]
            for deal in deals:
                engine.manual_start(actor=ws.owner, definition=definition, record=deal, record_type="deal")
        attempts = attempts_key(worker.run, ws.schema)
        worker.start(delay=30)
        _wait(lambda: int(client.get(attempts) or 0) >= 1, "the first slow step")
        worker.kill()  # SIGKILL in the middle of the step, its transaction open
        with schema_context(ws.schema):
            assert Activity.objects.filter(kind="task").count() == 0, "the killed step's task was committed"
            assert Instance.objects.filter(state="running").count() == 4
        worker.start(delay=0)
        with schema_context(ws.schema):
            _wait(lambda: Instance.objects.filter(state="completed").count() == 4, "every instance to complete")
            for deal in deals:
                assert list(Activity.objects.filter(deal=deal, kind="task").values_list("subject", flat=True)) == [
                    f"Ship {deal.title}"
                ]
                assert Notification.objects.filter(text=f"Shipped {deal.title}").count() == 1
            assert timers.next_due() is None
        assert int(client.get(attempts) or 0) == 5  # the interrupted step ran twice, the others once
    finally:
        worker.kill(signal.SIGTERM)
        celery_app.conf.task_default_queue = default_queue
        client.delete(QUEUE)

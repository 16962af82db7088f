"""gunicorn settings of the production server, from the environment (`make serve`, `make demo`).

    gunicorn -c python:platform_core.gunicorn_conf platform_core.wsgi:application

Each web worker is one process with a fixed pool of WEB_THREADS threads, and each thread holds at most one
PostgreSQL connection, so the web tier holds at most WEB_WORKERS x WEB_THREADS connections (the budget that
platform_core.embedded checks against max_connections). Command-line options given after `-c` win over these.

| variable | default | meaning |
|---|---|---|
| WEB_BIND | 0.0.0.0:$PORT (8000) | address to listen on |
| WEB_WORKERS | 2 | processes: one per core |
| WEB_THREADS | 4 | threads per process: requests mostly wait on PostgreSQL, threads overlap them |
| WEB_TIMEOUT | 30 | seconds a request may run before its worker is replaced (its threads' stacks are logged) |
| WEB_GRACEFUL_TIMEOUT | 10 | seconds a worker has to finish its requests on a restart or SIGTERM |
| WEB_KEEPALIVE | 5 | seconds an idle keep-alive connection (from the proxy) stays open |
| WEB_MAX_REQUESTS | 5000 | requests after which a worker is replaced (bounds any slow growth); 0 = never |
| WEB_MAX_REQUESTS_JITTER | 10% of it | random extra, so the workers are not all replaced at once |
| WEB_ACCESS_LOG | - (stderr) | where each request is logged; empty = no access log |
| WEB_CONTROL_SOCKET | unset: none | path of gunicorn's control socket (gunicornc); off unless set |
| LOG_LEVEL | INFO | gunicorn's own log level (Django's too, see settings.LOGGING) |
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from typing import Any


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = [os.environ.get("WEB_BIND") or f"0.0.0.0:{_int('PORT', 8000)}"]
workers = _int("WEB_WORKERS", 2)
threads = _int("WEB_THREADS", 4)
worker_class = "gthread"
timeout = _int("WEB_TIMEOUT", 30)
graceful_timeout = _int("WEB_GRACEFUL_TIMEOUT", 10)
keepalive = _int("WEB_KEEPALIVE", 5)
max_requests = _int("WEB_MAX_REQUESTS", 5000)
max_requests_jitter = _int("WEB_MAX_REQUESTS_JITTER", max_requests // 10)
# The application is imported once in the master and the workers fork from it: a quick start and shared memory.
preload_app = True
wsgi_app = "platform_core.wsgi:application"

accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None
# Client, request line, status, bytes, milliseconds, the Host (which workspace) and the user agent.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms host=%({host}i)s "%(a)s"'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl): a second server of the
# same user (a test, a benchmark, another instance) would take it over, and remove it when it stops. Only on
# request, at a path of its own.
control_socket_disable = not os.environ.get("WEB_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["WEB_CONTROL_SOCKET"]
# The worker heartbeat file in memory, not on a disk that may stall (containers mount /tmp on overlayfs).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108


def pre_fork(server: Any, worker: Any) -> None:
    """A database connection opened while the application was imported in the master must not be inherited: two
    processes on one socket corrupt each other's sessions. The master closes its own before every fork."""
    from django.db import connections

    connections.close_all()


def worker_abort(worker: Any) -> None:
    """A request ran past WEB_TIMEOUT: log what every thread of the worker was doing before it is killed."""
    frames = sys._current_frames()
    names = {t.ident: t.name for t in threading.enumerate()}
    stacks = [
        f"Thread {names.get(ident, ident)}:\n{''.join(traceback.format_stack(frame))}"
        for ident, frame in frames.items()
    ]
    worker.log.error("worker %s timed out (WEB_TIMEOUT=%ss); its threads:\n%s", worker.pid, timeout, "\n".join(stacks))

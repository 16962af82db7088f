"""The WSGI application bench/hotpath.py serves (bench only, never in the product).

Django as in production, with two additions for the measurement:

- `/__floor__`: the floor. The API contact list's own SELECT (HOTPATH_FLOOR_SQL, captured by bench/hotpath.py from
  a real API request) run by a bare WSGI function with psycopg (one connection per thread, search_path set once)
  and answered with json.dumps: what the database driver alone can serve.
- every other request: Django, with its statements and their time counted and returned in the headers
  X-Bench-Queries, X-Bench-Overhead (statements that are not the page's own: tenancy, session, authentication,
  permissions) and X-Bench-SQL-ms. They are counted at the driver (psycopg's cursors), not with Django's
  `connection.execute_wrapper`: django-tenants runs its `SET search_path` on the raw cursor, which the wrapper
  never sees, and that statement is part of the cost.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from platform_core.wsgi import application as django_application

FLOOR_PATH = "/__floor__"
# Statements about who is asking and where, not about the records the page shows: by the table a statement is
# about (the first after FROM, UPDATE or INSERT INTO), or SET / SHOW / set_config() (a new connection's
# set-up) / a bare SELECT 1 (the health check before a request's first query, CONN_HEALTH_CHECKS).
_BOOKKEEPING = re.compile(r"^\s*(SET|SHOW)\b|^\s*SELECT 1\s*$|^\s*SELECT set_config\(", re.IGNORECASE)
_SUBJECT = re.compile(r'\b(?:FROM|UPDATE|INSERT\s+INTO)\s+(?:"?\w+"?\.)?"?(\w+)"?', re.IGNORECASE)
_OVERHEAD_TABLES = ("tenants_", "accounts_", "django_session", "otp_", "axes_", "pg_database")


def overhead(sql: str) -> bool:
    if _BOOKKEEPING.match(sql):
        return True
    subject = _SUBJECT.search(sql)
    return bool(subject and subject.group(1).lower().startswith(_OVERHEAD_TABLES))


StartResponse = Callable[..., Any]
_local = threading.local()


def _floor_connection() -> Any:
    import psycopg

    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        import environ

        config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
        params = {
            "host": config.get("HOST") or None,
            "port": config.get("PORT") or None,
            "dbname": config["NAME"],
            "user": config.get("USER") or None,
            "password": config.get("PASSWORD") or None,
        }
        conn = psycopg.connect(autocommit=True, **{k: v for k, v in params.items() if v})
        schema = os.environ["HOTPATH_FLOOR_SCHEMA"]
        conn.execute(f'SET search_path = "{schema}", public')
        _local.conn = conn
    return conn


def floor(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    cursor = _floor_connection().execute(os.environ["HOTPATH_FLOOR_SQL"])
    names = [c.name for c in cursor.description or ()]
    items = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    body = json.dumps({"items": items, "next_cursor": None}, default=str).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _text(query: Any) -> str:
    if isinstance(query, str):
        return query
    if isinstance(query, bytes):
        return query.decode(errors="replace")
    return repr(query)  # psycopg.sql.Composed: its parts' names are in the repr


def _counting(execute: Callable[..., Any]) -> Callable[..., Any]:
    def counting_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        stats = getattr(_local, "stats", None)
        if stats is None:  # not inside a counted request (the floor, the master's start-up)
            return execute(self, query, *args, **kwargs)
        started = time.perf_counter()
        try:
            return execute(self, query, *args, **kwargs)
        finally:
            text = _text(query)
            stats[2] += time.perf_counter() - started
            stats[0] += 1
            stats[1] += overhead(text)
            trace = getattr(_local, "trace", None)
            if trace is not None:
                trace.append(("*" if overhead(text) else "") + " ".join(text.split())[:110])

    return counting_execute


def _count_at_the_driver() -> None:
    import psycopg

    for cls in (psycopg.Cursor, psycopg.ServerCursor):
        for name in ("execute", "executemany"):
            if name in vars(cls):
                setattr(cls, name, _counting(vars(cls)[name]))


_count_at_the_driver()


def counted(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    stats = _local.stats = [0, 0, 0.0]  # statements, of which overhead, seconds
    # X-Bench-Trace: 1 asks for the statements themselves (shortened), in X-Bench-Trace of the answer.
    trace: list[str] | None = [] if environ.get("HTTP_X_BENCH_TRACE") else None
    _local.trace = trace

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        headers = [
            *headers,
            ("X-Bench-Queries", str(stats[0])),
            ("X-Bench-Overhead", str(stats[1])),
            ("X-Bench-SQL-ms", f"{stats[2] * 1000:.3f}"),
        ]
        if trace is not None:
            headers.append(("X-Bench-Trace", json.dumps(trace, ensure_ascii=True)))
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    try:
        return django_application(environ, start)
    finally:
        _local.stats = _local.trace = None


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == FLOOR_PATH:
        return floor(environ, start_response)
    return counted(environ, start_response)

"""The WSGI application bench/hotpath.py serves (bench only, never in the product).

Django as in production, with two additions for the measurement:

- `/__floor__`: the floor. The API contact list's own SELECT (HOTPATH_FLOOR_SQL, captured by bench/hotpath.py from
  a real API request) run by a bare WSGI function with psycopg (one connection per thread, search_path set once)
  and answered with json.dumps: what the database driver alone can serve.
- every other request: Django, with `connection.execute_wrapper` counting its statements and their time, returned
  in the headers X-Bench-Queries, X-Bench-Overhead (statements that are not the page's own: tenancy, session,
  authentication, permissions) and X-Bench-SQL-ms.
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
# Statements about who is asking and where, not about the records the page shows.
OVERHEAD = re.compile(
    r"search_path|tenants_tenant|tenants_domain|accounts_|django_session|otp_|axes_|pg_database|^\s*SELECT 1\b",
    re.IGNORECASE,
)

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


def counted(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    from django.db import connection

    queries = overhead = 0
    seconds = 0.0

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries, overhead, seconds
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds += time.perf_counter() - started
            queries += 1
            overhead += bool(OVERHEAD.search(sql))

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        headers = [
            *headers,
            ("X-Bench-Queries", str(queries)),
            ("X-Bench-Overhead", str(overhead)),
            ("X-Bench-SQL-ms", f"{seconds * 1000:.3f}"),
        ]
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    with connection.execute_wrapper(wrapper):
        return django_application(environ, start)


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == FLOOR_PATH:
        return floor(environ, start_response)
    return counted(environ, start_response)

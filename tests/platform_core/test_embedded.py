"""The launcher that finds or starts PostgreSQL and Redis for make demo / make test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import environ
import pytest
from django.db import connection

from platform_core import embedded


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"host": "/srv/kontor/.data/postgres", "user": "postgres", "name": "kontor"},
            ("/srv/kontor/.data/postgres", "", "kontor", "postgres", ""),
        ),
        (
            {"host": "127.0.0.1", "port": 5432, "user": "postgres", "name": "kontor"},
            ("127.0.0.1", 5432, "kontor", "postgres", ""),
        ),
        (
            {"host": "db.internal", "port": "6432", "user": "app", "password": "p@ss/word", "name": "crm"},
            ("db.internal", 6432, "crm", "app", "p@ss/word"),
        ),
    ],
)
def test_database_url_round_trips_through_django_environ(kwargs, expected) -> None:
    config = environ.Env.db_url_config(embedded.database_url(**kwargs))
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"], config["PASSWORD"]) == expected


def test_explicit_urls_win(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.example:5432/x")
    monkeypatch.setenv("REDIS_URL", "redis://cache.example:6379/3")
    with embedded.services() as env:
        assert env["DATABASE_URL"] == "postgres://u@db.example:5432/x"
        assert env["REDIS_URL"] == "redis://cache.example:6379/3"


def test_run_passes_the_urls_and_the_exit_code(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.example:5432/x")
    monkeypatch.setenv("REDIS_URL", "redis://cache.example:6379/3")
    code = "import os, sys; sys.exit(0 if os.environ['REDIS_URL'].endswith('/3') else 9)"
    assert embedded.main(["run", "--", "python3", "-c", code]) == 0
    assert embedded.main(["run", "--", "python3", "-c", "import sys; sys.exit(3)"]) == 3


# --- make demo: fast start, bounded connections, prompt stop ------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_fingerprint_follows_the_migration_files_and_the_lock(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "crm/__init__.py": "",
            "crm/deals/__init__.py": "",
            "crm/deals/migrations/0001_initial.py": "# one",
            "crm/deals/models.py": "# models",
            "requirements.lock": "django==5.2.19\n",
            "tests/__init__.py": "",
            "tests/migrations/0001_x.py": "# not the project's",
        },
    )
    first = embedded.migrations_fingerprint(root)
    assert embedded.migrations_fingerprint(root) == first
    (root / "crm/deals/models.py").write_text("# models changed")
    (root / "tests/migrations/0001_x.py").write_text("# changed")
    assert embedded.migrations_fingerprint(root) == first
    (root / "crm/deals/migrations/0002_more.py").write_text("# two")
    second = embedded.migrations_fingerprint(root)
    assert second != first
    (root / "requirements.lock").write_text("django==5.2.20\n")
    assert embedded.migrations_fingerprint(root) not in (first, second)


@pytest.fixture
def test_database_url(django_db_setup) -> Iterator[str]:
    """The test database as DATABASE_URL, without the fingerprint table before and after."""
    settings_dict = connection.settings_dict
    url = embedded.database_url(
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or None,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"],
        name=settings_dict["NAME"],
    )
    assert settings_dict["NAME"].startswith("test_")

    def drop() -> None:
        with embedded._connect(url) as conn:
            conn.execute("DROP TABLE IF EXISTS public.kontor_migrations_fingerprint")

    drop()
    yield url
    drop()


def test_migrate_is_skipped_only_while_the_stored_fingerprint_matches(test_database_url, monkeypatch) -> None:
    assert embedded.stored_fingerprint(test_database_url) is None
    embedded.store_fingerprint(test_database_url, "a" * 64)
    assert embedded.stored_fingerprint(test_database_url) == "a" * 64
    embedded.store_fingerprint(test_database_url, "b" * 64)
    assert embedded.stored_fingerprint(test_database_url) == "b" * 64
    # Unchanged files: migrate_if_changed runs nothing (a migrate would fail on this bogus settings module).
    env = {**os.environ, "DATABASE_URL": test_database_url, "DJANGO_SETTINGS_MODULE": "no.such.settings"}
    embedded.store_fingerprint(test_database_url, embedded.migrations_fingerprint())
    assert embedded.migrate_if_changed(env) is False
    with pytest.raises(subprocess.CalledProcessError):
        embedded.migrate_if_changed({**env, "KONTOR_MIGRATE": "always"})
    # Changed files: it runs migrate_schemas, and keeps the old fingerprint when that fails.
    embedded.store_fingerprint(test_database_url, "c" * 64)
    with pytest.raises(subprocess.CalledProcessError):
        embedded.migrate_if_changed(env)
    assert embedded.stored_fingerprint(test_database_url) == "c" * 64


@pytest.mark.parametrize(
    ("workers", "threads", "celery", "max_connections", "fits"),
    [(2, 4, 2, 100, True), (4, 8, 4, 100, True), (10, 10, 4, 100, False), (8, 10, 4, 100, True), (2, 4, 2, 20, False)],
)
def test_the_connection_budget(workers, threads, celery, max_connections, fits) -> None:
    assert (
        embedded.connections_needed(workers=workers, threads=threads, celery=celery) == workers * threads + celery + 1
    )
    error = embedded.connection_budget_error(
        workers=workers, threads=threads, celery=celery, max_connections=max_connections
    )
    assert (error is None) is fits
    if error:
        assert "max_connections" in error and f"{workers} x {threads}" in error


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str, host: str = "localhost") -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": f"{host}:{port}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (urllib.error.URLError, ConnectionError):
        return 0, b""  # not listening yet


def test_the_demo_web_server_serves_pages_and_static_files_and_stops_at_once(test_database_url) -> None:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": test_database_url}
    web = embedded.spawn(embedded.web_command(port, workers=1, threads=2), env)
    try:
        assert os.getsid(web.pid) == web.pid  # out of the terminal's process group: Ctrl-C is the launcher's
        deadline = time.monotonic() + 60
        while _get(port, "/")[0] != 200:
            assert web.poll() is None and time.monotonic() < deadline, "gunicorn did not answer"
            time.sleep(0.2)
        status, body = _get(port, "/static/htmx/htmx.min.js")
        assert status == 200 and b"htmx" in body
    finally:
        embedded.stop([(web, signal.SIGQUIT)], timeout=10)
    assert web.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(web.pid, 0)  # gunicorn's workers went with it


def test_stop_kills_what_ignores_its_signal(tmp_path: Path) -> None:
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", stubborn], start_new_session=True, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    embedded.stop([(child, signal.SIGTERM), (polite, signal.SIGTERM)], timeout=1)
    assert child.returncode == -signal.SIGKILL
    assert polite.returncode == -signal.SIGTERM


# --- the production server's settings (platform_core/gunicorn_conf.py, make serve) ---------------------------


def test_the_gunicorn_settings_come_from_the_environment(monkeypatch) -> None:
    import importlib

    from platform_core import gunicorn_conf

    for name, value in {
        "WEB_WORKERS": "3",
        "WEB_THREADS": "6",
        "WEB_TIMEOUT": "45",
        "WEB_MAX_REQUESTS": "1000",
        "WEB_ACCESS_LOG": "",
        "PORT": "9001",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WEB_MAX_REQUESTS_JITTER", raising=False)
    monkeypatch.delenv("WEB_BIND", raising=False)
    monkeypatch.delenv("WEB_CONTROL_SOCKET", raising=False)
    try:
        conf = importlib.reload(gunicorn_conf)
        assert (conf.workers, conf.threads, conf.timeout, conf.worker_class) == (3, 6, 45, "gthread")
        assert (conf.max_requests, conf.max_requests_jitter) == (1000, 100)
        assert conf.bind == ["0.0.0.0:9001"] and conf.accesslog is None and conf.preload_app is True
        # Its default path is one per user: another server of the same user would take it over.
        assert conf.control_socket_disable is True
    finally:
        monkeypatch.undo()
        importlib.reload(gunicorn_conf)
    assert "python:platform_core.gunicorn_conf" in embedded.web_command(8000)


def test_serve_runs_with_debug_off_unless_told_otherwise() -> None:
    assert embedded.serve_environment({"DATABASE_URL": "x"})["DEBUG"] == "false"
    assert embedded.serve_environment({"DEBUG": "true"})["DEBUG"] == "true"

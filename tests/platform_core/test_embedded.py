"""The launcher that finds or starts PostgreSQL and Redis for make demo / make test."""

from __future__ import annotations

import environ
import pytest

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

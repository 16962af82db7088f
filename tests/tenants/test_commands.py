"""Operator commands: create_workspace and setup_platform."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tenants.utils import schema_context

from platform_core.embedded import database_url
from tenants.accounts.models import User
from tenants.models import Domain, Tenant
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_create_workspace() -> None:
    out = StringIO()
    call_command(
        "create_workspace",
        "--subdomain",
        "Acme",
        "--company",
        "Acme LLC",
        "--owner-email",
        "A@Acme.test",
        "--owner-password",
        PASSWORD,
        stdout=out,
    )
    assert "acme.localhost" in out.getvalue()
    tenant = Tenant.objects.get(schema_name="ws_acme")
    assert tenant.name == "Acme LLC"
    with schema_context(tenant.schema_name):
        assert User.objects.get().email == "a@acme.test"


def test_create_workspace_with_its_language_currency_and_time_zone() -> None:
    args = ["--subdomain", "lyon", "--company", "Lyon SARL", "--owner-email", "a@lyon.test"]
    call_command("create_workspace", *args, "--owner-password", PASSWORD, "--language", "fr", stdout=StringIO())
    tenant = Tenant.objects.get(schema_name="ws_lyon")
    assert (tenant.language, tenant.currency, tenant.time_zone) == ("fr", "EUR", "Europe/Paris")
    with pytest.raises(CommandError) as exc:
        call_command(
            "create_workspace",
            *[a.replace("lyon", "nice") for a in args],
            "--owner-password",
            PASSWORD,
            "--currency",
            "ZZZ",
        )
    assert str(exc.value).startswith("--currency: ")
    assert not Tenant.objects.filter(schema_name="ws_nice").exists()


def test_create_workspace_bad_input_gives_one_line_and_changes_nothing() -> None:
    before = (Tenant.objects.count(), Domain.objects.count())
    with pytest.raises(CommandError) as exc:
        call_command(
            "create_workspace",
            "--subdomain",
            "a",
            "--company",
            "X",
            "--owner-email",
            "a@x.test",
            "--owner-password",
            PASSWORD,
        )
    assert str(exc.value) == "--subdomain: Use 3 to 30 characters."
    assert (Tenant.objects.count(), Domain.objects.count()) == before


def test_create_workspace_exits_1_with_a_one_line_reason(django_db_setup) -> None:
    from django.db import connection

    env = {**os.environ, "DATABASE_URL": _url_of(connection.settings_dict)}
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "create_workspace",
            "--subdomain",
            "www",
            "--company",
            "X",
            "--owner-email",
            "x@x.test",
            "--owner-password",
            PASSWORD,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "CommandError: --subdomain: This address is reserved. Please choose another."


def test_create_workspace_requires_every_argument() -> None:
    with pytest.raises(CommandError):
        call_command("create_workspace", "--subdomain", "acme")


def test_setup_platform_is_idempotent() -> None:
    out = StringIO()
    call_command("setup_platform", stdout=out)
    call_command("setup_platform", stdout=out)
    assert Tenant.objects.filter(kind=Tenant.Kind.PUBLIC).count() == 1
    assert Tenant.objects.filter(kind=Tenant.Kind.TEMPLATE).count() == 1


def _url_of(db: dict) -> str:
    return database_url(host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], name=db["NAME"])

"""Provisioning: pool, script and migrate paths, rollback on failure, pool refill, migrations of pooled schemas."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, connection
from django_tenants.signals import schema_migrated
from django_tenants.utils import schema_context, schema_exists

from tenants import services
from tenants.accounts.models import User
from tenants.fleet.state import migration_fingerprint, schema_applied
from tenants.models import Domain, SchemaScript, Tenant
from tenants.services import ProvisioningMethod, schema_pool_refill, workspace_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

SIGNUP = {
    "company_name": "Acme LLC",
    "subdomain": "acme",
    "owner_email": "  Anna.Petrova@Acme.TEST ",
    "owner_password": PASSWORD,
    "owner_name": "Anna Petrova",
}


def pooled_count() -> int:
    return Tenant.objects.filter(kind=Tenant.Kind.POOLED).count()


def test_signup_takes_a_pooled_schema_and_creates_the_owner() -> None:
    pooled_before = set(Tenant.objects.filter(kind=Tenant.Kind.POOLED).values_list("pk", flat=True))
    assert len(pooled_before) == settings.SCHEMA_POOL_SIZE

    created = workspace_create(**SIGNUP)

    assert created.method == ProvisioningMethod.POOL
    assert created.tenant.pk in pooled_before  # the pooled row itself became the workspace
    tenant = Tenant.objects.get(pk=created.tenant.pk)
    assert (tenant.schema_name, tenant.kind, tenant.name) == ("ws_acme", Tenant.Kind.WORKSPACE, "Acme LLC")
    assert tenant.activated_at is not None
    assert Domain.objects.get(tenant=tenant).domain == f"acme.{settings.BASE_DOMAIN}"
    assert schema_exists("ws_acme")
    assert pooled_count() == settings.SCHEMA_POOL_SIZE - 1
    with schema_context("ws_acme"):
        owner = User.objects.get()
        assert owner.email == "anna.petrova@acme.test"
        assert owner.role.builtin == "admin" and owner.check_password(PASSWORD)


def test_refill_is_queued_after_commit_only(django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        workspace_create(**SIGNUP)
    # (The host -> tenant cache is invalidated after commit too.)
    assert [cb.__name__ for cb in callbacks].count("_queue_pool_refill") == 1


def empty_the_pool() -> None:
    for tenant in Tenant.objects.filter(kind=Tenant.Kind.POOLED):
        tenant.delete(force_drop=True)


def test_empty_pool_falls_back_to_the_schema_script() -> None:
    empty_the_pool()
    template_state = migration_fingerprint(schema_applied(settings.SCHEMA_TEMPLATE_NAME))

    created = workspace_create(**SIGNUP)

    assert created.method == ProvisioningMethod.SCRIPT
    assert Tenant.objects.get(schema_name="ws_acme").migration_state == template_state
    # The script carries the migration history, so a migration treats the schema as up to date.
    assert schema_applied("ws_acme") == schema_applied(settings.SCHEMA_TEMPLATE_NAME)
    with schema_context("ws_acme"):
        assert User.objects.get().email == "anna.petrova@acme.test"


def test_no_script_for_the_template_falls_back_to_migrating() -> None:
    empty_the_pool()
    SchemaScript.objects.all().delete()

    created = workspace_create(**SIGNUP)

    assert created.method == ProvisioningMethod.MIGRATE
    assert Tenant.objects.get(schema_name="ws_acme").migration_state == migration_fingerprint(schema_applied("ws_acme"))
    with schema_context("ws_acme"):
        assert User.objects.get().email == "anna.petrova@acme.test"


def test_no_pool_and_no_template_falls_back_to_migrating() -> None:
    for tenant in Tenant.objects.filter(kind__in=[Tenant.Kind.POOLED, Tenant.Kind.TEMPLATE]):
        tenant.delete(force_drop=True)

    created = workspace_create(**SIGNUP)

    assert created.method == ProvisioningMethod.MIGRATE
    with schema_context("ws_acme"):
        assert User.objects.get().email == "anna.petrova@acme.test"


def test_a_signup_never_refills_the_pool_itself(django_capture_on_commit_callbacks) -> None:
    empty_the_pool()
    with django_capture_on_commit_callbacks(execute=False):
        workspace_create(**SIGNUP)
        workspace_create(**{**SIGNUP, "subdomain": "bravo", "owner_email": "b@bravo.test"})
    assert pooled_count() == 0  # until the queued task runs in the worker


@pytest.mark.parametrize("method", list(ProvisioningMethod))
def test_failure_after_the_schema_step_leaves_nothing_behind(monkeypatch, method: ProvisioningMethod) -> None:
    pooled_before = sorted(Tenant.objects.filter(kind=Tenant.Kind.POOLED).values_list("schema_name", flat=True))
    tenants_before = Tenant.objects.count()

    def broken_owner(**kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(services, "user_create", broken_owner)
    with pytest.raises(DatabaseError):
        workspace_create(**SIGNUP, method=method)

    assert not Tenant.objects.filter(schema_name="ws_acme").exists()
    assert not Domain.objects.filter(domain__startswith="acme.").exists()
    assert not schema_exists("ws_acme")
    assert Tenant.objects.count() == tenants_before
    # The pooled schema that was about to be renamed is back in the pool, under its old name.
    after = sorted(Tenant.objects.filter(kind=Tenant.Kind.POOLED).values_list("schema_name", flat=True))
    assert after == pooled_before
    assert all(schema_exists(name) for name in after)


def test_losing_a_race_for_the_address_is_a_field_error(monkeypatch) -> None:
    # Both signups passed validation; the second one's domain insert hits the unique constraint.
    monkeypatch.setattr(services, "subdomain_errors", lambda subdomain: [])
    workspace_create(**SIGNUP)
    with pytest.raises(ValidationError) as exc:
        workspace_create(**{**SIGNUP, "owner_email": "b@acme.test"})
    assert exc.value.message_dict == {"subdomain": ["This address is already taken."]}
    assert Tenant.objects.filter(kind=Tenant.Kind.WORKSPACE).count() == 1


def test_losing_a_race_for_the_schema_name_on_an_empty_pool_is_a_field_error(monkeypatch) -> None:
    # Another signup created the schema after this one's checks: the script's CREATE SCHEMA refuses the name.
    empty_the_pool()
    monkeypatch.setattr(services, "subdomain_errors", lambda subdomain: [])
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA ws_acme")
    tenants_before = Tenant.objects.count()

    with pytest.raises(ValidationError) as exc:
        workspace_create(**SIGNUP)

    assert exc.value.message_dict == {"subdomain": ["This address is already taken."]}
    assert Tenant.objects.count() == tenants_before
    assert not Domain.objects.filter(domain__startswith="acme.").exists()


def test_bad_input_is_refused_with_field_errors_and_changes_nothing() -> None:
    before = (Tenant.objects.count(), Domain.objects.count(), pooled_count())
    with pytest.raises(ValidationError) as exc:
        workspace_create(
            company_name=" ",
            subdomain="www",
            owner_email="not-an-email",
            owner_password="12345",
            owner_name="",
        )
    errors = exc.value.message_dict
    assert set(errors) == {"company_name", "subdomain", "owner_email", "owner_password"}
    assert "This password is too short. It must contain at least 10 characters." in errors["owner_password"]
    assert (Tenant.objects.count(), Domain.objects.count(), pooled_count()) == before


def test_password_similar_to_the_email_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        workspace_create(
            **{**SIGNUP, "owner_email": "grandmother.bakery@x.test", "owner_password": "grandmother.bakery"}
        )
    assert "owner_password" in exc.value.message_dict


def test_pool_refill_tops_up_to_the_configured_size_and_is_idempotent() -> None:
    workspace_create(**SIGNUP)
    workspace_create(**{**SIGNUP, "subdomain": "bravo", "owner_email": "b@bravo.test"})
    assert pooled_count() == settings.SCHEMA_POOL_SIZE - 2

    assert schema_pool_refill() == 2
    assert pooled_count() == settings.SCHEMA_POOL_SIZE
    assert schema_pool_refill() == 0
    template_state = migration_fingerprint(schema_applied(settings.SCHEMA_TEMPLATE_NAME))
    for tenant in Tenant.objects.filter(kind=Tenant.Kind.POOLED):
        assert schema_exists(tenant.schema_name)
        assert not Domain.objects.filter(tenant=tenant).exists()  # pooled schemas are never routable
        assert tenant.migration_state == template_state == migration_fingerprint(schema_applied(tenant.schema_name))


def test_pool_refill_replaces_pooled_schemas_of_unknown_state() -> None:
    # A pooled schema made before schema scripts (by a clone) has no recorded state and is not identical to a
    # migrated one.
    legacy = Tenant.objects.filter(kind=Tenant.Kind.POOLED).first()
    Tenant.objects.filter(pk=legacy.pk).update(migration_state="")

    assert schema_pool_refill() == 1

    assert not Tenant.objects.filter(pk=legacy.pk).exists()
    assert not schema_exists(legacy.schema_name)
    assert pooled_count() == settings.SCHEMA_POOL_SIZE
    assert not Tenant.objects.filter(kind=Tenant.Kind.POOLED, migration_state="").exists()


def test_pool_refill_creates_the_template_when_it_is_missing() -> None:
    Tenant.objects.get(kind=Tenant.Kind.TEMPLATE).delete(force_drop=True)
    for tenant in Tenant.objects.filter(kind=Tenant.Kind.POOLED):
        tenant.delete(force_drop=True)

    assert schema_pool_refill(size=2) == 2

    assert schema_exists(settings.SCHEMA_TEMPLATE_NAME)
    assert pooled_count() == 2
    # The new template was migrated (no script could be made from a template that did not exist), and the
    # pooled schemas were replayed from the script of its state, recorded on every row.
    template = Tenant.objects.get(kind=Tenant.Kind.TEMPLATE)
    assert template.migration_state == migration_fingerprint(schema_applied(template.schema_name))
    states = set(Tenant.objects.filter(kind=Tenant.Kind.POOLED).values_list("migration_state", flat=True))
    assert states == {template.migration_state}


def test_concurrent_refill_backs_off_while_another_holds_the_lock() -> None:
    from django.db import connections

    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [services._POOL_LOCK_KEY])
        Tenant.objects.filter(kind=Tenant.Kind.POOLED).first().delete(force_drop=True)
        assert schema_pool_refill() == 0
    finally:
        other.close()


def test_migrate_schemas_migrates_pooled_and_template_schemas() -> None:
    migrated: list[str] = []

    def record(sender, schema_name, **kwargs):
        migrated.append(schema_name)

    schema_migrated.connect(record)
    try:
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
    finally:
        schema_migrated.disconnect(record)
    expected = set(
        Tenant.objects.filter(kind__in=[Tenant.Kind.POOLED, Tenant.Kind.TEMPLATE]).values_list("schema_name", flat=True)
    )
    assert expected and expected <= set(migrated)


def test_deleting_a_workspace_drops_its_schema() -> None:
    created = workspace_create(**SIGNUP)
    services.workspace_delete(tenant=created.tenant)
    assert not schema_exists("ws_acme")
    assert not Domain.objects.filter(domain__startswith="acme.").exists()

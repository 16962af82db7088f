"""Provisioning: create a workspace in one transaction, from a pooled schema when one is ready.

Three ways to get a schema, fastest first:
  pool    - rename a pre-migrated empty schema (`ALTER SCHEMA ... RENAME`), a few milliseconds;
  script  - replay the DDL script made from the migrated template (tenants/fleet/script.py): a fraction of a
            second, the same however many schemas exist;
  migrate - create an empty schema and run every tenant migration: only when no script matches the template's
            migration state (first boot, or a migration the script has not followed yet).
The pool is refilled by a Celery task only (queued after a signup commits, and by beat), never in a request.
Pooled and template schemas are Tenant rows of their own kind, so a fleet migration migrates them like any
workspace and neither is ever stale. Every schema made here records its migration state in
Tenant.migration_state. PostgreSQL DDL is transactional: a failure anywhere rolls back the tenant row, the
domain and the schema together.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from dataclasses import dataclass
from enum import StrEnum

import psycopg
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context, schema_exists, tenant_context

from tenants.accounts.models import User
from tenants.accounts.roles import ADMIN, roles_ensure_builtin
from tenants.accounts.services import user_create
from tenants.context import use_public_schema
from tenants.fleet.script import (
    SchemaScriptError,
    SchemaScriptMissing,
    schema_create_from_script,
    schema_script_refresh,
)
from tenants.fleet.state import migration_fingerprint, schema_applied
from tenants.initialisers import workspace_initialise
from tenants.locale import defaults_for_language, time_zone_names, validate_currency, validate_language
from tenants.models import Domain, Tenant
from tenants.validators import normalize_subdomain, schema_name_for, validate_subdomain_format

logger = logging.getLogger(__name__)

# Serializes pool refills across workers and beat (a PostgreSQL advisory lock key).
_POOL_LOCK_KEY = 0x6B6F6E746F72


class ProvisioningMethod(StrEnum):
    POOL = "pool"
    SCRIPT = "script"
    MIGRATE = "migrate"


@dataclass(frozen=True)
class ProvisionedWorkspace:
    tenant: Tenant
    domain: Domain
    owner: User
    method: ProvisioningMethod


def workspace_domain_for(subdomain: str) -> str:
    return f"{subdomain}.{settings.BASE_DOMAIN}"


def subdomain_errors(subdomain: str) -> list[str]:
    """Every reason `subdomain` (already normalized) cannot be used, as user-facing messages."""
    try:
        validate_subdomain_format(subdomain)
    except ValidationError as exc:
        return list(exc.messages)
    # The format allows lowercase only and every stored domain and schema name is lowercase, so exact lookups
    # suffice: they use the unique indexes, where case-insensitive ones scanned the tables (10,000s of rows).
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        taken = (
            Domain.objects.filter(domain=workspace_domain_for(subdomain)).exists()
            or Tenant.objects.filter(schema_name=schema_name_for(subdomain)).exists()
            or schema_exists(schema_name_for(subdomain))
        )
    return [_("This address is already taken.")] if taken else []


def _signup_errors(
    *, company_name: str, subdomain: str, owner_email: str, owner_password: str, owner_name: str
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not company_name.strip():
        errors["company_name"] = [_("Enter your company's name.")]
    elif len(company_name) > 200:
        errors["company_name"] = [_("Use at most 200 characters.")]
    if sub_errors := subdomain_errors(subdomain):
        errors["subdomain"] = sub_errors
    owner = User(email=owner_email, full_name=owner_name)
    try:
        owner.clean_fields(exclude=["password", "last_login", "date_joined"])
    except ValidationError as exc:
        errors.update({("owner_" + k if k != "full_name" else "owner_name"): v for k, v in exc.message_dict.items()})
    try:
        validate_password(owner_password, user=owner)
    except ValidationError as exc:
        errors["owner_password"] = list(exc.messages)
    return errors


def _workspace_locale(*, language: str, currency: str, time_zone: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The new workspace's language, currency and time zone: as chosen, else guessed from the language. A time
    zone the browser reported that we do not know falls back to the language's (the visitor never saw it)."""
    errors: dict[str, list[str]] = {}
    try:
        validate_language(language)
    except ValidationError as exc:
        errors["language"] = list(exc.messages)
        language = "en"
    default_currency, default_zone = defaults_for_language(language)
    currency = (currency or default_currency).strip().upper()
    try:
        validate_currency(currency)
    except ValidationError as exc:
        errors["currency"] = list(exc.messages)
    if time_zone not in time_zone_names():
        time_zone = default_zone
    return {"language": language, "currency": currency, "time_zone": time_zone}, errors


def workspace_create(
    *,
    company_name: str,
    subdomain: str,
    owner_email: str,
    owner_password: str,
    owner_name: str = "",
    language: str = "en",
    currency: str = "",
    time_zone: str = "",
    method: ProvisioningMethod | None = None,
) -> ProvisionedWorkspace:
    """Create a workspace and its administrator, or raise ValidationError and leave nothing behind.

    `method` forces a way to get the schema (benchmarks, tests); by default the fastest one available.
    """
    subdomain = normalize_subdomain(subdomain)
    owner_email = owner_email.strip().lower()
    company_name = company_name.strip()
    errors = _signup_errors(
        company_name=company_name,
        subdomain=subdomain,
        owner_email=owner_email,
        owner_password=owner_password,
        owner_name=owner_name.strip(),
    )
    locale_defaults, locale_errors = _workspace_locale(language=language, currency=currency, time_zone=time_zone)
    errors.update(locale_errors)
    if errors:
        raise ValidationError(errors)

    schema_name = schema_name_for(subdomain)
    try:
        with transaction.atomic(), schema_context(settings.PUBLIC_SCHEMA_NAME):
            tenant, used = _schema_claim(schema_name=schema_name, company_name=company_name, method=method)
            for name, value in locale_defaults.items():
                setattr(tenant, name, value)
            tenant.save(update_fields=list(locale_defaults))
            domain = Domain.objects.create(domain=workspace_domain_for(subdomain), tenant=tenant, is_primary=True)
            with tenant_context(tenant):
                owner = user_create(
                    email=owner_email,
                    password=owner_password,
                    full_name=owner_name.strip(),
                    role=roles_ensure_builtin()[ADMIN],
                )
                # What the apps set up in a new workspace (the first pipeline...) is named in its language.
                with translation.override(tenant.language):
                    workspace_initialise()
            transaction.on_commit(_queue_pool_refill)
    except (IntegrityError, ProgrammingError) as exc:
        if isinstance(exc, ProgrammingError) and not isinstance(exc.__cause__, psycopg.errors.DuplicateSchema):
            raise
        # Two signups raced for the same address: the loser gets the same answer as a taken name.
        logger.info("workspace_create lost a race for %s: %s", subdomain, exc)
        raise ValidationError({"subdomain": [_("This address is already taken.")]}) from exc
    logger.info("workspace %s created by %s in schema %s", subdomain, used, schema_name)
    return ProvisionedWorkspace(tenant=tenant, domain=domain, owner=owner, method=used)


def _queue_pool_refill() -> None:
    from tenants.tasks import refill_schema_pool

    try:
        refill_schema_pool.delay()
    except Exception:  # the broker being down must not fail a signup that has committed
        logger.exception("could not queue the schema pool refill")


def _schema_claim(
    *, schema_name: str, company_name: str, method: ProvisioningMethod | None
) -> tuple[Tenant, ProvisioningMethod]:
    now = timezone.now()
    if method in (None, ProvisioningMethod.POOL):
        pooled = (
            Tenant.objects.select_for_update(skip_locked=True)
            .filter(kind=Tenant.Kind.POOLED)
            .order_by("created_at")
            .first()
        )
        if pooled is not None:
            _rename_schema(pooled.schema_name, schema_name)
            pooled.schema_name = schema_name
            pooled.name = company_name
            pooled.kind = Tenant.Kind.WORKSPACE
            pooled.activated_at = now
            pooled.save(update_fields=["schema_name", "name", "kind", "activated_at"])
            return pooled, ProvisioningMethod.POOL
        if method is ProvisioningMethod.POOL:
            raise RuntimeError("the schema pool is empty")
    tenant = Tenant(schema_name=schema_name, name=company_name, kind=Tenant.Kind.WORKSPACE, activated_at=now)
    tenant.save()
    used = _schema_build(tenant, method=method)
    return tenant, used


def _rename_schema(old: str, new: str) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SCHEMA {quote(old)} RENAME TO {quote(new)}")


def _schema_build(tenant: Tenant, *, method: ProvisioningMethod | None) -> ProvisioningMethod:
    """Create `tenant`'s schema with every tenant table, from the schema script, else by migrating it (only when
    no script matches the template: first boot); record its migration state. A name that is taken raises the
    database's DuplicateSchema (as a ProgrammingError), as when a concurrent transaction took it first."""
    used = ProvisioningMethod.MIGRATE
    if method in (None, ProvisioningMethod.SCRIPT):
        try:
            tenant.migration_state = schema_create_from_script(tenant.schema_name)
            used = ProvisioningMethod.SCRIPT
        except SchemaScriptMissing:
            if method is ProvisioningMethod.SCRIPT:
                raise
            # The refill task queued after this signup commits makes the script (schema_script_refresh).
            logger.warning("no schema script matches the template: migrating schema %s", tenant.schema_name)
    if used is ProvisioningMethod.MIGRATE:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {connection.ops.quote_name(tenant.schema_name)}")
        call_command("migrate_schemas", tenant=True, schema_name=tenant.schema_name, interactive=False, verbosity=0)
        use_public_schema()
        tenant.migration_state = migration_fingerprint(schema_applied(tenant.schema_name))
    tenant.save(update_fields=["migration_state"])
    return used


def _template_ready(template: str) -> bool:
    return Tenant.objects.filter(schema_name=template, kind=Tenant.Kind.TEMPLATE).exists() and schema_exists(template)


@transaction.atomic
def schema_template_ensure() -> bool:
    """Create the template (by migrating it: the script is made from it) if it is missing. Returns whether it was
    created."""
    template = settings.SCHEMA_TEMPLATE_NAME
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        if _template_ready(template):
            return False
        Tenant.objects.filter(schema_name=template).delete()
        tenant = Tenant(schema_name=template, name="", kind=Tenant.Kind.TEMPLATE)
        tenant.save()
        _schema_build(tenant, method=ProvisioningMethod.MIGRATE)
        return True


def schema_script_ensure() -> None:
    """The template and the script of its migration state. A script that cannot be made (pg_dump missing) is
    logged, not raised: schemas are then migrated, slowly but correctly; setup_platform reports the reason."""
    schema_template_ensure()
    try:
        schema_script_refresh()
    except SchemaScriptError:
        logger.exception("the schema script cannot be made: new schemas are migrated instead")


def schema_pool_refill(*, size: int | None = None) -> int:
    """Top the pool up to `size` (default SCHEMA_POOL_SIZE) ready schemas, each replayed from the schema script in
    a transaction of its own. Returns how many it added. Runs in the Celery worker (tenants.tasks), in commands
    and tests; never in a request (a signup only queues it, after commit).

    Safe to run concurrently and twice: an advisory lock lets one refill run at a time, the others return.
    """
    target = settings.SCHEMA_POOL_SIZE if size is None else size
    with schema_context(settings.PUBLIC_SCHEMA_NAME), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_POOL_LOCK_KEY])
        if not cursor.fetchone()[0]:
            return 0
        try:
            schema_script_ensure()
            _pool_drop_unrecorded()
            added = 0
            while Tenant.objects.filter(kind=Tenant.Kind.POOLED).count() < target:
                with transaction.atomic():
                    pooled = Tenant(schema_name=f"pool_{secrets.token_hex(6)}", name="", kind=Tenant.Kind.POOLED)
                    pooled.save()
                    _schema_build(pooled, method=None)
                added += 1
            return added
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_POOL_LOCK_KEY])


def _pool_drop_unrecorded() -> None:
    """Drop pooled schemas with no recorded migration state: made before schema scripts (by django-tenants'
    clone_schema, which renames unique constraints and turns bigint sequences into integer ones), they are not
    identical to a migrated schema. The refill replaces them from the script."""
    for pk in Tenant.objects.filter(kind=Tenant.Kind.POOLED, migration_state="").values_list("pk", flat=True):
        with transaction.atomic():
            # A signup claiming this schema right now holds its row: leave it to the signup.
            pooled = Tenant.objects.select_for_update(skip_locked=True).filter(pk=pk, kind=Tenant.Kind.POOLED).first()
            if pooled is not None and not pooled.migration_state:
                pooled.delete(force_drop=True)


@transaction.atomic
def public_tenant_ensure() -> Tenant:
    """The public schema's tenant row and the public site's domain (BASE_DOMAIN)."""
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        tenant, _created = Tenant.objects.get_or_create(
            schema_name=settings.PUBLIC_SCHEMA_NAME, defaults={"name": "Kontor", "kind": Tenant.Kind.PUBLIC}
        )
        Domain.objects.get_or_create(domain=settings.BASE_DOMAIN, defaults={"tenant": tenant, "is_primary": True})
        return tenant


def workspace_access_set(
    *, tenant: Tenant, read_only: bool, notice: str | None = None, until: datetime.datetime | None = None
) -> bool:
    """Open or close a workspace to changes (tenants.access) and set what its banner is about (`notice`, None:
    left as it is); the layer that bills it decides. A save, not an update, so the routing cache hears of it
    and every worker sees the new state at once. Returns whether anything changed."""
    fields: dict[str, object] = {"read_only": read_only}
    if notice is not None:
        fields.update(billing_state=notice, billing_until=until)
    if all(getattr(tenant, name) == value for name, value in fields.items()):
        return False
    for name, value in fields.items():
        setattr(tenant, name, value)
    tenant.save(update_fields=list(fields))
    return True


def workspace_delete(*, tenant: Tenant) -> None:
    """Drop a workspace: its schema, domains and tenant row, atomically."""
    if tenant.kind == Tenant.Kind.PUBLIC:
        raise ValueError("the public tenant cannot be deleted")
    with transaction.atomic(), schema_context(settings.PUBLIC_SCHEMA_NAME):
        with connection.cursor() as cursor:
            # Deferred foreign-key checks of rows written earlier in this transaction must run before the
            # tables they concern are dropped.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        tenant.delete(force_drop=True)

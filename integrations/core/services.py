"""Writes on connections and their exchange log. Each connection's identity is a user of kind integration; the
kinds act in the CRM as that user through the CRM's own services."""

from __future__ import annotations

import datetime
import random
import secrets as token_source
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings as conf
from django.core.exceptions import ValidationError
from django.db import connection as db
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.core import directory, registry
from integrations.core.inbound import token_hash
from integrations.core.models import Connection, Exchange
from integrations.core.secrets import seal, unseal
from tenants.access import workspace_write
from tenants.accounts import policy
from tenants.accounts.audit import audit_record
from tenants.accounts.models import AuditEvent, Role, User
from tenants.accounts.services import integration_identity_create

PROBLEMS_CAP = 200
PRUNE_EVERY = 500


def require_manager(actor: User) -> None:
    """The right to manage integrations (403): for the core's services and each kind's own."""
    policy.require_permission(actor, policy.WorkspacePermission.MANAGE_INTEGRATIONS)


def _workspace_uid() -> str:
    return str(db.tenant.uid)  # type: ignore[attr-defined]


def connection_secrets(conn: Connection) -> dict[str, str]:
    """The connection's credentials in clear, for the call that needs them (never for a page)."""
    return unseal(conn.secrets_sealed, workspace_uid=_workspace_uid(), connection_uid=str(conn.uid))


def _seal(conn: Connection, values: Mapping[str, str]) -> None:
    kept = {k: v for k, v in values.items() if v}
    conn.secrets_sealed = seal(kept, workspace_uid=_workspace_uid(), connection_uid=str(conn.uid))
    conn.secret_names = sorted(kept)


def _new_token(conn: Connection) -> str:
    token = token_source.token_urlsafe(32)
    conn.token_hash, conn.token_hint = token_hash(token), token[-6:]
    return token


@dataclass(frozen=True)
class CreatedConnection:
    connection: Connection
    # The inbound URL's secret, shown once (None for kinds that take no inbound calls).
    token: str | None


def _kind(key: str) -> registry.ConnectionKind:
    kind = registry.kind_get(key)
    if kind is None:
        raise ValidationError({"kind": _("Unknown kind of connection.")})
    return kind


@workspace_write
def connection_create(
    *,
    actor: User,
    kind: str,
    name: str,
    settings: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    role: Role | None = None,
) -> CreatedConnection:
    """Connect a system: its settings, sealed credentials, its identity in the CRM and (for kinds that take
    calls in) the secret of its inbound URL, returned once."""
    require_manager(actor)
    spec = _kind(kind)
    name = name.strip()
    conn = Connection(kind=spec.key, name=name, settings=dict(settings or {}), created_by=actor)
    conn.identity = integration_identity_create(name=name or spec.key, role=role)
    _seal(conn, {k: v for k, v in (secrets or {}).items() if k in spec.secret_fields})
    token = _new_token(conn) if spec.inbound else None
    conn.full_clean(exclude=["identity", "token_hash"])
    conn.save()
    if spec.on_create is not None:
        spec.on_create(conn)
    directory.note(conn)
    audit_record(
        actor=actor, action=AuditEvent.Action.INTEGRATION_CREATED, target=conn, details={"what": str(spec.label)}
    )
    return CreatedConnection(connection=conn, token=token)


@workspace_write
def connection_update(
    *,
    actor: User,
    connection: Connection,
    name: str,
    settings: Mapping[str, Any],
    secrets: Mapping[str, str] | None = None,
) -> Connection:
    """Change the settings; a credential given replaces the stored one, one left out is kept."""
    require_manager(actor)
    conn = Connection.objects.select_for_update().get(pk=connection.pk)
    spec = _kind(conn.kind)
    changed = sorted(
        {k for k in set(conn.settings) | set(settings) if conn.settings.get(k) != settings.get(k)}
        | ({"name"} if conn.name != name.strip() else set())
    )
    given = {k: v for k, v in (secrets or {}).items() if k in spec.secret_fields and v}
    if given:
        _seal(conn, {**connection_secrets(conn), **given})
        changed += [f"secret:{k}" for k in sorted(given)]
    conn.name, conn.settings, conn.updated_at = name.strip(), dict(settings), timezone.now()
    conn.full_clean(exclude=["identity", "token_hash"])
    conn.save(update_fields=["name", "settings", "secrets_sealed", "secret_names", "updated_at"])
    if conn.identity.full_name != conn.name[:150]:
        conn.identity.full_name = conn.name[:150]
        conn.identity.save(update_fields=["full_name"])
    audit_record(actor=actor, action=AuditEvent.Action.INTEGRATION_CHANGED, target=conn, details={"what": changed})
    return conn


@workspace_write
def connection_token_rotate(*, actor: User, connection: Connection) -> str:
    """A new inbound secret; the old URL stops working at once."""
    require_manager(actor)
    conn = Connection.objects.select_for_update().get(pk=connection.pk)
    if not _kind(conn.kind).inbound:
        raise ValidationError(_("This connection takes no inbound calls."))
    token = _new_token(conn)
    conn.updated_at = timezone.now()
    conn.save(update_fields=["token_hash", "token_hint", "updated_at"])
    audit_record(
        actor=actor, action=AuditEvent.Action.INTEGRATION_CHANGED, target=conn, details={"what": ["inbound URL"]}
    )
    return token


@workspace_write
def connection_set_active(*, actor: User | None, connection: Connection, active: bool, reason: str = "") -> Connection:
    """Turn a connection on or off. `actor` None: Kontor itself (a receiver that kept failing), with `reason`."""
    if actor is not None:
        require_manager(actor)
    conn = Connection.objects.select_for_update().get(pk=connection.pk)
    if conn.is_active == active:
        return conn
    conn.is_active, conn.disabled_reason, conn.updated_at = active, "" if active else reason[:255], timezone.now()
    conn.save(update_fields=["is_active", "disabled_reason", "updated_at"])
    directory.note(conn)
    audit_record(
        actor=actor,
        actor_label="kontor" if actor is None else "",
        action=AuditEvent.Action.INTEGRATION_CHANGED,
        target=conn,
        details={"what": ["on" if active else "off"], **({"reason": reason} if reason else {})},
    )
    return conn


@workspace_write
def connection_delete(*, actor: User, connection: Connection) -> None:
    """Remove the connection and its log; its identity stays (deactivated) as the actor of what it did."""
    require_manager(actor)
    conn = Connection.objects.select_for_update().get(pk=connection.pk)
    identity = conn.identity
    audit_record(actor=actor, action=AuditEvent.Action.INTEGRATION_DELETED, target=conn)
    directory.note(conn, removed=True)
    conn.delete()
    identity.is_active = False
    identity.save(update_fields=["is_active"])


# --- the exchange log ----------------------------------------------------------------------------------------


def exchange_open(
    conn: Connection,
    *,
    direction: str,
    operation: str,
    request: Mapping[str, Any] | None = None,
    replay: Mapping[str, Any] | None = None,
    retry_of: Exchange | None = None,
    key: str | None = None,
) -> Exchange:
    """An entry for work that is starting (a run, a call being handled); `exchange_close` ends it."""
    exchanges_prune_sometimes(conn)
    return Exchange.objects.create(
        connection=conn,
        direction=direction,
        operation=operation,
        request=dict(request or {}),
        replay=dict(replay) if replay is not None else None,
        retry_of=retry_of,
        key=key,
    )


def exchange_close(
    entry: Exchange,
    *,
    status: str,
    counts: Mapping[str, int] | None = None,
    error: str = "",
    problems: list[dict[str, Any]] | None = None,
    response: Mapping[str, Any] | None = None,
) -> Exchange:
    entry.status = status
    entry.counts = dict(counts or {})
    entry.error = error[:4000]
    entry.problems = (problems or [])[:PROBLEMS_CAP]
    if response is not None:
        entry.response = dict(response)
    entry.attempts = max(entry.attempts, 1)
    entry.finished_at = timezone.now()
    entry.save(update_fields=["status", "counts", "error", "problems", "response", "attempts", "finished_at"])
    return entry


def exchange_retry(*, actor: User, exchange: Exchange) -> Exchange:
    """Run a failed exchange again from the log (by its operation's handler); the old entry is marked retried.
    Not atomic as a whole: the handler may call out, and writes what it did in its own transactions."""
    require_manager(actor)
    handler = registry.retry_handler(exchange.operation)
    if handler is None or not exchange.retryable:
        raise ValidationError(_("This exchange cannot be retried."))
    if not exchange.connection.is_active:
        raise ValidationError(_("Turn the connection on before retrying."))
    with transaction.atomic():
        locked = Exchange.objects.select_for_update().get(pk=exchange.pk)
        if not locked.retryable:
            raise ValidationError(_("This exchange cannot be retried."))
        locked.status = Exchange.Status.RETRIED
        locked.save(update_fields=["status"])
    try:
        return handler(locked, actor)
    except Exception:
        Exchange.objects.filter(pk=locked.pk).update(status=exchange.status)
        raise


def exchanges_prune(conn: Connection, *, before: datetime.datetime) -> int:
    """Drop the connection's log entries started before `before`."""
    deleted, _rows = Exchange.objects.filter(connection=conn, started_at__lt=before).delete()
    return deleted


def exchanges_prune_sometimes(conn: Connection) -> None:
    """Keep INTEGRATIONS_LOG_DAYS of log: pruned by the connections that write (one write in PRUNE_EVERY), so
    the cost follows the traffic, never the number of workspaces as a sweep over all of them would."""
    if random.randrange(PRUNE_EVERY) == 0:  # noqa: S311 - sampling, not a secret
        exchanges_prune(conn, before=timezone.now() - datetime.timedelta(days=conf.INTEGRATIONS_LOG_DAYS))

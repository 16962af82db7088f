"""The kinds of connection and what runs a failed exchange again: each kind's app registers itself in its
AppConfig.ready(), so the core never imports a kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django import forms

    from integrations.core.models import Connection, Exchange
    from tenants.accounts.models import User


@dataclass(frozen=True)
class Page:
    """A page of the kind's own about one connection (a form's fields, the calls, the 1C setup)."""

    label: Any
    url_name: str  # reversed with the connection's pk as `connection`


@dataclass(frozen=True)
class ConnectionKind:
    key: str
    label: Any  # lazy text
    description: Any
    # The form of the kind's settings; fields named in `secret_fields` are sealed, never shown again, and left
    # blank on an edit to keep the stored value. Its cleaned_data is what the connection's settings become.
    settings_form: type[forms.Form] | None = None
    secret_fields: tuple[str, ...] = ()
    # Takes inbound calls at /integrations/in/<token>/... (the secret in the path).
    inbound: bool = False
    # The URL name of the kind's inbound endpoint (reversed with `token`), shown once with the new secret.
    inbound_url_name: str = ""
    pages: tuple[Page, ...] = ()
    # Called in the creating transaction with the new connection (to set up what the kind keeps beside it).
    on_create: Callable[[Connection], None] | None = None
    # Ordering on the "add a connection" page.
    order: int = 100
    extra: dict[str, Any] = field(default_factory=dict)


_KINDS: dict[str, ConnectionKind] = {}
# operation -> handler(exchange, actor) that runs the operation again and returns the new log entry.
Retry = Callable[["Exchange", "User"], "Exchange"]
_RETRIES: dict[str, Retry] = {}


def kind_register(kind: ConnectionKind) -> None:
    _KINDS[kind.key] = kind


def kind_get(key: str) -> ConnectionKind | None:
    return _KINDS.get(key)


def kinds() -> list[ConnectionKind]:
    return sorted(_KINDS.values(), key=lambda k: (k.order, k.key))


def retry_register(operation: str, handler: Retry) -> None:
    _RETRIES[operation] = handler


def retry_handler(operation: str) -> Retry | None:
    return _RETRIES.get(operation)

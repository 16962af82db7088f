"""The registry of record kinds: what the access layer knows about each kind of record the apps above it keep.

The access layer owns the rules (roles, scopes, hidden fields, owner transfer) but not the records: each app
that keeps records registers its kind here from `AppConfig.ready()`, under a string key ("deal", "company"):
its model, who owns a record (the user fields whose holder "owns" it; "team" means a holder in the user's team
or the teams below it), the fields a role may hide and what hiding each also hides, and how an owner transfer
moves its records. The policy, the guards, the role editor, field hiding and owner transfer read only this
registry, so this package never imports the apps that register.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db.models import Model, QuerySet

if TYPE_CHECKING:
    from tenants.accounts.models import User


@dataclass(frozen=True)
class HideableField:
    """A field a role may hide. `also_hides` names what shows the field's value in another form, and goes
    with it: the deal amount's line items, column sums, card totals, history values, export columns and
    search terms. Names there are field names as history records them ("line_items")."""

    name: str
    label: Any  # a lazily translated label
    also_hides: tuple[str, ...] = ()


@dataclass(frozen=True)
class OwnerTransfer:
    """How an owner transfer moves this kind's records from one person to another.

    `plural` names the kind in the audit entry and on the confirmation page ("companies"); `records(user)`
    are the records that move; `assign(actor=, ids=, owner=)` moves a batch of at most `batch` ids through the
    kind's own service and returns how many moved."""

    plural: str
    records: Callable[[User], QuerySet[Any]]
    assign: Callable[..., int]
    batch: int = 500


@dataclass(frozen=True)
class RecordKind:
    key: str
    label: Any  # a lazily translated label
    # "app_label.ModelName"
    model_name: str
    # Position in lists of kinds (role editor, built-in roles, transfer): lower first.
    order: int = 100
    # The user fields (paths) whose holder owns a record, directly ("owner") or through a linked record of a
    # registered kind ("company__owner": the linked kind's key, then its owner field). No paths: a shared
    # catalog: own and team mean all.
    owner_paths: tuple[str, ...] = ()
    hideable: tuple[HideableField, ...] = ()
    transfer: OwnerTransfer | None = None

    def __str__(self) -> str:
        return self.key

    @property
    def model(self) -> type[Model]:
        return apps.get_model(self.model_name)

    @property
    def owned(self) -> bool:
        """Do records of this kind belong to people (so that own and team differ from all)?"""
        return bool(self.owner_paths)

    def concealed(self, hidden: frozenset[str]) -> frozenset[str]:
        """`hidden` (fields a role hides) and everything they also hide."""
        extra = {name for f in self.hideable if f.name in hidden for name in f.also_hides}
        return hidden | extra if extra else hidden

    def hidden_with(self, name: str) -> tuple[str, ...]:
        """The hideable fields whose hiding hides `name` too (the field itself when it is hideable)."""
        return tuple(f.name for f in self.hideable if f.name == name or name in f.also_hides)


_KINDS: dict[str, RecordKind] = {}
# Extra hideable fields of any kind (custom fields): key -> {name: label}, read when a role is edited.
_FIELD_SOURCES: list[Callable[[str], Mapping[str, str]]] = []


def register(kind: RecordKind) -> RecordKind:
    """Register a kind of record (from `AppConfig.ready()`). A key names one kind: registering it again with
    another definition is an error, so two apps cannot both claim "deal"."""
    known = _KINDS.get(kind.key)
    if known is not None and known != kind:
        raise ValueError(f"record kind {kind.key!r} is already registered")
    _KINDS[kind.key] = kind
    return kind


def unregister(key: str) -> None:
    _KINDS.pop(key, None)


def register_field_source(source: Callable[[str], Mapping[str, str]]) -> None:
    """Register a source of hideable fields beyond a kind's own (the workspace's custom fields, "cf:<key>")."""
    if source not in _FIELD_SOURCES:
        _FIELD_SOURCES.append(source)


def get(key: object) -> RecordKind:
    """The kind registered under `key` (a string or a str enum member); KeyError when there is none."""
    return _KINDS[str(key)]


def is_registered(key: object) -> bool:
    return str(key) in _KINDS


def all_kinds() -> list[RecordKind]:
    """Every registered kind, in display order."""
    return sorted(_KINDS.values(), key=lambda k: (k.order, k.key))


def all_keys() -> list[str]:
    return [k.key for k in all_kinds()]


def owner_paths(key: object) -> tuple[str, ...]:
    return get(key).owner_paths


def hideable_fields(key: object) -> dict[str, str]:
    """What a role may hide on records of this kind: the kind's own fields, then those of the field sources."""
    kind = get(key)
    fields = {f.name: str(f.label) for f in kind.hideable}
    for source in _FIELD_SOURCES:
        fields.update(source(kind.key))
    return fields


def hideable_names(key: object) -> frozenset[str]:
    """The names of the kind's own hideable fields (without custom fields), as the API schema describes them."""
    return frozenset(f.name for f in get(key).hideable)


def transfers() -> list[tuple[RecordKind, OwnerTransfer]]:
    """The kinds an owner transfer moves, in display order."""
    return [(k, k.transfer) for k in all_kinds() if k.transfer is not None]

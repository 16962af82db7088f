"""What the pages share to show a user only what their role lets them see: the fields it hides, and records
linked to the shown ones (a deal's company, a task's contact) that the user may not see themselves.

A linked record the user may not see is shown as nothing, exactly as if the link were empty: its name is as
private as the record. Hidden fields are left out of the page entirely (see the `hides` template filter).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model

from crm.core.registry import model_for
from crm.core.types import RecordType
from tenants.accounts import kinds, policy
from tenants.accounts.models import Scope, User


def hidden_fields(user: User, record_type: RecordType) -> frozenset[str]:
    return policy.hidden_fields(user, record_type)


def hides(user: Any, what: str) -> bool:
    """`what` is "<record type>.<field>" ("deal.amount", "contact.phones", "company.cf:vip")."""
    record_type, _dot, name = what.partition(".")
    if not getattr(user, "is_authenticated", False):
        return True
    if not kinds.is_registered(record_type):
        return True
    return policy.hides(user, record_type, name)


def change_hidden(record_type: RecordType, hidden: frozenset[str], field: str) -> bool:
    """Does a history change of `field` show a value the user may not see?"""
    return policy.is_hidden(hidden, record_type, field)


def visible_ids(user: User, record_type: RecordType, ids: Iterable[Any]) -> set[Any]:
    """Which of `ids` (of `record_type`) the user may see: one query, none when they see every record."""
    wanted = {pk for pk in ids if pk is not None}
    if not wanted:
        return set()
    if policy.scope_of(user, policy.Action.VIEW, record_type) == Scope.ALL:
        return wanted
    model = model_for(record_type)
    return set(
        policy.visible(user, model._default_manager.filter(pk__in=wanted), record_type).values_list("pk", flat=True)
    )


def conceal_related(user: User, records: Iterable[Model], links: dict[str, RecordType]) -> None:
    """For each link (field name -> record type) of `records` pointing at a record the user may not see, make
    the link read as empty on these instances. Only the cached related object is replaced: the foreign key
    value stays, so nothing is lost if an instance were saved."""
    records = [r for r in records if r is not None]
    for name, record_type in links.items():
        if not records:
            return
        field: Any = records[0]._meta.get_field(name)
        linked = [r for r in records if getattr(r, field.attname) is not None]
        # A linked record already loaded (select_related) is judged by its owner, without a query.
        loaded = [field.is_cached(r) and field.get_cached_value(r) is not None for r in linked]
        for record, is_loaded in zip(linked, loaded, strict=True):
            if is_loaded and not policy.can_on(user, policy.Action.VIEW, record_type, field.get_cached_value(record)):
                field.set_cached_value(record, None)
        rest = [r for r, is_loaded in zip(linked, loaded, strict=True) if not is_loaded]
        seen = visible_ids(user, record_type, (getattr(r, field.attname) for r in rest))
        for record in rest:
            if getattr(record, field.attname) not in seen:
                field.set_cached_value(record, None)


ACTIVITY_LINKS = {
    "company": RecordType.COMPANY,
    "contact": RecordType.CONTACT,
    "deal": RecordType.DEAL,
    "lead": RecordType.LEAD,
}

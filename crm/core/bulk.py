"""What the bulk services share: a capped, de-duplicated batch of visible records, locked for the change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _

from crm.core.normalize import clean_tags
from crm.core.validation import text_problem

M = TypeVar("M", bound=Model)

# Every record of a batch goes through its own service (history, search index), so a batch is bounded.
BULK_LIMIT = 500


def bulk_ids(ids: Iterable[int]) -> list[int]:
    unique = list(dict.fromkeys(int(i) for i in ids))
    if len(unique) > BULK_LIMIT:
        raise ValidationError(
            _("Select at most %(limit)d records at a time (%(count)d selected)."),
            params={"limit": BULK_LIMIT, "count": len(unique)},
        )
    return unique


def bulk_records(visible: QuerySet[M], ids: Iterable[int]) -> list[M]:
    """The records among `ids` that `visible` (a selector's queryset) holds, locked, in id order."""
    wanted = bulk_ids(ids)
    if not wanted:
        return []
    return list(visible.filter(pk__in=wanted).select_for_update(of=("self",)).order_by("pk"))


def bulk_tag(tag: str) -> str:
    if problem := text_problem(tag):
        raise ValidationError(problem)
    cleaned = clean_tags([tag])
    if not cleaned:
        raise ValidationError(_("Enter a tag."))
    return cleaned[0]


# The ids a bulk service takes: what the user ticked in a list.
Ids = Iterable[int]

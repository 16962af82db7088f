"""Reads for the board, calendar and settings pages, built on the scoped selectors of each app."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404

from crm.activities.models import Activity
from crm.activities.selectors import activities_visible_to
from crm.core.registry import model_for
from crm.core.types import RecordType
from crm.customfields.models import CustomField
from crm.deals.models import Deal, Pipeline, Stage
from crm.deals.selectors import deals_visible_to
from crm.web.access import conceal_related
from tenants.accounts import kinds
from tenants.accounts.models import User
from tenants.accounts.selectors import active_users

CARDS_PER_COLUMN = 20
CALENDAR_LIMIT = 500


@dataclass
class ColumnTotals:
    count: int = 0
    sums: dict[str, Decimal] = field(default_factory=dict)  # currency -> sum

    @property
    def sums_sorted(self) -> list[tuple[str, Decimal]]:
        return sorted(self.sums.items())


@dataclass(frozen=True)
class Cursor:
    """Where a column's next page starts: the last shown card's (created_at, id), newest-first order."""

    created_at: datetime.datetime
    pk: int

    def encode(self) -> str:
        return f"{self.created_at.isoformat()}|{self.pk}"

    @classmethod
    def decode(cls, raw: str) -> Cursor | None:
        try:
            stamp, pk = raw.rsplit("|", 1)
            created_at = datetime.datetime.fromisoformat(stamp)
            if created_at.tzinfo is None or not pk.isascii() or not pk.isdigit():
                return None
            # In UTC, as the database compares: it refuses offsets beyond ±15:59, Python allows ±23:59.
            return cls(created_at.astimezone(datetime.UTC), int(pk))
        except (ValueError, OverflowError):
            return None


def board_deals(user: User, pipeline: Pipeline, *, owner: User | None) -> QuerySet[Deal]:
    """Open deals of a pipeline the user may see, optionally of one owner."""
    deals = deals_visible_to(user).filter(pipeline=pipeline, closed_at=None)
    return deals.filter(owner=owner) if owner is not None else deals


def board_totals(
    deals: QuerySet[Deal], *, stage_ids: Sequence[int] | None = None, sums: bool = True
) -> dict[int, ColumnTotals]:
    """Count and sum per currency of each stage, in one grouped query. Without `sums` (the user's role hides
    deal amounts) only the counts: a sum would tell the amounts."""
    if stage_ids is not None:
        deals = deals.filter(stage_id__in=stage_ids)
    totals: dict[int, ColumnTotals] = defaultdict(ColumnTotals)
    if not sums:
        for row in deals.values("stage_id").annotate(n=Count("*")).order_by():
            totals[row["stage_id"]].count += row["n"]
        return totals
    rows = deals.values("stage_id", "currency").annotate(n=Count("*"), total=Sum("amount")).order_by()
    for row in rows:
        column = totals[row["stage_id"]]
        column.count += row["n"]
        column.sums[row["currency"]] = row["total"] or Decimal("0")
    return totals


def board_cards(
    deals: QuerySet[Deal], stage_ids: Sequence[int], *, limit: int = CARDS_PER_COLUMN, after: Cursor | None = None
) -> dict[int, list[Deal]]:
    """The newest `limit` deals of each stage, in two queries whatever the number of deals.

    One LIMITed subquery per stage glued with UNION ALL lets PostgreSQL walk the partial deal_board index
    for each column and stop after `limit` rows; a window function would number every open deal first.
    """
    cards: dict[int, list[Deal]] = {pk: [] for pk in stage_ids}
    if not stage_ids:
        return cards
    ordered = deals.order_by("-created_at", "-id")
    if after is not None:
        ordered = ordered.filter(Q(created_at__lt=after.created_at) | Q(created_at=after.created_at, id__lt=after.pk))
    parts = [ordered.filter(stage_id=pk).values_list("id", flat=True)[:limit] for pk in stage_ids]
    first, *rest = parts
    ids = list(first.union(*rest, all=True)) if rest else list(first)
    if not ids:
        return cards
    shown = list(
        Deal.objects.filter(pk__in=ids)
        .select_related("company", "owner")
        .only(*_CARD_FIELDS, *_company_fields())
        .order_by("-created_at", "-id")
    )
    for deal in shown:
        cards[deal.stage_id].append(deal)
    return cards


# What a card shows (crm.web.board.board_views.Card) and what "show more" and the move need: a deal's notes,
# tags and custom fields, its company's and its owner's other columns are not read for a hundred cards.
_CARD_FIELDS = (
    "id",
    "title",
    "stage_id",
    "pipeline_id",
    "version",
    "amount",
    "currency",
    "created_at",
    "closed_at",
    "company_id",
    "owner_id",
    "owner__id",
    "owner__full_name",
    "owner__email",
)


def _company_fields() -> list[str]:
    """The company's name, and the links that decide who may see it (board_conceal judges it without a query)."""
    paths = [p for p in kinds.owner_paths(RecordType.COMPANY) if "__" not in p]
    return ["company__id", "company__name", *(f"company__{p}_id" for p in paths)]


def board_conceal(user: User, cards: dict[int, list[Deal]] | list[Deal]) -> None:
    """The cards' companies the user may not see are shown as none."""
    deals = [d for column in cards.values() for d in column] if isinstance(cards, dict) else cards
    conceal_related(user, deals, {"company": RecordType.COMPANY})


def next_cursor(cards: list[Deal], *, limit: int = CARDS_PER_COLUMN) -> Cursor | None:
    """A cursor for "show more" when the column may hold more cards than were shown."""
    if len(cards) < limit:
        return None
    return Cursor(cards[-1].created_at, cards[-1].pk)


def stage_get(pk: object) -> Stage:
    """Stages are workspace configuration every member sees; a missing one is a 404."""
    return get_object_or_404(Stage.objects.select_related("pipeline"), pk=pk)


def stage_deal_count(stage: Stage) -> int:
    # All deals, whoever may see them: removing the stage moves every one of them.
    return Deal.objects.filter(stage=stage).count()


def workspace_members() -> QuerySet[User]:
    return active_users()


def calendar_activities(
    user: User, *, assignee: User, start: datetime.datetime, end: datetime.datetime
) -> QuerySet[Activity]:
    """Tasks, calls and meetings of `assignee` due in [start, end) that `user` may see, soonest first."""
    return (
        activities_visible_to(user)
        .filter(assignee=assignee, due_at__gte=start, due_at__lt=end)
        .exclude(kind=Activity.Kind.NOTE)
        .select_related("company", "deal")
        .order_by("due_at", "id")[:CALENDAR_LIMIT]
    )


def custom_field_get(pk: object) -> CustomField:
    return get_object_or_404(CustomField, pk=pk)


def custom_field_holders_count(field_def: CustomField) -> int:
    """How many records hold a value of the field (shown before it is removed)."""
    model = model_for(RecordType(field_def.record_type))
    return model._default_manager.filter(custom_fields__has_key=field_def.key).count()


def pipelines_with_stages() -> list[Pipeline]:
    return list(Pipeline.objects.prefetch_related("stages").order_by("position", "id"))

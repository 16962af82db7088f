from __future__ import annotations

from django.db.models import QuerySet

from crm.core.types import RecordType
from crm.deals.models import Deal, Pipeline, Stage
from tenants.accounts import policy
from tenants.accounts.models import User


def deals_visible_to(user: User) -> QuerySet[Deal]:
    return policy.visible(user, Deal.objects.all(), RecordType.DEAL)


def deal_get(user: User, pk: object) -> Deal:
    return policy.get_visible_or_404(
        user, Deal.objects.select_related("owner", "company", "pipeline", "stage"), RecordType.DEAL, pk
    )


def pipelines_all() -> QuerySet[Pipeline]:
    """Pipelines and stages are workspace configuration: every member sees them."""
    return Pipeline.objects.all()


def pipeline_get(pk: object) -> Pipeline:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(Pipeline, pk=pk)


def stages_of(pipeline: Pipeline) -> QuerySet[Stage]:
    return Stage.objects.filter(pipeline=pipeline).order_by("position", "id")


def default_pipeline() -> Pipeline | None:
    return Pipeline.objects.filter(is_active=True).order_by("position", "id").first()


def open_deals_of(user: User) -> QuerySet[Deal]:
    """The open deals the user owns (and may see)."""
    return deals_visible_to(user).filter(owner=user, closed_at=None)


def deals_needing_next_step(user: User) -> QuerySet[Deal]:
    """The user's open deals with no open task, call or meeting planned: someone should decide what is next."""
    from django.db.models import Exists, OuterRef

    from crm.activities.models import Activity

    planned = Activity.objects.filter(deal=OuterRef("pk"), is_done=False).exclude(kind=Activity.Kind.NOTE)
    return (
        deals_visible_to(user)
        .filter(owner=user, closed_at=None)
        .filter(~Exists(planned))
        .select_related("company", "stage")
        .order_by("stage_changed_at", "id")
    )

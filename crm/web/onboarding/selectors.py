"""What the guided start on My day shows: the first steps of a new workspace, each marked once done."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.companies.models import Company
from crm.core.types import RecordType
from crm.deals.models import Deal, Pipeline, Stage
from crm.deals.services import DEFAULT_PIPELINES
from crm.web.models import SampleRecord
from tenants.accounts import policy
from tenants.accounts.models import Invitation, User


@dataclass(frozen=True)
class StartStep:
    key: str
    title: str
    text: str
    url: str
    done: bool


@dataclass(frozen=True)
class GuidedStart:
    steps: list[StartStep]
    sample_present: bool
    # Adding and removing sample data is for administrators.
    may_manage_samples: bool

    @property
    def done_count(self) -> int:
        return sum(1 for s in self.steps if s.done)


def sample_ids(record_type: RecordType) -> QuerySet[SampleRecord, int]:
    return SampleRecord.objects.filter(record_type=record_type).values_list("record_id", flat=True)


def _pipeline_adjusted() -> bool:
    """Anything but the one pipeline every workspace starts with, as it started."""
    pipelines = list(Pipeline.objects.order_by("position", "id")[:2])
    if len(pipelines) != 1:
        return True
    (name, stages), pipeline = next(iter(DEFAULT_PIPELINES.items())), pipelines[0]
    current = list(Stage.objects.filter(pipeline=pipeline).order_by("position").values_list("name", flat=True))
    return pipeline.name != name or current != [s[0] for s in stages]


def guided_start(user: User) -> GuidedStart | None:
    """The guided start while the workspace is new (no company of its own yet) or holds sample data, else None.
    Facts about the whole workspace only (whether something exists), never a record."""
    own_company = Company.objects.exclude(pk__in=sample_ids(RecordType.COMPANY)).exists()
    sample_present = SampleRecord.objects.exists()
    if own_company and not sample_present:
        return None
    may = policy.has_permission
    Perm = policy.WorkspacePermission
    steps = []
    if may(user, Perm.MANAGE_USERS):
        invited = Invitation.objects.filter(accepted_at=None, revoked_at=None, expires_at__gt=timezone.now())
        steps.append(
            StartStep(
                "invite",
                _("Invite your colleagues"),
                _("They get an email with a link to join; give each a role."),
                reverse("manage:invite"),
                User.objects.filter(is_active=True).count() > 1 or invited.exists(),
            )
        )
    if may(user, Perm.MANAGE_PIPELINES):
        steps.append(
            StartStep(
                "pipeline",
                _("Set up your first pipeline"),
                _("Name the stages your deals go through, the way your team sells."),
                reverse("settings:pipelines"),
                _pipeline_adjusted(),
            )
        )
    if policy.can(user, policy.Action.CREATE, RecordType.COMPANY):
        steps.append(
            StartStep(
                "company",
                _("Add your first client"),
                _("A company, then its people and deals, all on one card."),
                reverse("companies:create"),
                own_company,
            )
        )
    if policy.can(user, policy.Action.CREATE, RecordType.DEAL):
        steps.append(
            StartStep(
                "deal",
                _("Open your first deal"),
                _("It appears on the pipeline board; drag it from stage to stage."),
                reverse("deals:create"),
                Deal.objects.exclude(pk__in=sample_ids(RecordType.DEAL)).exists(),
            )
        )
    return GuidedStart(steps, sample_present, may(user, Perm.MANAGE_USERS))

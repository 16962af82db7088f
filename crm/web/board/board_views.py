"""The pipeline board: open stages as columns, drag and drop (or a stage select) to move a deal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm.core import formats
from crm.core.services import StaleVersion
from crm.core.types import RecordType
from crm.deals.models import Deal, Pipeline, Stage
from crm.deals.selectors import deal_get, pipeline_get
from crm.deals.services import deal_move_to_stage
from crm.web import fragments, links
from crm.web.board.forms import MoveForm
from crm.web.board.selectors import (
    ColumnTotals,
    Cursor,
    board_cards,
    board_conceal,
    board_deals,
    board_totals,
    next_cursor,
    stage_get,
    workspace_members,
)
from tenants.accounts import policy
from tenants.accounts.models import User


@dataclass
class Column:
    stage: Stage
    totals: ColumnTotals
    cards: list[Card]
    cursor: Cursor | None


@dataclass(frozen=True)
class Card:
    """A deal as its card on the board shows it, as text ready to print: a board shows a hundred cards, and the
    template engine spends more on formatting a deal's attributes than on the rest of the page."""

    pk: str
    stage: str
    version: str
    url: str
    title: str
    hint: str  # "<company> · <amount>", either part left out when hidden or missing
    owner: str | None  # the owner's name; None when the deal has no owner

    @classmethod
    def of(cls, deal: Deal, *, amount_hidden: bool) -> Card:
        company = deal.company
        parts = [company.name] if company is not None else []
        if not amount_hidden:
            parts.append(formats.money(deal.amount, deal.currency or ""))
        owner = deal.owner
        return cls(
            pk=str(deal.pk),
            stage=str(deal.stage_id),
            version=str(deal.version),
            url=links.record_url("deals:detail", deal.pk),
            title=deal.title,
            hint=" · ".join(parts),
            owner=owner.get_full_name() if owner is not None else None,
        )


def _cards(deals: list[Deal], user: User) -> list[Card]:
    amount_hidden = not _sums_shown(user)
    return [Card.of(deal, amount_hidden=amount_hidden) for deal in deals]


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _sums_shown(user: User) -> bool:
    return not policy.hides(user, RecordType.DEAL, "amount")


def _is_id(raw: str) -> bool:
    """A record id as typed in a URL: ASCII digits within the database's integers."""
    return raw.isascii() and raw.isdigit() and int(raw) < 2**63


def _owner_filter(raw: str, user: User, members: list[User] | None = None) -> tuple[str, User | None]:
    """ "me", "any" or a colleague's id -> (normalized value, owner or None for anyone)."""
    if raw in ("", "any"):
        return "any", None
    if raw == "me":
        return "me", user
    if not _is_id(raw):
        raise Http404
    pool = members if members is not None else list(workspace_members().filter(pk=int(raw)))
    owner = next((m for m in pool if m.pk == int(raw)), None)
    if owner is None:
        raise Http404
    return raw, owner


def _board_url(pipeline_id: int, owner: str) -> str:
    return f"{reverse('deals:board')}?{urlencode({'pipeline': pipeline_id, 'owner': owner})}"


def _is_fragment_request(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest" or "HX-Request" in request.headers


@login_required
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    pipelines = fragments.active_pipelines()
    raw_pipeline = request.GET.get("pipeline", "")
    pipeline: Pipeline | None
    if raw_pipeline:
        # An inactive pipeline can still be opened by its link; it is only left out of the switcher.
        if not _is_id(raw_pipeline):
            raise Http404
        pipeline = next((p for p in pipelines if str(p.pk) == raw_pipeline), None) or pipeline_get(int(raw_pipeline))
    else:
        pipeline = pipelines[0] if pipelines else None
    members = list(workspace_members())
    owner_value, owner = _owner_filter(request.GET.get("owner", ""), user, members)
    context: dict[str, object] = {
        "pipelines": pipelines,
        "pipeline": pipeline,
        "members": members,
        "owner_value": owner_value,
    }
    if pipeline is not None:
        stages = fragments.stages(pipeline.pk)
        open_stages = [s for s in stages if s.outcome == Stage.Outcome.OPEN]
        deals = board_deals(user, pipeline, owner=owner)
        totals = board_totals(deals, sums=_sums_shown(user))
        cards = board_cards(deals, [s.pk for s in open_stages])
        board_conceal(user, cards)
        context |= {
            **_card_context(stages, owner_value),
            "columns": [
                Column(s, totals[s.pk], _cards(cards[s.pk], user), next_cursor(cards[s.pk])) for s in open_stages
            ],
            "closing_stages": [s for s in stages if s.outcome != Stage.Outcome.OPEN],
        }
    return render(request, "crm/board/board.html", context)


@login_required
@require_GET
def column_more(request: HttpRequest, stage_id: int) -> HttpResponse:
    """The next cards of one column ("show more")."""
    user = _user(request)
    stage = stage_get(stage_id)
    cursor = Cursor.decode(request.GET.get("after", ""))
    if cursor is None:
        return HttpResponse(_("Bad page cursor."), status=400, content_type="text/plain")
    owner_value, owner = _owner_filter(request.GET.get("owner", ""), user)
    deals = board_deals(user, stage.pipeline, owner=owner)
    cards = board_cards(deals, [stage.pk], after=cursor)[stage.pk]
    board_conceal(user, cards)
    context = {
        "column": Column(stage, ColumnTotals(), _cards(cards, user), next_cursor(cards)),
        **_card_context(fragments.stages(stage.pipeline_id), owner_value),
    }
    return render(request, "crm/board/_column_cards.html", context)


def _card_context(stages: list[Stage], owner_value: str) -> dict[str, object]:
    """What every card's "Move" form shares, rendered once per page rather than once per card."""
    options = format_html_join(
        "", '<option value="{}" data-outcome="{}">{}</option>', ((s.pk, s.outcome, s.name) for s in stages)
    )
    shared: dict[str, object] = {
        "stages": stages,
        "move_url": reverse("deals:board_move"),
        "owner_value": owner_value,
        "stage_options": format_html('<option value="" disabled selected>{}</option>{}', _("Move to…"), options),
    }
    return shared | {"move_fields": render_to_string("crm/board/_move_fields.html", shared)}


def _move_error(request: HttpRequest, message: str, *, status: int, back: str) -> HttpResponse:
    if _is_fragment_request(request):
        return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    messages.error(request, message)
    return redirect(back)


@login_required
@require_POST
def deal_move(request: HttpRequest) -> HttpResponse:
    """Move a deal to a stage through the service; answers the changed column headers and the card."""
    user = _user(request)
    form = MoveForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("Choose a deal and a stage."), status=400, content_type="text/plain; charset=utf-8")
    data = form.cleaned_data
    deal = deal_get(user, data["deal"])
    stage = stage_get(data["stage"])
    owner_value, owner = _owner_filter(data["owner"] or "", user)
    back = _board_url(deal.pipeline_id, owner_value)
    old_stage_id = deal.stage_id
    try:
        deal = deal_move_to_stage(
            actor=user,
            deal=deal,
            stage=stage,
            lost_reason=data["lost_reason"].strip(),
            expected_version=data["version"],
        )
    except ValidationError as exc:
        return _move_error(request, " ".join(exc.messages), status=422, back=back)
    except StaleVersion:
        message = _("Someone changed this deal meanwhile. Reload the board and try again.")
        return _move_error(request, message, status=409, back=back)
    if not _is_fragment_request(request):
        messages.success(request, _("“%(deal)s” moved to %(stage)s.") % {"deal": deal.title, "stage": stage.name})
        return redirect(back)
    stages = fragments.stages(stage.pipeline_id)
    by_id = {s.pk: s for s in stages}
    changed = [
        by_id[pk]
        for pk in dict.fromkeys([old_stage_id, stage.pk])
        if pk in by_id and by_id[pk].outcome == Stage.Outcome.OPEN
    ]
    totals = board_totals(
        board_deals(user, stage.pipeline, owner=owner), stage_ids=[s.pk for s in changed], sums=_sums_shown(user)
    )
    board_conceal(user, [deal])
    # The card stays on the board only in an open stage and when it still matches the owner filter.
    shown = deal if stage.outcome == Stage.Outcome.OPEN and (owner is None or deal.owner_id == owner.pk) else None
    context = {
        "heads": [Column(s, totals[s.pk], [], None) for s in changed],
        "deal": shown,
        "card": Card.of(shown, amount_hidden=not _sums_shown(user)) if shown is not None else None,
        **_card_context(stages, owner_value),
        "message": _("“%(deal)s” moved to %(stage)s.") % {"deal": deal.title, "stage": stage.name},
    }
    return render(request, "crm/board/_move_result.html", context)

"""The process templates Kontor ships: drafts in the spec's format that an administrator installs, then edits.

Texts are lazy here; `draft()` turns them into the language active at install time (the installer's), since a
stored draft is plain text that people then edit. A step list is flat and goes on to the next step unless it
says where (`next`): the main path's last step says "end", before the steps only a rejection jumps to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tenants.accounts.models import Team

Draft = dict[str, Any]


@dataclass(frozen=True)
class Template:
    key: str
    name: Promise
    description: Promise
    draft: Callable[[], Draft]


def _first_team_id() -> int | None:
    return Team.objects.order_by("id").values_list("id", flat=True).first()


def _logistics_team_id() -> int | None:
    named = Q(name__icontains="logist") | Q(name__icontains="логист")
    return Team.objects.filter(named).order_by("id").values_list("id", flat=True).first()


def _working_days(days: int) -> dict[str, Any]:
    return {"days": days, "working": True}


def _new_web_lead() -> Draft:
    team = _first_team_id()
    assign = {"to": "round_robin", "team": team} if team is not None else {"to": "owner"}
    return {
        "trigger": {"type": "form", "connection": None},
        "steps": [
            {
                "id": "call",
                "type": "task",
                "title": _("Call the new lead"),
                "body": _("A lead came from the website form: call them while they still remember us."),
                "assign": assign,
                "deadline": {"minutes": 15, "working": True},
                "wait": True,
                "escalate": {"to": "team_head", "notify": ["team_head", "assignee"]},
            }
        ],
    }


def _deal_won_shipment() -> Draft:
    logistics = _logistics_team_id()
    ship_to = {"to": "team_head", "team": logistics} if logistics is not None else {"to": "owner"}
    return {
        "trigger": {"type": "stage_entered", "record_type": "deal", "pipeline": None, "stage": None, "outcome": "won"},
        "steps": [
            {
                "id": "documents",
                "type": "task",
                "title": _("Collect the shipment documents"),
                "assign": {"to": "owner"},
                "deadline": _working_days(1),
                "wait": True,
            },
            {
                "id": "approve",
                "type": "approval",
                "name": _("Approve the shipment"),
                "approvers": {"to": "team_head"},
                "mode": "any",
                "timeout": _working_days(1),
                "on_reject": "rejected",
                "on_timeout": "rejected",
                "hold": False,
            },
            {
                "id": "ship",
                "type": "task",
                "title": _("Ship the order"),
                "assign": ship_to,
                "deadline": _working_days(2),
                "wait": True,
                "next": "end",
            },
            {
                "id": "rejected",
                "type": "notify",
                "to": {"to": "owner"},
                "text": _("The shipment was not approved."),
            },
        ],
    }


def _call_back_in_a_year() -> Draft:
    return {
        "trigger": {"type": "stage_entered", "record_type": "deal", "pipeline": None, "stage": None, "outcome": "won"},
        "steps": [
            {"id": "wait", "type": "wait", "duration": {"months": 11, "working": False}},
            {
                "id": "call",
                "type": "task",
                "title": _("Call the customer with an offer"),
                "assign": {"to": "owner"},
                "deadline": _working_days(2),
                "wait": False,
            },
        ],
    }


def _discount_approval() -> Draft:
    return {
        "trigger": {
            "type": "record_updated",
            "record_type": "deal",
            "fields": [],
            "condition": {"field": "discount_percent", "op": "gt", "value": 15},
        },
        "steps": [
            {
                "id": "approve",
                "type": "approval",
                "name": _("Approve the discount"),
                "approvers": {"to": "team_head"},
                "mode": "any",
                "timeout": _working_days(2),
                "on_reject": "rejected",
                "on_timeout": "timed_out",
                "hold": True,
            },
            {
                "id": "approved",
                "type": "notify",
                "to": {"to": "owner"},
                "text": _("Discount approved."),
                "next": "end",
            },
            {
                "id": "rejected",
                "type": "notify",
                "to": {"to": "owner"},
                "text": _("Discount rejected."),
                "next": "end",
            },
            {
                "id": "timed_out",
                "type": "notify",
                "to": {"to": "owner"},
                "text": _("The discount was not approved in time."),
            },
        ],
    }


TEMPLATES: tuple[Template, ...] = (
    Template(
        "new_web_lead",
        gettext_lazy("New web lead"),
        gettext_lazy(
            "A lead from a website form goes round-robin to a team member, who has 15 working minutes to call; "
            "if the call is not done, the task goes to the team head."
        ),
        _new_web_lead,
    ),
    Template(
        "deal_won_shipment",
        gettext_lazy("Deal won: shipment"),
        gettext_lazy(
            "When a deal is won, its owner collects the documents, the team head approves, and the head of the "
            "logistics team gets the task to ship (pick the logistics team in the last step; without one, the "
            "owner gets it)."
        ),
        _deal_won_shipment,
    ),
    Template(
        "call_back_in_a_year",
        gettext_lazy("Call back in a year"),
        gettext_lazy("Eleven months after a deal is won, its owner gets a task to call the customer with an offer."),
        _call_back_in_a_year,
    ),
    Template(
        "discount_approval",
        gettext_lazy("Discount approval"),
        gettext_lazy(
            "A deal with a discount over 15% waits for the team head's approval and cannot change stage until "
            "then; the owner hears the decision."
        ),
        _discount_approval,
    ),
)


def get(key: str) -> Template | None:
    return next((t for t in TEMPLATES if t.key == key), None)

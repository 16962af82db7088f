"""What the accounts app does after user events commit: mail invitations, keep the active-seat count."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from tenants.accounts.models import Invitation, User
from tenants.events.models import Counter, Event
from tenants.events.outbox import Type, consumer_register

ACTIVE_SEATS = "active_seats"
_USER_EVENTS = (Type.USER_ACTIVATED, Type.USER_DEACTIVATED, Type.USER_ROLE_CHANGED)


def invitation_mail(event: Event) -> None:
    """Mail the link of a pending invitation (one withdrawn or used before delivery gets nothing)."""
    from tenants.accounts.services import invitation_email

    invitation = Invitation.objects.select_related("role", "team").filter(pk=event.record_id or 0).first()
    if invitation is None or invitation.accepted_at is not None or invitation.revoked_at is not None:
        return
    inviter = User.objects.filter(pk=event.actor_id or 0).first()
    subject, body = invitation_email(invitation, site_url=event.context["site_url"], inviter=inviter)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])


def active_seats_count(event: Event) -> None:
    """Recount the workspace's active people (what billing charges for): a count, so replaying is harmless."""
    Counter.objects.update_or_create(
        name=ACTIVE_SEATS,
        defaults={"value": User.objects.filter(is_active=True).count(), "updated_at": timezone.now()},
    )


def active_seats() -> int:
    """The active-seat count of the current workspace as the consumer last left it; a workspace that has had no
    people event yet (its owner only) is counted directly."""
    kept = Counter.objects.filter(name=ACTIVE_SEATS).values_list("value", flat=True).first()
    return kept if kept is not None else User.objects.filter(is_active=True).count()


def register() -> None:
    consumer_register("accounts.invitation_mail", invitation_mail, types=[Type.USER_INVITED])
    consumer_register("accounts.active_seats", active_seats_count, types=_USER_EVENTS)

"""What the accounts app does after user events commit: mail invitations and reset links, keep the active-seat
count."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import connection
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tenants.accounts.models import Invitation, User
from tenants.accounts.selectors import active_user_count
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


def password_reset_mail(event: Event) -> None:
    """Mail a reset link (its token made now, valid PASSWORD_RESET_TIMEOUT) in the account's language, else the
    workspace's; an account deactivated or without a usable password before delivery gets nothing."""
    user = User.objects.filter(pk=event.record_id or 0, is_active=True).first()
    if user is None or not user.has_usable_password():
        return
    workspace = getattr(connection, "tenant", None)
    context = {
        "email": user.email,
        "domain": event.context["domain"],
        "site_name": event.context["domain"],
        "protocol": event.context["protocol"],
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
        "user": user,
        "workspace": workspace,
    }
    with translation.override(user.language or getattr(workspace, "language", "") or settings.LANGUAGE_CODE):
        subject = "".join(render_to_string("accounts/password_reset_subject.txt", context).splitlines())
        body = render_to_string("accounts/password_reset_email.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


def active_seats_count(event: Event) -> None:
    """Recount the workspace's active people (what billing charges for): a count, so replaying is harmless."""
    Counter.objects.update_or_create(
        name=ACTIVE_SEATS,
        defaults={"value": active_user_count(), "updated_at": timezone.now()},
    )


def active_seats() -> int:
    """The active-seat count of the current workspace as the consumer last left it; a workspace that has had no
    people event yet (its owner only) is counted directly."""
    kept = Counter.objects.filter(name=ACTIVE_SEATS).values_list("value", flat=True).first()
    return kept if kept is not None else active_user_count()


def register() -> None:
    consumer_register("accounts.invitation_mail", invitation_mail, types=[Type.USER_INVITED])
    consumer_register("accounts.active_seats", active_seats_count, types=_USER_EVENTS)
    consumer_register("accounts.password_reset_mail", password_reset_mail, types=[Type.USER_PASSWORD_RESET_REQUESTED])

"""Reads for the mailbox pages and the compose page."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from integrations.core.models import Connection
from integrations.email.models import EmailTemplate, Message
from tenants.accounts.models import User

KIND = "email"


def mailboxes_for(user: User) -> list[Connection]:
    """The mailboxes `user` may send from: the shared ones and their own, that are on."""
    found = Connection.objects.filter(kind=KIND, is_active=True).filter(
        Q(settings__shared=True) | Q(settings__owner=user.pk)
    )
    return list(found.order_by("name", "id"))


def may_send_from(user: User, conn: Connection) -> bool:
    return (
        conn.kind == KIND
        and conn.is_active
        and (conn.settings.get("shared") is True or conn.settings.get("owner") == user.pk)
    )


def templates() -> QuerySet[EmailTemplate]:
    return EmailTemplate.objects.all()


def template_get(pk: object) -> EmailTemplate:
    return get_object_or_404(EmailTemplate, pk=pk)


def messages_of(conn: Connection, *, thread: str = "") -> QuerySet[Message]:
    found = Message.objects.filter(connection=conn).select_related("activity__contact")
    if thread:
        return found.filter(thread=thread).order_by("date", "id")
    return found.order_by("-id")

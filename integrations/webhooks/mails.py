"""The mail to a workspace's integration administrators when Kontor turns a webhook receiver off, in each
person's language, with the workspace's own address of the connection's page. Sent after the commit that
turned it off."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django_tenants.utils import tenant_context

from integrations.core.models import Connection
from tenants.accounts.models import User
from tenants.accounts.policy import WorkspacePermission
from tenants.models import Tenant

log = logging.getLogger(__name__)


def recipients() -> list[User]:
    return list(
        User.objects.filter(
            is_active=True,
            kind=User.Kind.PERSON,
            role__permissions__contains=[str(WorkspacePermission.MANAGE_INTEGRATIONS)],
        ).order_by("id")
    )


def connection_disabled(*, schema: str, connection_id: int) -> int:
    """Run on commit, in whatever schema the connection is in then: it takes the workspace's own."""
    tenant = Tenant.objects.filter(schema_name=schema).first()
    if tenant is None:
        return 0
    with tenant_context(tenant):
        return _send(tenant, connection_id)


def _send(tenant: Tenant, connection_id: int) -> int:
    conn = Connection.objects.filter(pk=connection_id).first()
    if conn is None or conn.is_active:
        return 0
    domain = tenant.get_primary_domain()
    scheme = "http" if settings.DEBUG else "https"
    path = reverse("integrations:detail", kwargs={"pk": conn.pk}, urlconf=settings.ROOT_URLCONF)
    url = f"{scheme}://{domain.domain if domain else ''}{path}"
    sent = 0
    for person in recipients():
        with translation.override(person.language or tenant.language or settings.LANGUAGE_CODE):
            values = {"connection": conn, "workspace": tenant, "person": person, "url": url}
            subject = " ".join(render_to_string("webhooks/mail/disabled_subject.txt", values).split())
            body = render_to_string("webhooks/mail/disabled.txt", values)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [person.email])
        sent += 1
    log.info("webhooks: connection %s off, mailed %d people", conn.pk, sent)
    return sent

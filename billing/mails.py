"""Mails to a workspace's billing administrators (the active people whose role may manage billing), each in
their language. Sent after the change that caused them has committed, once per occasion (the callers key them:
a trial reminder once, a failed payment once per invoice)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django_tenants.utils import schema_context, tenant_context

from billing.models import Account, State
from tenants.accounts.models import User
from tenants.accounts.policy import WorkspacePermission

log = logging.getLogger(__name__)


def _recipients() -> list[User]:
    return list(
        User.objects.filter(
            is_active=True,
            kind=User.Kind.PERSON,
            role__permissions__contains=[str(WorkspacePermission.MANAGE_BILLING)],
        ).order_by("id")
    )


def _send(account_id: int, template: str, **context: object) -> int:
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        account = Account.objects.select_related("tenant").filter(pk=account_id).first()
    if account is None or account.tenant is None:
        return 0
    tenant = account.tenant
    domain = tenant.get_primary_domain()
    scheme = "http" if settings.DEBUG else "https"
    sent = 0
    with tenant_context(tenant):
        # The workspace's own URLs, whichever host's request (Stripe's webhook comes to the public site) sends it.
        path = reverse("billing:page", urlconf=settings.ROOT_URLCONF)
        billing_url = f"{scheme}://{domain.domain if domain else ''}{path}"
        for person in _recipients():
            with translation.override(person.language or tenant.language or settings.LANGUAGE_CODE):
                values = {"account": account, "workspace": tenant, "person": person, "billing_url": billing_url}
                values.update(context)
                subject = " ".join(render_to_string(f"billing/mail/{template}_subject.txt", values).split())
                body = render_to_string(f"billing/mail/{template}.txt", values)
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [person.email])
            sent += 1
    log.info("billing: %s mail to %d people of workspace %s", template, sent, account.workspace_uid)
    return sent


def trial_ending(*, account_id: int) -> int:
    return _send(account_id, "trial_ending")


def payment_failed(*, account_id: int) -> int:
    return _send(account_id, "payment_failed", grace_days=settings.BILLING_GRACE_DAYS)


def payment_action(*, account_id: int, url: str) -> int:
    return _send(account_id, "payment_action", action_url=url)


# The state changes people are told of by mail (the others show on the banner only).
_STATE_MAILS = {State.READ_ONLY: "read_only", State.CANCELLED: "cancelled", State.ACTIVE: "active"}


def state_changed(*, account_id: int, state: str) -> int:
    template = _STATE_MAILS.get(State(state))
    return _send(account_id, template, retention_days=settings.BILLING_RETENTION_DAYS) if template else 0

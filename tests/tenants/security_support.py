"""Helpers of the account security tests: browser-like clients, TOTP codes, audit entries."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from tenants.accounts.models import AuditEvent, User
from tests.conftest import PASSWORD, Workspace

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) KontorTests/1.0"


def browser(workspace: Workspace, *, ip: str = "127.0.0.1") -> Client:
    return Client(HTTP_HOST=workspace.domain, HTTP_USER_AGENT=USER_AGENT, REMOTE_ADDR=ip)


def post(client: Client, path: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
    response = client.post(path, data or {}, **extra)
    connection.set_schema_to_public()
    return response


def get(client: Client, path: str, **extra: Any) -> Any:
    response = client.get(path, **extra)
    connection.set_schema_to_public()
    return response


def log_in(client: Client, email: str, password: str = PASSWORD) -> Any:
    return post(client, "/login/", {"username": email, "password": password})


def signed_in(client: Client) -> bool:
    # Home answers 200 to a member and redirects anyone else to the login page.
    return get(client, "/").status_code == 200


def device_of(workspace: Workspace, user: User) -> TOTPDevice:
    with schema_context(workspace.schema):
        return TOTPDevice.objects.get(user=user)


def fresh_code(workspace: Workspace, device: TOTPDevice) -> str:
    """The code the app shows now, as if the next 30-second step had come (a code is accepted only once, and
    only after a pause following wrong ones): the device forgets the last step it accepted and its throttle."""
    with schema_context(workspace.schema):
        TOTPDevice.objects.filter(pk=device.pk).update(
            last_t=-1, drift=0, throttling_failure_count=0, throttling_failure_timestamp=None
        )
        device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, 0):0{device.digits}d}"


def after_a_pause(workspace: Workspace) -> None:
    """As if the few seconds the devices wait after a wrong code had passed."""
    with schema_context(workspace.schema):
        for model in (TOTPDevice, StaticDevice):
            model.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)


def entries(workspace: Workspace, action: str) -> list[AuditEvent]:
    with schema_context(workspace.schema):
        return list(AuditEvent.objects.filter(action=action).order_by("id"))


def enrol(workspace: Workspace, client: Client) -> tuple[TOTPDevice, list[str]]:
    """Turn two-factor authentication on through the profile page; returns the device and the recovery codes."""
    page = get(client, "/profile/two-factor/")
    assert page.status_code == 200
    user = page.context["user"]
    device = device_of(workspace, user)
    done = post(client, "/profile/two-factor/", {"action": "confirm", "token": fresh_code(workspace, device)})
    assert done.status_code == 200, done.content
    codes = done.context["codes"]
    assert len(codes) == 10
    return device, codes


def log_in_with_code(workspace: Workspace, client: Client, email: str, device: TOTPDevice) -> Any:
    first = log_in(client, email)
    assert first.status_code == 302 and first.url == "/login/two-factor/", first
    return post(client, "/login/two-factor/", {"token": fresh_code(workspace, device)})

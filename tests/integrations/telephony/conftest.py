"""Fixtures of the telephony tests: the local fake AMI server and fake Zadarma API, and connections of both
kinds in the test's workspace with a sales manager on extension 101."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from integrations.core.models import Connection
from integrations.core.services import connection_create
from integrations.telephony.kinds import ASTERISK, ZADARMA
from platform_core.celery import app as celery_app
from tenants.accounts.models import User
from tenants.accounts.roles import SALES_MANAGER, builtin_role
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD, Workspace
from tests.fakes.ami_server import FakeAmi
from tests.fakes.zadarma import FakeZadarmaApi

AMI_USER, AMI_SECRET = "kontor", "ami-secret"
ZD_KEY, ZD_SECRET = "zd-key", "zd-secret"


@pytest.fixture(scope="module")
def ami_server() -> Iterator[FakeAmi]:
    fake = FakeAmi(username=AMI_USER, secret=AMI_SECRET).start()
    yield fake
    fake.stop()


@pytest.fixture
def ami(ami_server: FakeAmi) -> Iterator[FakeAmi]:
    ami_server.reset()
    yield ami_server
    ami_server.drop()


@pytest.fixture(scope="module")
def zadarma_server() -> Iterator[FakeZadarmaApi]:
    fake = FakeZadarmaApi(key=ZD_KEY, secret=ZD_SECRET).start()
    yield fake
    fake.stop()


@pytest.fixture
def zadarma_api(zadarma_server: FakeZadarmaApi, settings: Any) -> Iterator[FakeZadarmaApi]:
    zadarma_server.requests.clear()
    settings.TELEPHONY_ZADARMA_API_BASE = zadarma_server.url
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield zadarma_server
    celery_app.conf.task_always_eager = eager


@pytest.fixture(autouse=True)
def _private_networks(settings: Any) -> None:
    settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = True
    settings.INTEGRATIONS_HTTP_BACKOFF = 0.01


@dataclass
class Setup:
    workspace: Workspace
    manager: User
    asterisk: Connection
    zadarma: Connection
    token: str


def make_setup(workspace: Workspace, *, ami_port: int = 1) -> Setup:
    manager = user_create(
        email=f"manager-{workspace.schema}@example.com",
        password=PASSWORD,
        full_name="Maria Manager",
        role=builtin_role(SALES_MANAGER),
    )
    common = {"extensions": {"101": manager.pk}, "region": "RU", "default_owner": workspace.owner.pk}
    asterisk = connection_create(
        actor=workspace.owner,
        kind=ASTERISK,
        name="Office PBX",
        settings={
            **common,
            "host": "127.0.0.1",
            "port": ami_port,
            "username": AMI_USER,
            "channel": "PJSIP/{extension}",
            "context": "from-internal",
            "dial_format": "digits",
        },
        secrets={"secret": AMI_SECRET},
    ).connection
    created = connection_create(
        actor=workspace.owner,
        kind=ZADARMA,
        name="Zadarma",
        settings={**common, "time_zone": "Europe/Moscow"},
        secrets={"api_key": ZD_KEY, "api_secret": ZD_SECRET},
    )
    assert created.token is not None
    return Setup(workspace, manager, asterisk, created.connection, created.token)


@pytest.fixture
def setup(in_workspace: Workspace, ami_server: FakeAmi) -> Setup:
    return make_setup(in_workspace, ami_port=ami_server.port)

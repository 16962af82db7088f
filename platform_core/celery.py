"""The Celery app. Tasks carry the schema they were queued from and run in it (tenant-schemas-celery)."""

from __future__ import annotations

import os
from typing import Any

from celery.signals import task_postrun, task_prerun
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")

app = CeleryApp("kontor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _tag_sentry_with_schema(task: Any = None, **_: Any) -> None:
    import sentry_sdk

    from tenants.context import current_schema

    sentry_sdk.set_tag("tenant", current_schema())


@task_postrun.connect
def _recycle_connections(**_: Any) -> None:
    # Each task runs in the schema it was queued from: a worker's connection serves many schemas, like a web one.
    from tenants.connections import connections_recycle

    connections_recycle()

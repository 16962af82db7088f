"""Queueing helpers shared by every app."""

from __future__ import annotations

from typing import Any

from celery import Task

from tenants.context import current_schema


def enqueue_on_commit(task: Task, *args: Any, **kwargs: Any) -> None:
    """Queue `task` after the current transaction commits, to run in the schema that is current now.

    The schema is captured here, not at commit time: by then the request may have switched schemas.
    """
    headers = {"_schema_name": current_schema()}
    task.apply_async_on_commit(args=args, kwargs=kwargs, headers=headers)

"""Background work on tenants."""

from __future__ import annotations

from celery import shared_task

from tenants.routing import routing_tables_analyse
from tenants.services import schema_pool_refill


@shared_task(name="tenants.tasks.refill_schema_pool", ignore_result=True)
def refill_schema_pool() -> int:
    """Keep SCHEMA_POOL_SIZE migrated empty schemas ready for signups, made from the schema script (which it
    first brings to the template's migration state). Idempotent. The only place the pool is refilled outside
    commands and tests: a request never refills, it queues this task after commit."""
    added = schema_pool_refill()
    if added:
        # Signups and refills add the rows the host lookup is planned against: keep its statistics current.
        routing_tables_analyse()
    return added

"""Read mailboxes now, or plan them all again (after Redis lost the schedule):

manage.py email_sync --schema acme         # read acme's mailboxes now, in this process
manage.py email_sync --plan                # every workspace's mailboxes due at once (beat reads them)
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from integrations.core.models import Connection
from integrations.email import schedule, services
from integrations.email.selectors import KIND
from tenants.connections import connections_recycle
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Read the workspaces' mailboxes now (--schema), or plan every mailbox's next run (--plan)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--schema", action="append", default=[], help="a workspace's schema (repeatable)")
        parser.add_argument("--plan", action="store_true", help="plan the mailboxes' runs instead of running them")

    def handle(self, *args: Any, **options: Any) -> None:
        schemas = options["schema"]
        if not schemas and not options["plan"]:
            raise CommandError("name a workspace with --schema, or use --plan")
        workspaces = Tenant.objects.filter(kind=Tenant.Kind.WORKSPACE)
        if schemas:
            workspaces = workspaces.filter(schema_name__in=schemas)
        for schema_name in workspaces.values_list("schema_name", flat=True):
            with schema_context(schema_name):
                for conn in Connection.objects.select_related("identity").filter(kind=KIND, is_active=True):
                    if options["plan"]:
                        schedule.plan(schema_name, conn.pk, delay=0)
                        self.stdout.write(f"{schema_name}: {conn.name} planned")
                    else:
                        entry = services.connection_sync(conn)
                        self.stdout.write(f"{schema_name}: {conn.name} {entry.status} {entry.counts} {entry.error}")
            connections_recycle()

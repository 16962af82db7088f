"""Fill a workspace with realistic, varied CRM data (several locales; past and future activities)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from crm.seed import SeedSize, seed_workspace
from tenants.accounts.selectors import active_users
from tenants.models import Domain
from tenants.selectors import workspace_domain_find


class Command(BaseCommand):
    help = "Seed a workspace with companies, contacts, deals, leads, products and activities."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="the workspace's subdomain")
        parser.add_argument("--companies", type=int, default=300)
        parser.add_argument("--if-empty", action="store_true", help="do nothing if the workspace has companies")
        parser.add_argument("--seed", type=int, default=2026, help="random seed, for repeatable data")

    def handle(self, *args: Any, **options: Any) -> None:
        host = workspace_domain_find(options["workspace"])
        if host is None:
            raise CommandError(f"There is no workspace {options['workspace']!r}.")
        if options["companies"] < 1:
            raise CommandError("--companies must be at least 1.")
        tenant = Domain.objects.select_related("tenant").get(domain=host).tenant
        with tenant_context(tenant):
            from crm.companies.models import Company

            if options["if_empty"] and Company.objects.exists():
                self.stdout.write("The workspace already has data; not seeding.")
                return
            owners = list(active_users().values_list("pk", flat=True))
            report = seed_workspace(
                size=SeedSize.for_companies(options["companies"]), owner_ids=owners, seed=options["seed"]
            )
            processes = _processes_install()
        rows = ", ".join(f"{n} {name}" for name, n in report.rows.items() if n)
        self.stdout.write(f"Seeded {host}: {rows} in {report.total_seconds:.1f} s; {processes} business processes on.")


def _processes_install() -> int:
    """The shipped process templates, published and on, so the demo shows processes at work on what people do
    (the seeded rows themselves start nothing: they are copied in, not written through the services)."""
    from crm.processes import services, shipped
    from crm.processes.models import ProcessDefinition
    from tenants.accounts.models import User

    admin = User.objects.filter(
        is_active=True, kind=User.Kind.PERSON, role__permissions__contains=["manage_processes"]
    ).first()
    if admin is None or ProcessDefinition.objects.exists():
        return 0
    for template in shipped.TEMPLATES:
        definition = services.template_install(actor=admin, key=template.key)
        services.definition_publish(actor=admin, definition=definition)
        definition.refresh_from_db()
        services.definition_set_active(actor=admin, definition=definition, active=True)
    return len(shipped.TEMPLATES)

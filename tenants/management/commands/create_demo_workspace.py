"""Create the `demo` workspace once, and print how to log in to it."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand

from tenants.models import Domain
from tenants.services import workspace_create, workspace_domain_for

DEMO_SUBDOMAIN = "demo"
DEMO_EMAIL = "owner@demo.kontor.test"


class Command(BaseCommand):
    help = "Create the demo workspace and its owner if they do not exist yet."

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("DEMO_OWNER_PASSWORD", "kontor-demo-2026")
        if Domain.objects.filter(domain=workspace_domain_for(DEMO_SUBDOMAIN)).exists():
            self.stdout.write("Demo workspace exists; reusing it.")
        else:
            workspace_create(
                company_name="Demo Trading LLC",
                subdomain=DEMO_SUBDOMAIN,
                owner_email=DEMO_EMAIL,
                owner_password=password,
                owner_name="Demo Owner",
                # The demo's seed data is priced in roubles; its interface starts in English (each person can
                # switch in their profile).
                currency="RUB",
                time_zone="Europe/Moscow",
            )
            self.stdout.write("Demo workspace created.")
        self.stdout.write(f"Log in at the workspace as {DEMO_EMAIL} with password {password}")

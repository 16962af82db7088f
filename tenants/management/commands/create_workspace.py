"""Create a workspace and its owner without the web: exit code 1 with a one-line reason on bad input."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.services import workspace_create


class Command(BaseCommand):
    help = "Create a workspace (tenant schema, domain and owner) non-interactively."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--subdomain", required=True)
        parser.add_argument("--company", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", required=True)
        parser.add_argument("--owner-name", default="")
        parser.add_argument("--language", default="en", help="default language of the workspace: en, ru or fr")
        parser.add_argument("--currency", default="", help="ISO 4217 code; by default the language's usual one")
        parser.add_argument("--time-zone", default="", help="e.g. Europe/Moscow; by default the language's usual one")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created = workspace_create(
                company_name=options["company"],
                subdomain=options["subdomain"],
                owner_email=options["owner_email"],
                owner_password=options["owner_password"],
                owner_name=options["owner_name"],
                language=options["language"],
                currency=options["currency"],
                time_zone=options["time_zone"],
            )
        except ValidationError as exc:
            raise CommandError(_one_line(exc)) from exc
        self.stdout.write(
            f"Created workspace {created.tenant.name!r} at {created.domain.domain} "
            f"(schema {created.tenant.schema_name}, {created.method}); owner {created.owner.email}"
        )


def _one_line(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        flag = {"company_name": "--company", "owner_name": "--owner-name"}
        return "; ".join(
            f"{flag.get(field, '--' + field.replace('_', '-'))}: {' '.join(messages)}"
            for field, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)

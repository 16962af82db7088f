from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "crm.leads"
    label = "leads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from crm.core.bulk import BULK_LIMIT
        from crm.core.types import RecordType
        from crm.leads.models import Lead
        from crm.leads.services import lead_bulk_assign_owner
        from tenants.accounts import kinds

        kinds.register(
            kinds.RecordKind(
                key=RecordType.LEAD.value,
                label=RecordType.LEAD.label,
                model_name="leads.Lead",
                order=30,
                owner_paths=("owner",),
                hideable=(
                    kinds.HideableField("email", _("email")),
                    kinds.HideableField("phone", _("phone")),
                    kinds.HideableField("message", _("message")),
                ),
                transfer=kinds.OwnerTransfer(
                    plural="leads",
                    records=lambda user: Lead.objects.filter(owner=user),
                    assign=lead_bulk_assign_owner,
                    batch=BULK_LIMIT,
                ),
            )
        )

from django.apps import AppConfig


class CompaniesConfig(AppConfig):
    name = "crm.companies"
    label = "companies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from crm.companies.models import Company
        from crm.companies.services import company_bulk_assign_owner
        from crm.core.bulk import BULK_LIMIT
        from crm.core.types import RecordType
        from tenants.accounts import kinds

        kinds.register(
            kinds.RecordKind(
                key=RecordType.COMPANY.value,
                label=RecordType.COMPANY.label,
                model_name="companies.Company",
                order=10,
                owner_paths=("owner",),
                hideable=(
                    kinds.HideableField("tax_id", _("tax id")),
                    kinds.HideableField("registration_id", _("registration id")),
                    kinds.HideableField("phones", _("phones")),
                    kinds.HideableField("emails", _("emails")),
                    kinds.HideableField("legal_address", _("legal address")),
                    kinds.HideableField("notes", _("notes")),
                ),
                transfer=kinds.OwnerTransfer(
                    plural="companies",
                    records=lambda user: Company.objects.filter(owner=user),
                    assign=company_bulk_assign_owner,
                    batch=BULK_LIMIT,
                ),
            )
        )

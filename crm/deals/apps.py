from django.apps import AppConfig


class DealsConfig(AppConfig):
    name = "crm.deals"
    label = "deals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from crm.core.bulk import BULK_LIMIT
        from crm.core.types import RecordType
        from crm.deals.models import Deal
        from crm.deals.services import deal_bulk_assign_owner, pipelines_ensure_default
        from tenants import initialisers
        from tenants.accounts import kinds

        kinds.register(
            kinds.RecordKind(
                key=RecordType.DEAL.value,
                label=RecordType.DEAL.label,
                model_name="deals.Deal",
                order=40,
                owner_paths=("owner",),
                # The amount shows in its line items too, and in column sums, card totals, history values,
                # export columns and search terms, which all ask whether "amount" is hidden.
                hideable=(
                    kinds.HideableField(
                        "amount", _("amount, line items and totals"), also_hides=("line_items", "totals")
                    ),
                ),
                transfer=kinds.OwnerTransfer(
                    plural="deals",
                    records=lambda user: Deal.objects.filter(owner=user),
                    assign=deal_bulk_assign_owner,
                    batch=BULK_LIMIT,
                ),
            )
        )
        # A new workspace starts with one pipeline, named in the workspace's language.
        initialisers.register("deals.default_pipeline", pipelines_ensure_default)

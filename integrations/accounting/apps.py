from django.apps import AppConfig

# The kind of connection (integrations.core.registry).
KIND = "accounting-1c"


class AccountingConfig(AppConfig):
    """The exchange with 1C:Trade Management / 1C:Accounting over 1C's own "exchange with a website" protocol
    (CommerceML 2 files): counterparties, products and deals marked for invoicing go out; invoices and incoming
    payments come in, matched to deals."""

    name = "integrations.accounting"
    label = "integrations_accounting"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from crm.web import panels
        from integrations.accounting.forms import AccountingSettingsForm
        from integrations.accounting.panel import card_panel
        from integrations.accounting.services import IMPORT_OPERATION, import_retry
        from integrations.core import registry

        registry.kind_register(
            registry.ConnectionKind(
                key=KIND,
                label=_("1C: accounting exchange"),
                description=_(
                    "1C:Trade Management or 1C:Accounting exchanges with Kontor as with a website (CommerceML): "
                    "counterparties, products and deals to invoice go to 1C; invoices and payments come back."
                ),
                settings_form=AccountingSettingsForm,
                secret_fields=("login", "password"),
                inbound=True,
                inbound_url_name="accounting_in:exchange",
                pages=(registry.Page(_("1C setup"), "accounting:setup"),),
                order=30,
            )
        )
        registry.retry_register(IMPORT_OPERATION, import_retry)
        panels.panel_register(panels.CardPanel(key="accounting", namespaces=("deals", "companies"), render=card_panel))

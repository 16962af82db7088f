from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EmailConfig(AppConfig):
    """Mailboxes over IMAP and SMTP: mail to and from contacts logged on their timelines, emails written on a
    card with templates and merge fields, bounces noted."""

    name = "integrations.email"
    label = "integrations_email"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crm.core.types import RecordType
        from crm.web.card_actions import CardAction, card_action_register
        from integrations.core.registry import ConnectionKind, Page, kind_register, retry_register
        from integrations.email import services, views
        from integrations.email.forms import MailboxSettingsForm

        kind_register(
            ConnectionKind(
                key="email",
                label=_("Mailbox (IMAP and SMTP)"),
                description=_(
                    "Mail to and from your contacts on their cards, emails sent from the card with templates."
                ),
                settings_form=MailboxSettingsForm,
                secret_fields=("imap_password", "smtp_password"),
                pages=(Page(_("Messages"), "email:messages"),),
                on_create=services.on_connection_create,
                order=40,
            )
        )
        retry_register(services.SYNC, services.sync_retry)
        retry_register(services.SEND, services.send_retry)
        card_action_register(
            CardAction(key="email", label=_("Email"), record_types=(RecordType.CONTACT,), url=views.card_action_url)
        )

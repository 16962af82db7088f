from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    """Outgoing webhooks: the workspace's events, from the outbox, POSTed signed to the receivers subscribed."""

    name = "integrations.webhooks"
    label = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integrations.core.registry import ConnectionKind, Page, kind_register, retry_register
        from integrations.webhooks import services
        from integrations.webhooks.forms import EVENT_TYPES, WebhookSettingsForm
        from tenants.events.outbox import consumer_register

        kind_register(
            ConnectionKind(
                key=services.KIND,
                label=_("Webhook"),
                description=_("Sends the workspace's events, signed, to an address of yours as they happen."),
                settings_form=WebhookSettingsForm,
                pages=(
                    Page(label=_("Signing secret"), url_name="webhooks:secret"),
                    Page(label=_("Deliveries"), url_name="webhooks:deliveries"),
                ),
                on_create=services.receiver_set_up,
                order=90,
            )
        )
        retry_register(services.OPERATION, services.delivery_retry)
        consumer_register(services.CONSUMER, services.events_follow, types=EVENT_TYPES)
        # Business processes may call a webhook: the step type and its check.
        from crm.processes.engine import step_type_register
        from crm.processes.spec import step_validator_register
        from integrations.webhooks import processes

        step_type_register(processes.STEP_TYPE, processes.webhook_step)
        step_validator_register(processes.STEP_TYPE, processes.webhook_step_errors, field="connection")

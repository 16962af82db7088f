from django.apps import AppConfig


class WebformsConfig(AppConfig):
    """Website forms: a form built by an administrator, embedded on the workspace's website as plain HTML (or
    posted to in JSON), whose submissions become leads, or tasks on the contacts they come from."""

    name = "integrations.webforms"
    label = "webforms"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from integrations.core import registry
        from integrations.webforms import services

        registry.kind_register(
            registry.ConnectionKind(
                key=services.KIND,
                label=_("Website form"),
                description=_(
                    "A form for the website (plain HTML, or JSON from a script): each submission becomes a lead "
                    "with a task, or a task on the contact it comes from."
                ),
                inbound=True,
                inbound_url_name="webforms_inbound:submit",
                pages=(
                    registry.Page(_("Form fields"), "webforms:builder"),
                    registry.Page(_("Code for the website"), "webforms:snippet"),
                ),
                on_create=services.webform_defaults,
                order=10,
                # Shown under the new secret (the core's page): the code for the website, with its address.
                extra={"secret_template": "webforms/_secret_snippet.html"},
            )
        )
        registry.retry_register(services.OPERATION, services.submission_retry)
        # Business processes started by a website form know which form a lead came from.
        from crm.processes.triggers import trigger_source_register

        trigger_source_register(services.lead_source_of)

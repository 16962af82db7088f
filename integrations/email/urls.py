"""The mailbox pages, mounted at the workspace's root (platform_core/urls_tenant.py) before the integrations
core: the settings pages under /settings/integrations/email/, the compose page under /email/."""

from django.urls import URLPattern, URLResolver, path

from integrations.email import views

app_name = "email"
urlpatterns: list[URLPattern | URLResolver] = [
    path("settings/integrations/email/<int:connection>/messages/", views.mailbox_messages, name="messages"),
    path("settings/integrations/email/<int:connection>/sync/", views.mailbox_sync, name="sync"),
    path("settings/integrations/email/templates/", views.templates, name="templates"),
    path("settings/integrations/email/templates/new/", views.template_new, name="template_new"),
    path("settings/integrations/email/templates/<int:template>/", views.template_edit, name="template_edit"),
    path("settings/integrations/email/templates/<int:template>/delete/", views.template_delete, name="template_delete"),
    path("email/compose/<int:contact_id>/", views.compose, name="compose"),
]

from django.apps import AppConfig


class PublicSiteConfig(AppConfig):
    name = "platform_core.public_site"
    label = "public_site"

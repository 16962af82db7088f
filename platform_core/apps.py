from django.apps import AppConfig


class PlatformCoreConfig(AppConfig):
    name = "platform_core"
    verbose_name = "Kontor platform"

    def ready(self) -> None:
        from platform_core import dbtypes

        dbtypes.install()

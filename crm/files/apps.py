from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "crm.files"
    label = "files"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crm.core.types import RecordType
        from tenants.accounts import kinds

        kinds.register(
            kinds.RecordKind(
                key=RecordType.FILE.value,
                label=RecordType.FILE.label,
                model_name="files.Attachment",
                order=70,
                # Also its people's when it hangs on a client or deal they own.
                owner_paths=("uploaded_by", "company__owner", "contact__owner", "deal__owner", "lead__owner"),
            )
        )

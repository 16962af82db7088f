from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "crm.contacts"
    label = "contacts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from crm.contacts.models import Contact
        from crm.contacts.services import contact_bulk_assign_owner
        from crm.core.bulk import BULK_LIMIT
        from crm.core.types import RecordType
        from tenants.accounts import kinds

        kinds.register(
            kinds.RecordKind(
                key=RecordType.CONTACT.value,
                label=RecordType.CONTACT.label,
                model_name="contacts.Contact",
                order=20,
                owner_paths=("owner",),
                hideable=(
                    kinds.HideableField("phones", _("phones")),
                    kinds.HideableField("emails", _("emails")),
                    kinds.HideableField("notes", _("notes")),
                ),
                transfer=kinds.OwnerTransfer(
                    plural="contacts",
                    records=lambda user: Contact.objects.filter(owner=user),
                    assign=contact_bulk_assign_owner,
                    batch=BULK_LIMIT,
                ),
            )
        )

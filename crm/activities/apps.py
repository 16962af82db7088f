from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "crm.activities"
    label = "activities"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crm.activities.models import Activity
        from crm.activities.services import activity_bulk_assign
        from crm.core.bulk import BULK_LIMIT
        from crm.core.types import RecordType
        from tenants.accounts import kinds

        kinds.register(
            kinds.RecordKind(
                key=RecordType.ACTIVITY.value,
                label=RecordType.ACTIVITY.label,
                model_name="activities.Activity",
                order=50,
                # Also its people's when it hangs on a client or deal they own.
                owner_paths=(
                    "assignee",
                    "created_by",
                    "company__owner",
                    "contact__owner",
                    "deal__owner",
                    "lead__owner",
                ),
                # An owner transfer moves the open activities assigned to the person.
                transfer=kinds.OwnerTransfer(
                    plural="activities",
                    records=lambda user: Activity.objects.filter(assignee=user, is_done=False),
                    assign=lambda *, actor, ids, owner: activity_bulk_assign(actor=actor, ids=ids, assignee=owner),
                    batch=BULK_LIMIT,
                ),
            )
        )

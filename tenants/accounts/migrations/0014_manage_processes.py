from django.db import migrations

_HOLDERS = ("admin", "sales_head")


def builtin_roles_manage_processes(apps, schema_editor):
    # Built-in roles are written at signup only: workspaces made before processes existed get the permission here.
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(builtin__in=_HOLDERS):
        if "manage_processes" not in role.permissions:
            role.permissions = [*role.permissions, "manage_processes"]
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0013_alter_auditevent_action")]

    operations = [migrations.RunPython(builtin_roles_manage_processes, migrations.RunPython.noop)]

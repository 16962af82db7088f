from django.db import migrations


def admin_may_manage_backups(apps, schema_editor):
    # Built-in roles are written at signup only: workspaces made before this permission existed get it here.
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(builtin="admin"):
        if "manage_backups" not in role.permissions:
            role.permissions = [*role.permissions, "manage_backups"]
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0010_drop_unused_library_indexes")]

    operations = [migrations.RunPython(admin_may_manage_backups, migrations.RunPython.noop)]

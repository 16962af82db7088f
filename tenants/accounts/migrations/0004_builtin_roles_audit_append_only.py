from django.db import migrations

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION public.kontor_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER accounts_auditevent_append_only BEFORE UPDATE OR DELETE ON accounts_auditevent
    FOR EACH ROW EXECUTE FUNCTION public.kontor_append_only();
"""


def roles_for_people(apps, schema_editor):
    # The public schema's users are the vendor's staff: they have no workspace role.
    if getattr(schema_editor.connection, "schema_name", "public") == "public":
        return
    from tenants.accounts.roles import ADMIN, SALES_MANAGER, builtin_definitions

    Role = apps.get_model("accounts", "Role")
    User = apps.get_model("accounts", "User")
    roles = {}
    for key, definition in builtin_definitions().items():
        roles[key], _ = Role.objects.get_or_create(
            builtin=key,
            defaults={k: definition[k] for k in ("name", "description", "grants", "permissions")},
        )
    User.objects.filter(is_workspace_admin=True).update(role=roles[ADMIN])
    User.objects.filter(is_workspace_admin=False, role=None).update(role=roles[SALES_MANAGER])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_roles_teams_audit")]

    operations = [
        migrations.RunPython(roles_for_people, migrations.RunPython.noop),
        migrations.RunSQL(
            APPEND_ONLY,
            "DROP TRIGGER IF EXISTS accounts_auditevent_append_only ON accounts_auditevent;",
        ),
    ]

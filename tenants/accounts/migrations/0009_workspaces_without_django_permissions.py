"""Workspace schemas no longer hold django.contrib.auth's and contenttypes' tables (see TENANT_APPS): drop them
from the workspaces migrated before. The public schema keeps its own (both apps are still installed there).

Schema-qualified through current_schema(), the workspace being migrated: an unqualified DROP ... IF EXISTS in a
workspace that has none would find the public schema's tables through the search_path.
"""

from django.db import migrations

DROP_IN_WORKSPACE = """
DO $$
BEGIN
    IF current_schema() <> 'public' THEN
        EXECUTE format(
            'DROP TABLE IF EXISTS %1$I.auth_group_permissions, %1$I.auth_permission, %1$I.auth_group, '
            '%1$I.django_content_type',
            current_schema()
        );
    END IF;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_slim_indexes_no_django_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    # Not reversed: nothing in a workspace ever read them.
    operations = [migrations.RunSQL(DROP_IN_WORKSPACE, reverse_sql=migrations.RunSQL.noop)]

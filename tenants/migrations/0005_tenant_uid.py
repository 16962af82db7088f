import uuid

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tenants", "0004_template_label")]

    operations = [
        # Every row gets its own value from the database: the existing ones (a Python default would give them all
        # one) and rows inserted by SQL; the model's default serves the ORM.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE tenants_tenant ADD COLUMN uid uuid NOT NULL DEFAULT gen_random_uuid()",
                    "ALTER TABLE tenants_tenant DROP COLUMN uid",
                ),
                migrations.RunSQL(
                    "ALTER TABLE tenants_tenant ADD CONSTRAINT tenants_tenant_uid_key UNIQUE (uid)",
                    "ALTER TABLE tenants_tenant DROP CONSTRAINT tenants_tenant_uid_key",
                ),
            ],
            state_operations=[
                migrations.AddField(
                    model_name="tenant",
                    name="uid",
                    field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
                ),
            ],
        ),
    ]

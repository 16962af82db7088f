from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tenants", "0005_tenant_uid")]

    operations = [
        migrations.AddField(model_name="tenant", name="read_only", field=models.BooleanField(default=False, db_default=False)),
        migrations.AddField(
            model_name="tenant", name="billing_state", field=models.CharField(blank=True, default="", db_default="", max_length=16)
        ),
        migrations.AddField(model_name="tenant", name="billing_until", field=models.DateTimeField(blank=True, null=True)),
    ]

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("fleetapp", "0004_fleetnote_tag")]

    operations = [
        migrations.AddIndex(model_name="fleetnote", index=models.Index(fields=["tag"], name="fleetnote_tag_idx"))
    ]

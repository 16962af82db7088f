from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("fleetapp", "0002_fleetnote_score")]

    operations = [
        migrations.AddIndex(model_name="fleetnote", index=models.Index(fields=["score"], name="fleetnote_score_idx"))
    ]

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("fleetapp", "0003_fleetnote_score_idx")]

    operations = [
        migrations.AddField(model_name="fleetnote", name="tag", field=models.CharField(max_length=40, null=True))
    ]

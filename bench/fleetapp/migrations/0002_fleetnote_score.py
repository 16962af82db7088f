from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("fleetapp", "0001_initial")]

    operations = [migrations.AddField(model_name="fleetnote", name="score", field=models.IntegerField(null=True))]

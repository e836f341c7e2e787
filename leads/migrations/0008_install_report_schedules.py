from django.db import migrations

from leads.schedules import install


class Migration(migrations.Migration):
    """The weekly report (crontab, Monday 07:00 UTC) and the hourly surge check."""

    dependencies = [("leads", "0007_api_key")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]

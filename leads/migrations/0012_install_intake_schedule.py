from django.db import migrations

from leads.schedules import install


class Migration(migrations.Migration):
    """Beat's sweep of pending public-form submissions, every minute."""

    dependencies = [("leads", "0011_submission")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]

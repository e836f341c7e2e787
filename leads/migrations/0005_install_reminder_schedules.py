from django.db import migrations

from leads.schedules import install


class Migration(migrations.Migration):
    dependencies = [("leads", "0004_install_email_schedule")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]

from django.db import migrations

from leads.schedules import install


class Migration(migrations.Migration):
    dependencies = [("leads", "0003_lead_email_bounced_at")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]

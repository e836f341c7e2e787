from django.db import migrations

from leads.schedules import install


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]

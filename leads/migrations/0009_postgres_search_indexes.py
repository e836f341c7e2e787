"""Indexes only PostgreSQL can use, created only there.

- Prefix search of the lead list (name and email starting with what was typed): btree indexes
  with the pattern operator classes, which LIKE 'abc%' can use under any collation.
- The response report reads created_at, owner and first_contacted_at of a cohort: an index
  that includes the last two answers it without reading the table.
"""

from django.db import migrations

INDEXES = {
    "lead_name_prefix": "CREATE INDEX IF NOT EXISTS lead_name_prefix ON leads_lead "
                        "(lower(name) text_pattern_ops, employer_id)",
    "lead_email_prefix": "CREATE INDEX IF NOT EXISTS lead_email_prefix ON leads_lead "
                         "(email varchar_pattern_ops, employer_id)",
    "lead_phone_prefix": "CREATE INDEX IF NOT EXISTS lead_phone_prefix ON leads_lead "
                         "(phone varchar_pattern_ops, employer_id)",
    "lead_emp_created_contact": "CREATE INDEX IF NOT EXISTS lead_emp_created_contact ON leads_lead "
                                "(employer_id, created_at) INCLUDE (owner_id, first_contacted_at)",
}


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for sql in INDEXES.values():
        schema_editor.execute(sql)


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("leads", "0008_install_report_schedules")]

    operations = [migrations.RunPython(create, drop)]

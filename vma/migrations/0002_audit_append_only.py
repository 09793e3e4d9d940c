"""Audit rows are append-only in the database too: UPDATE and DELETE raise (PostgreSQL)."""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION vma_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit rows are append-only (% on %)', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER vma_auditevent_append_only BEFORE UPDATE OR DELETE ON vma_auditevent
    FOR EACH ROW EXECUTE FUNCTION vma_audit_append_only();
CREATE TRIGGER vma_auditeventpatient_append_only BEFORE UPDATE OR DELETE ON vma_auditeventpatient
    FOR EACH ROW EXECUTE FUNCTION vma_audit_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS vma_auditevent_append_only ON vma_auditevent;
DROP TRIGGER IF EXISTS vma_auditeventpatient_append_only ON vma_auditeventpatient;
DROP FUNCTION IF EXISTS vma_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE, params=None)


class Migration(migrations.Migration):
    dependencies = [("vma", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]

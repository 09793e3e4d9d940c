"""The starter set of medication classes, refill protocols and red-flag terms (see refills/starter.py)."""

from django.db import migrations

from refills.starter import load, unload


class Migration(migrations.Migration):
    dependencies = [("refills", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]

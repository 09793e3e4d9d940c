"""The practice's follow-up cadence as data (editable in admin): 3 business days to acknowledge,
10 business days to give an appointment, a report 7 days after the visit (shorter when urgent)."""

from typing import Any

from django.db import migrations

RULES = [
    {"code": "no_ack", "days": 3, "urgent_days": 1, "business_days": True},
    {"code": "no_appointment", "days": 10, "urgent_days": 3, "business_days": True},
    {"code": "no_report", "days": 7, "urgent_days": 3, "business_days": False},
]


def load(apps: Any, schema_editor: Any) -> None:
    rule = apps.get_model("referrals", "FollowUpRule")
    for row in RULES:
        rule.objects.get_or_create(code=row["code"], defaults=row)


class Migration(migrations.Migration):
    dependencies = [("referrals", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]

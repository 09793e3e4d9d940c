"""The starter set of care-gap rules and standing-order protocols (practice data, editable in admin)."""

from typing import Any

from django.db import migrations

FLU_CVX = [
    "88", "135", "140", "141", "144", "149", "150", "151", "153", "155", "158", "161", "166", "168",
    "171", "185", "186", "197", "200", "201", "202", "205", "231", "320",
]  # fmt: skip
PNEUMO_CVX = ["33", "100", "109", "133", "152", "215", "216", "327"]

RULES: list[dict[str, Any]] = [
    {
        "code": "breast-cancer-screening",
        "title": "Breast cancer screening",
        "sex": "F",
        "min_age": 50,
        "max_age": 74,
        "evidence": [{"procedure": "mammogram", "months": 27}],
        "sort_order": 10,
    },
    {
        "code": "colorectal-cancer-screening",
        "title": "Colorectal cancer screening",
        "min_age": 45,
        "max_age": 75,
        "evidence": [
            {"procedure": "fit", "months": 12},
            {"procedure": "fit_dna", "months": 36},
            {"procedure": ["flex_sig", "ct_colonography"], "months": 60, "label": "flexible sigmoidoscopy or CT colonography"},
            {"procedure": "colonoscopy", "months": 120},
        ],
        "sort_order": 20,
    },
    {
        "code": "cervical-cancer-screening",
        "title": "Cervical cancer screening",
        "sex": "F",
        "min_age": 21,
        "max_age": 65,
        "evidence": [
            {"procedure": "cervical_cytology", "months": 36},
            {"procedure": "hpv_test", "months": 60, "min_age": 30},
        ],
        "sort_order": 30,
    },
    {
        "code": "diabetes-hba1c",
        "title": "HbA1c for diabetes",
        "problem_prefixes": ["E10", "E11", "E13"],
        "problem_label": "Diabetes",
        "evidence": [{"procedure": "hba1c", "months": 6}],
        "sort_order": 40,
    },
    {
        "code": "hypertension-bp-check",
        "title": "Blood-pressure check for hypertension",
        "problem_prefixes": ["I10"],
        "problem_label": "Hypertension",
        "evidence": [{"procedure": "bp_reading", "months": 12}],
        "sort_order": 50,
    },
    {
        "code": "influenza-vaccine",
        "title": "Annual influenza vaccine",
        "seasonal": True,
        "evidence": [{"cvx": FLU_CVX, "label": "influenza vaccine"}],
        "sort_order": 60,
    },
    {
        "code": "pneumococcal-vaccine-65",
        "title": "Pneumococcal vaccine at 65+",
        "min_age": 65,
        "evidence": [{"cvx": PNEUMO_CVX, "label": "pneumococcal vaccine"}],
        "sort_order": 70,
    },
]

PROTOCOLS: list[dict[str, Any]] = [
    {
        "code": "a1c-diabetes-6m",
        "title": "HbA1c",
        "problem_prefixes": ["E10", "E11", "E13"],
        "problem_label": "Diabetes",
        "procedure": "hba1c",
        "interval_months": 6,
        "sort_order": 10,
    },
    {
        "code": "lipids-yearly-htn-lipids",
        "title": "Lipid panel",
        "problem_prefixes": ["I10", "E78"],
        "problem_label": "Hypertension or hyperlipidemia",
        "procedure": "lipid_panel",
        "interval_months": 12,
        "sort_order": 20,
    },
    {
        "code": "tsh-levothyroxine-yearly",
        "title": "TSH",
        "medication_keywords": ["levothyroxine"],
        "procedure": "tsh",
        "interval_months": 12,
        "sort_order": 30,
    },
]


def load(apps: Any, schema_editor: Any) -> None:
    rule_model = apps.get_model("patients", "CareGapRule")
    protocol_model = apps.get_model("patients", "StandingOrderProtocol")
    for row in RULES:
        data = dict(row)
        rule_model.objects.get_or_create(code=data.pop("code"), defaults=data)
    for row in PROTOCOLS:
        data = dict(row)
        protocol_model.objects.get_or_create(code=data.pop("code"), defaults=data)


def unload(apps: Any, schema_editor: Any) -> None:
    apps.get_model("patients", "CareGapRule").objects.filter(code__in=[r["code"] for r in RULES]).delete()
    apps.get_model("patients", "StandingOrderProtocol").objects.filter(
        code__in=[p["code"] for p in PROTOCOLS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("patients", "0003_standingorderprotocol_allergy_caregaprule_and_more")]

    operations = [migrations.RunPython(load, unload)]

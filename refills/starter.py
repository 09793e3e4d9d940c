"""The starter set of medication classes, refill protocols and red-flag terms (practice data; edit in admin).

`load(apps, schema_editor)` is the data migration's body, and tests call it again because browser tests
flush the database. It only adds what is missing, so a practice's own edits survive a re-run.
"""

from __future__ import annotations

from typing import Any

LIPID = {"name": "Lipid panel", "months": 12, "match": ["lipid panel", "lipid profile"], "procedure": "lipid_panel"}
BMP = {
    "name": "Basic metabolic panel",
    "months": 12,
    "match": ["basic metabolic panel", "bmp", "comprehensive metabolic panel", "cmp"],
}
A1C = {"name": "HbA1c", "months": 6, "match": ["hba1c", "a1c", "hemoglobin a1c"], "procedure": "hba1c"}
TSH = {"name": "TSH", "months": 12, "match": ["tsh", "thyroid stimulating hormone"], "procedure": "tsh"}

# code, name, drug name patterns, DEA schedule, protocol (visit months, labs, max refills, max days) or None
CLASSES: list[tuple[str, str, list[str], str, tuple[int, list[dict[str, Any]], int, int] | None]] = [
    (
        "statin",
        "Statin",
        [
            "atorvastatin", "simvastatin", "rosuvastatin", "pravastatin", "lovastatin", "pitavastatin",
            "fluvastatin", "lipitor", "zocor", "crestor", "pravachol", "livalo",
        ],
        "",
        (12, [LIPID], 3, 90),
    ),
    (
        "ace-arb",
        "ACE inhibitor or ARB",
        [
            "lisinopril", "enalapril", "ramipril", "benazepril", "quinapril", "captopril", "fosinopril",
            "perindopril", "trandolapril", "moexipril", "losartan", "valsartan", "irbesartan", "olmesartan",
            "telmisartan", "candesartan", "azilsartan", "eprosartan", "zestril", "prinivil", "cozaar", "diovan",
            "benicar",
        ],
        "",
        (12, [BMP], 3, 90),
    ),
    ("metformin", "Metformin", ["metformin", "glucophage"], "", (12, [A1C], 3, 90)),
    ("levothyroxine", "Levothyroxine", ["levothyroxine", "synthroid", "levoxyl", "unithroid"], "", (12, [TSH], 3, 90)),
    # Controlled classes: recognised so that they never pass by protocol, whatever the request says.
    (
        "opioid-cii",
        "Opioid analgesic (Schedule II)",
        ["oxycodone", "hydrocodone", "morphine", "hydromorphone", "fentanyl", "methadone", "oxymorphone",
         "tapentadol", "percocet", "norco"],
        "CII",
        None,
    ),
    (
        "stimulant-cii",
        "Stimulant (Schedule II)",
        ["amphetamine", "dextroamphetamine", "lisdexamfetamine", "methylphenidate", "dexmethylphenidate",
         "adderall", "vyvanse", "ritalin", "concerta"],
        "CII",
        None,
    ),
    ("ciii", "Schedule III", ["buprenorphine", "testosterone", "suboxone", "ketamine"], "CIII", None),
    (
        "benzodiazepine",
        "Benzodiazepine (Schedule IV)",
        ["alprazolam", "lorazepam", "clonazepam", "diazepam", "temazepam", "chlordiazepoxide", "clorazepate",
         "xanax", "ativan", "klonopin", "valium"],
        "CIV",
        None,
    ),
    (
        "civ-other",
        "Other Schedule IV",
        ["zolpidem", "eszopiclone", "zaleplon", "tramadol", "carisoprodol", "modafinil", "phenobarbital",
         "ambien"],
        "CIV",
        None,
    ),
    ("cv", "Schedule V", ["pregabalin", "lacosamide", "lyrica"], "CV", None),
]  # fmt: skip

RED_FLAGS = [
    "chest pain",
    "chest pains",
    "chest tightness",
    "shortness of breath",
    "short of breath",
    "trouble breathing",
    "can't breathe",
    "suicidal",
    "suicide",
    "kill myself",
    "self-harm",
    "overdose",
    "fainted",
    "passed out",
    "swelling of the face",
    "tongue swelling",
    "throat swelling",
    "slurred speech",
    "stroke",
    "seizure",
    "severe bleeding",
]


def load(apps: Any, schema_editor: Any) -> None:
    """Add the starter classes, protocols and red-flag terms that are missing (by code / term)."""
    MedicationClass = apps.get_model("refills", "MedicationClass")
    RefillProtocol = apps.get_model("refills", "RefillProtocol")
    RedFlagTerm = apps.get_model("refills", "RedFlagTerm")
    for code, name, patterns, schedule, protocol in CLASSES:
        cls, created = MedicationClass.objects.get_or_create(
            code=code, defaults={"name": name, "drug_patterns": patterns, "controlled_schedule": schedule}
        )
        if created and protocol is not None:
            months, labs, refills, days = protocol
            RefillProtocol.objects.create(
                medication_class=cls,
                visit_within_months=months,
                required_labs=labs,
                max_refills=refills,
                max_days_supply=days,
            )
    for term in RED_FLAGS:
        RedFlagTerm.objects.get_or_create(term=term)


def unload(apps: Any, schema_editor: Any) -> None:
    apps.get_model("refills", "MedicationClass").objects.filter(code__in=[c[0] for c in CLASSES]).delete()
    apps.get_model("refills", "RedFlagTerm").objects.filter(term__in=RED_FLAGS).delete()

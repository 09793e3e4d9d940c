"""The starter questionnaires and visit-type rules (practice data: edit them in admin afterwards).

PHQ-9 and GAD-7 wording is the standard public-domain text (Pfizer, no permission needed).
"""

from django.db import migrations

FREQUENCY = [
    {"value": "0", "label": "Not at all", "score": 0},
    {"value": "1", "label": "Several days", "score": 1},
    {"value": "2", "label": "More than half the days", "score": 2},
    {"value": "3", "label": "Nearly every day", "score": 3},
]
STEM = "Over the last 2 weeks, how often have you been bothered by any of the following problems?"

PHQ9_ITEMS = [
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
    "Trouble concentrating on things, such as reading the newspaper or watching television",
    "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so fidgety "
    "or restless that you have been moving around a lot more than usual",
    "Thoughts that you would be better off dead or of hurting yourself in some way",
]
GAD7_ITEMS = [
    "Feeling nervous, anxious or on edge",
    "Not being able to stop or control worrying",
    "Worrying too much about different things",
    "Trouble relaxing",
    "Being so restless that it is hard to sit still",
    "Becoming easily annoyed or irritable",
    "Feeling afraid as if something awful might happen",
]


def _scale(items):
    return [
        {"id": f"q{i}", "text": text, "type": "choice", "options": FREQUENCY, "required": True}
        for i, text in enumerate(items, start=1)
    ]


def _q(qid, text, qtype="text", required=False, maps_to=None, **extra):
    q = {"id": qid, "text": text, "type": qtype, "required": required}
    if maps_to:
        q["maps_to"] = maps_to
    q.update(extra)
    return q


YES_NO = "yes_no"
FORMS = [
    {
        "code": "registration",
        "title": "New patient registration",
        "position": 10,
        "definition": {
            "sections": [
                {
                    "title": "About you",
                    "questions": [
                        _q("first_name", "First name", required=True, maps_to="patient.first_name"),
                        _q("last_name", "Last name", required=True, maps_to="patient.last_name"),
                        _q("phone", "Mobile phone", required=True, maps_to="patient.phone"),
                        _q("email", "Email", maps_to="patient.email"),
                        _q(
                            "preferred_channel",
                            "How should we contact you?",
                            "choice",
                            maps_to="patient.preferred_channel",
                            options=[
                                {"value": "sms", "label": "Text message"},
                                {"value": "email", "label": "Email"},
                                {"value": "voice", "label": "Phone call"},
                            ],
                        ),
                    ],
                },
                {
                    "title": "Address",
                    "questions": [
                        _q("address_line", "Street address", maps_to="patient.address_line"),
                        _q("city", "City", maps_to="patient.city"),
                        _q("state", "State (2 letters)", maps_to="patient.state"),
                        _q("postal_code", "ZIP code", maps_to="patient.postal_code"),
                    ],
                },
                {
                    "title": "Insurance",
                    "intro": "Take a photo of the front of your insurance card, or type the numbers.",
                    "questions": [
                        _q("member_id", "Member ID", maps_to="coverage.member_id"),
                        _q("group_number", "Group number", maps_to="coverage.group_number"),
                        _q("card_front", "Photo of your insurance card (front)", "file", maps_to="coverage.card_image"),
                    ],
                },
            ]
        },
    },
    {
        "code": "hipaa_consent",
        "title": "Consent and privacy notice",
        "position": 20,
        "definition": {
            "sections": [
                {
                    "title": "Consent and notice",
                    "intro": "Our Notice of Privacy Practices explains how we use and protect your health "
                    "information. You may ask the office for a copy at any time.",
                    "questions": [
                        _q(
                            "notice_ack",
                            "I have received or been offered the Notice of Privacy Practices",
                            YES_NO,
                            required=True,
                            maps_to="consent",
                        ),
                        _q("treatment_consent", "I consent to treatment by the practice", YES_NO, True, "consent"),
                        _q(
                            "financial_ack",
                            "I understand I am responsible for charges my insurance does not pay",
                            YES_NO,
                            True,
                            "consent",
                        ),
                        _q("signature", "Type your full name as your signature", required=True),
                    ],
                }
            ]
        },
    },
    {
        "code": "medical_history",
        "title": "Medical history update",
        "position": 30,
        "definition": {
            "sections": [
                {
                    "title": "Since your last visit",
                    "questions": [
                        _q(
                            "conditions",
                            "Do you have any of these conditions?",
                            "multi",
                            options=[
                                {"value": "diabetes", "label": "Diabetes"},
                                {"value": "hypertension", "label": "High blood pressure"},
                                {"value": "heart", "label": "Heart disease"},
                                {"value": "asthma_copd", "label": "Asthma or COPD"},
                                {"value": "cancer", "label": "Cancer"},
                                {"value": "depression_anxiety", "label": "Depression or anxiety"},
                            ],
                        ),
                        _q("hospital", "Have you been in the hospital or emergency room since your last visit?", YES_NO, True),
                        _q("hospital_detail", "If yes: where, when and why?", multiline=True),
                        _q("surgeries", "Surgeries (what and when)", multiline=True),
                        _q("smoking", "Do you smoke or use tobacco?", YES_NO),
                    ],
                }
            ]
        },
    },
    {
        "code": "medications_allergies",
        "title": "Medications and allergies",
        "position": 40,
        "definition": {
            "sections": [
                {
                    "title": "Medications and allergies",
                    "intro": 'One per line. Write "none" if there are none.',
                    "questions": [
                        _q(
                            "medications",
                            "Medicines you take (name, dose), including vitamins and over-the-counter",
                            required=True,
                            maps_to="medication",
                        ),
                        _q("allergies", "Allergies (what, reaction)", required=True, maps_to="allergy"),
                    ],
                }
            ]
        },
    },
    {
        "code": "phq9",
        "title": "PHQ-9",
        "position": 50,
        "definition": {"scoring": "phq9", "sections": [{"title": STEM, "questions": _scale(PHQ9_ITEMS)}]},
    },
    {
        "code": "gad7",
        "title": "GAD-7",
        "position": 60,
        "definition": {"scoring": "gad7", "sections": [{"title": STEM, "questions": _scale(GAD7_ITEMS)}]},
    },
]
RULES = {
    "New patient visit": ["registration", "hipaa_consent", "medical_history", "medications_allergies", "phq9", "gad7"],
    "*": ["medical_history", "medications_allergies"],
}


def forwards(apps, schema_editor):
    Questionnaire = apps.get_model("intake", "Questionnaire")
    IntakeRule = apps.get_model("intake", "IntakeRule")
    by_code = {}
    for form in FORMS:
        by_code[form["code"]], _ = Questionnaire.objects.get_or_create(
            code=form["code"], version=1, defaults={k: v for k, v in form.items() if k != "code"}
        )
    for visit_type, codes in RULES.items():
        rule, _ = IntakeRule.objects.get_or_create(visit_type=visit_type, defaults={"send_hours_before": 72})
        rule.questionnaires.add(*(by_code[c] for c in codes))


def backwards(apps, schema_editor):
    apps.get_model("intake", "IntakeRule").objects.filter(visit_type__in=RULES).delete()
    apps.get_model("intake", "Questionnaire").objects.filter(code__in=[f["code"] for f in FORMS], version=1).delete()


class Migration(migrations.Migration):
    dependencies = [("intake", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]

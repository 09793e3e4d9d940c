"""App config for encounters."""

from django.apps import AppConfig


class EncountersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "encounters"
    verbose_name = "Encounters, notes and after visit summaries"

    def ready(self) -> None:
        pass

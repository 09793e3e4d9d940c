"""App config for telehealth."""

from django.apps import AppConfig


class TelehealthConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "telehealth"
    verbose_name = "Virtual waiting room"

    def ready(self) -> None:
        pass

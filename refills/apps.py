"""App config for refills."""

from django.apps import AppConfig


class RefillsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "refills"
    verbose_name = "Refills"

    def ready(self) -> None:
        pass

"""App config for orders."""

from django.apps import AppConfig


class OrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orders"
    verbose_name = "Orders and the signing queue"

    def ready(self) -> None:
        pass

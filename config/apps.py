from django.apps import AppConfig


class ConfigConfig(AppConfig):
    name = "config"
    verbose_name = "Site configuration"

    def ready(self) -> None:
        from config import checks, security  # noqa: F401  (registers checks and receivers)

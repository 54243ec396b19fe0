from django.apps import AppConfig


class DeskConfig(AppConfig):
    """The top app: pages and commands that compose several apps (docs/architecture.md)."""

    name = "desk"

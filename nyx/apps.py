from django.apps import AppConfig


class NyxConfig(AppConfig):
    name = "nyx"
    verbose_name = "Nyx"

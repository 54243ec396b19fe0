from django.apps import AppConfig


class EconomyConfig(AppConfig):
    name = "economy"

    def ready(self):
        from accounts.signals import rank_changed
        from economy.ledger import move_rank

        rank_changed.connect(move_rank, dispatch_uid="economy.ledger.move_rank")

from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"

    def ready(self):
        from accounts.signals import rank_changed
        from tickets.review_totals import move_rank

        rank_changed.connect(move_rank, dispatch_uid="tickets.review_totals.move_rank")

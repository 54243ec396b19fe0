"""Reads of tickets that depend on who is asking."""

from tickets.models import Ticket


def assigned_to(user):
    """Tickets assigned to `user` that are not closed, most recently changed first."""
    return (
        Ticket.objects.filter(assignee_id=user.id)
        .exclude(status=Ticket.Status.CLOSED)
        .order_by("-updated_at", "-id")
    )

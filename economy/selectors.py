"""Reads of the ledger that depend on who is asking."""

from accounts.policy import Action, can
from accounts.selectors import person_for
from directorate.errors import NotFound
from economy.models import Transaction


def ledger_owner_for(viewer, user_id=None):
    """Whose ledger `viewer` may read: their own, or a subordinate's for those who manage pay."""
    if not user_id or str(user_id) == viewer.id:
        return viewer
    person = person_for(viewer, user_id)
    if not can(viewer, Action.ADJUST_CREDITS, person):
        raise NotFound("No such ledger.")
    return person


def ledger_of(person):
    """A person's ledger entries, newest first."""
    return (
        Transaction.objects.filter(user_id=person.id)
        .select_related("approved_by", "related_ticket")
        .order_by("-ts", "-id")
    )


def recent_rewards(person, limit=5):
    return list(ledger_of(person).exclude(type=Transaction.Type.MANUAL_ADJ)[:limit])

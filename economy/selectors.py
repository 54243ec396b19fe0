"""Reads of the ledger that depend on who is asking."""

import itertools

from accounts.policy import Action, can
from accounts.selectors import person_for
from directorate.errors import NotFound
from economy.models import Transaction
from tickets.selectors import visible_tickets

EXPORT_BATCH = 500


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


def visible_ticket_ids(viewer, entries):
    """The tickets of `entries` that `viewer` may see: only those are named, not even by id otherwise."""
    ticket_ids = {entry.related_ticket_id for entry in entries if entry.related_ticket_id}
    if not ticket_ids:
        return set()
    return set(visible_tickets(viewer).filter(id__in=ticket_ids).values_list("id", flat=True))


def ledger_for_export(viewer, owner):
    """Every entry of `owner`'s ledger, newest first, each with whether `viewer` may see its ticket.

    Read in batches, so a long ledger is never held in memory whole.
    """
    for batch in itertools.batched(ledger_of(owner).iterator(chunk_size=EXPORT_BATCH), EXPORT_BATCH):
        visible = visible_ticket_ids(viewer, batch)
        for entry in batch:
            yield entry, entry.related_ticket_id in visible

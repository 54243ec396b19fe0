"""Reads that compose several apps, depending on who asks: the ledger's entries with the tickets they name."""

import itertools
from collections.abc import Iterable, Iterator

from accounts.models import User
from accounts.policy import is_involved
from directorate import keyset
from economy.models import Transaction
from economy.selectors import ledger_of
from tickets.selectors import visible_tickets

EXPORT_BATCH = 500


def visible_ticket_ids(viewer: User, entries: Iterable[Transaction]) -> set[str]:
    """The tickets of `entries` that `viewer` may see: only those are named, not even by id otherwise."""
    tickets = {entry.related_ticket_id: entry.related_ticket for entry in entries if entry.related_ticket_id}
    # Most are the reader's own work (author, assignee or reviewer): the policy says so without a read.
    seen = {ticket_id for ticket_id, ticket in tickets.items() if is_involved(viewer, ticket)}
    others = tickets.keys() - seen
    if others:
        seen |= set(visible_tickets(viewer, narrowed_to_ids=True).filter(id__in=others).values_list("id", flat=True))
    return seen


def ledger_page(viewer: User, owner: User, cursor: str | None, *, size: int) -> tuple[keyset.Page, set[str]]:
    """A page of `owner`'s ledger, newest first, continuing after `cursor`, with the ids of its tickets that
    `viewer` may see (only those are named). The ledger page and the API read it alike."""
    page = keyset.page(ledger_of(owner), field="ts", cursor=cursor, size=size)
    return page, visible_ticket_ids(viewer, page.items)


def ledger_for_export(viewer: User, owner: User) -> Iterator[tuple[Transaction, bool]]:
    """Every entry of `owner`'s ledger, newest first, each with whether `viewer` may see its ticket.

    Read in batches, so a long ledger is never held in memory whole.
    """
    for batch in itertools.batched(ledger_of(owner).iterator(chunk_size=EXPORT_BATCH), EXPORT_BATCH):
        visible = visible_ticket_ids(viewer, batch)
        for entry in batch:
            yield entry, entry.related_ticket_id in visible

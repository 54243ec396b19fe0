"""Tickets through the real services and selectors, on the MongoDB backend."""

from datetime import timedelta

import pytest

from accounts.models import Notification
from directorate.db import now
from directorate.errors import Forbidden, Invalid, NotFound
from tickets.models import Ticket, TicketWatcher
from tickets.selectors import assigned_to, keyset_page, review_queue, visible_tickets
from tickets.services import create_ticket


def open_ticket(actor, assignee, title, **extra):
    return create_ticket(
        actor=actor, assignee_id=assignee.id, category="Order", sub_category="Routine Directive", title=title, **extra
    )


def test_create_ticket_with_watchers(org):
    shadow, asset = org["shadow"], org["asset"]
    ticket = open_ticket(
        shadow, asset, "  Watch the north gate  ", body_md="From **dusk**.",
        watcher_ids=[org["marshal"].id, org["asset_2"].id, org["marshal"].id],
    )
    stored = Ticket.objects.get(id=ticket.id)
    assert (stored.title, stored.body_md, stored.status) == ("Watch the north gate", "From **dusk**.", "open")
    assert (stored.author_id, stored.assignee_id, stored.target_rank) == (shadow.id, asset.id, "asset")
    assert stored.visibility == Ticket.Visibility.HIERARCHICAL and stored.reviewer_id is None
    assert stored.created_at == ticket.created_at  # stored to the millisecond, read back equal

    links = TicketWatcher.objects.filter(ticket_id=ticket.id).order_by("user_id")
    assert [link.user_id for link in links] == sorted([org["marshal"].id, org["asset_2"].id])  # once each

    inbox = list(Notification.objects.filter(user_id=asset.id, read=False).order_by("-ts"))
    assert [note.ticket_id for note in inbox] == [ticket.id]
    assert "Watch the north gate" in inbox[0].message


def test_create_ticket_upward_and_refusals(org):
    asset = org["asset"]
    upward = open_ticket(asset, org["shadow"], "Report from the depot")
    assert Ticket.objects.get(id=upward.id).assignee_id == org["shadow"].id

    with pytest.raises(Forbidden):
        open_ticket(asset, org["marshal"], "Skipping my superior")  # visible, but neither superior nor below
    with pytest.raises(NotFound):
        open_ticket(asset, org["asset_3"], "Out of sight")
    with pytest.raises(NotFound):
        open_ticket(asset, org["asset"], "Hidden watcher", watcher_ids=[org["niki"].id])
    with pytest.raises(Invalid) as invalid:
        create_ticket(actor=asset, assignee_id=asset.id, category="Order", sub_category="Leave", title="")
    assert set(invalid.value.field_errors) == {"title", "sub_category"}
    assert [ticket.id for ticket in Ticket.objects.all()] == [upward.id]


def test_assigned_to_newest_first_without_closed(org):
    marshal, shadow = org["marshal"], org["shadow"]
    first = open_ticket(marshal, shadow, "First")
    second = open_ticket(marshal, shadow, "Second")
    third = open_ticket(marshal, shadow, "Third")
    open_ticket(marshal, org["asset"], "For someone else")

    assert [ticket.id for ticket in assigned_to(shadow)] == [third.id, second.id, first.id]

    # The guarded state change the services use: a conditional update, checked by its count.
    assert Ticket.objects.filter(id=second.id, status=Ticket.Status.OPEN).update(status=Ticket.Status.CLOSED) == 1
    assert Ticket.objects.filter(id=second.id, status=Ticket.Status.OPEN).update(status=Ticket.Status.CLOSED) == 0
    assert [ticket.id for ticket in assigned_to(shadow)] == [third.id, first.id]
    assert [ticket.title for ticket in assigned_to(shadow)[:1]] == ["Third"]
    assert list(assigned_to(org["asset_2"])) == []


def test_review_queue_oldest_first(org):
    shadow = org["shadow"]
    tickets = [open_ticket(org["marshal"], org["asset"], f"Task {number}") for number in range(3)]
    moment = now()
    for age, ticket in enumerate(tickets):  # the first created was changed last
        Ticket.objects.filter(id=ticket.id).update(
            status=Ticket.Status.AWAITING_REVIEW, reviewer_id=shadow.id, updated_at=moment - timedelta(minutes=age)
        )
    assert [ticket.title for ticket in review_queue(shadow)] == ["Task 2", "Task 1", "Task 0"]
    assert list(review_queue(org["marshal"])) == []


def test_visible_tickets_of_small_subtrees_by_their_members_ids(org):
    # No join: the subtree's member ids are read first, then the tickets by assignee and author.
    directive = open_ticket(org["shadow"], org["asset"], "Down the chain")
    upward = open_ticket(org["asset_3"], org["shadow_2"], "Up the other branch")
    private = open_ticket(org["shadow"], org["asset_2"], "Between two", visibility="private")

    def seen(name):
        return {ticket.id for ticket in visible_tickets(org[name])}

    assert seen("marshal") == {directive.id}
    assert seen("executor") == {directive.id, upward.id}
    assert seen("asset_2") == {private.id}
    assert seen("marshal_3") == set()


def test_keyset_page_newest_first(org):
    titles = [open_ticket(org["marshal"], org["shadow"], f"Task {number}").title for number in range(5)]
    first = keyset_page(Ticket.objects.all(), size=3)
    rest = keyset_page(Ticket.objects.all(), first.next_cursor, size=3)
    assert [ticket.title for ticket in first.items + rest.items] == titles[::-1]
    assert rest.next_cursor is None

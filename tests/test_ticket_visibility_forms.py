"""The two forms of "tickets of my subtree" (tickets.selectors._in_subtree_of) see exactly the same tickets.

A small subtree is matched by its members' ids, a large one by the people's chains; which one a viewer
gets depends on the size of the organisation, so each viewer is checked under both.
"""

import pytest

from accounts.ranks import Rank
from accounts.services import move_member
from directorate.db import atomic
from directorate.errors import NotFound
from tests.factories import ORG
from tickets import selectors, services
from tickets.models import Ticket

MEMBERS = list(ORG[2:])  # below Nyx
VIEWERS = ["niki", "nyx", *MEMBERS]


def ticket(author, assignee, visibility="hierarchical", **extra):
    return services.create_ticket(
        actor=author,
        title=f"{author.username} to {assignee.username}",
        category="Order",
        sub_category="Routine Directive",
        assignee_id=assignee.id,
        visibility=visibility,
        **extra,
    )


@pytest.fixture
def board(org):
    """Upward tickets, directives down and to oneself, private and hierarchical, watched and under review."""
    for name in MEMBERS:
        member = org[name]
        superior = member.reports_to
        for visibility in ("hierarchical", "private"):
            ticket(member, member, visibility)
            if superior.rank != Rank.NYX:
                ticket(member, superior, visibility)
        for report in (org[other] for other in MEMBERS if org[other].reports_to_id == member.id):
            ticket(member, report, "private")
            ticket(member, report, watcher_ids=[member.id])
    under_review = ticket(org["shadow"], org["asset"])
    services.start_work(actor=org["asset"], ticket_id=under_review.id)
    services.submit_for_review(actor=org["asset"], ticket_id=under_review.id, reward_credits=1, reward_pay="3.00")
    watched = ticket(org["marshal_2"], org["shadow_2"], watcher_ids=[org["asset_3"].id])
    # asset_2 reported to shadow, then moves to shadow_2's branch: what shadow wrote to asset_2 stays
    # in shadow's subtree through its author only.
    written_before_the_move = ticket(org["shadow"], org["asset_2"])
    with atomic():
        move_member(org["asset_2"], rank=Rank.ASSET, superior=org["shadow_2"], approved_by=org["niki"])
    return {"count": Ticket.objects.count(), "watched": watched, "moved": written_before_the_move}


def seen(viewer, scope="all"):
    tickets = selectors.filtered_tickets(viewer, selectors.TicketFilters(scope=scope))
    return set(tickets.values_list("id", flat=True))


@pytest.mark.parametrize("scope", ["all", "subordinates"])
@pytest.mark.parametrize("viewer", VIEWERS)
def test_matching_by_ids_and_by_chains_sees_the_same_tickets(org, board, viewer, scope, monkeypatch):
    monkeypatch.setattr(selectors, "SUBTREE_BY_ID_MAX", 1000)
    by_ids = seen(org[viewer], scope)
    monkeypatch.setattr(selectors, "SUBTREE_BY_ID_MAX", -1)
    by_chains = seen(org[viewer], scope)
    assert by_ids == by_chains
    if viewer in ("executor", "marshal", "shadow"):
        assert 0 < len(by_ids) < board["count"]


def test_a_subtree_seen_by_ids_keeps_the_rules(org, board, monkeypatch):
    monkeypatch.setattr(selectors, "SUBTREE_BY_ID_MAX", 1000)
    private_below = Ticket.objects.filter(
        author_id=org["shadow"].id, assignee_id=org["asset"].id, visibility=Ticket.Visibility.PRIVATE
    ).values_list("id", flat=True)
    assert private_below and not seen(org["marshal"]) & set(private_below)
    assert board["moved"].id in seen(org["marshal"])  # written in marshal's subtree, assigned outside it now
    assert board["watched"].id in seen(org["asset_3"])


@pytest.mark.parametrize("viewer", VIEWERS)
def test_a_query_narrowed_to_ids_sees_what_the_list_sees(org, board, viewer, monkeypatch):
    # One ticket's page and a ledger page's tickets match the subtree by chain, whatever its size.
    monkeypatch.setattr(selectors, "SUBTREE_BY_ID_MAX", 1000)  # the list by ids, as for a small subtree
    listed = seen(org[viewer])
    every_id = list(Ticket.objects.values_list("id", flat=True))
    narrowed = selectors.visible_tickets(org[viewer], narrowed_to_ids=True).filter(id__in=every_id)
    assert set(narrowed.values_list("id", flat=True)) == listed
    for ticket_id in every_id:
        if ticket_id in listed:
            assert selectors.ticket_for(org[viewer], ticket_id).id == ticket_id
        else:
            with pytest.raises(NotFound):
                selectors.ticket_for(org[viewer], ticket_id)

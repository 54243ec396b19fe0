"""`manage.py seed_scale`: a consistent organisation for benchmarks, at a small size."""

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from accounts.ranks import Rank
from accounts.selectors import subordinates_of
from accounts.services import bootstrap_directorate
from economy.models import Transaction
from tests.invariants import assert_ledger_invariant
from tickets.models import RANK_CHANGES, ApprovalStep, Ticket

pytestmark = pytest.mark.django_db


def test_refuses_before_bootstrap():
    with pytest.raises(CommandError, match="run `manage.py bootstrap` first"):
        call_command("seed_scale", users=20, tickets=10, quiet=True)


def test_seeds_a_consistent_organisation():
    bootstrap_directorate(niki_password="a-long-enough-password")
    call_command("seed_scale", users=60, tickets=400, seed=3, quiet=True)

    people = {person.id: person for person in User.objects.all()}
    humans = (Rank.EXECUTOR, Rank.MARSHAL, Rank.SHADOW, Rank.ASSET)
    assert sum(person.rank in humans for person in people.values()) == 60
    for person in people.values():
        if person.rank == Rank.NIKI:
            continue
        superior = people[person.reports_to_id]
        assert person.chain == f"{superior.chain}{person.id}/"
        assert list(Rank).index(superior.rank) > list(Rank).index(person.rank)
    # Subtrees are read as a range on the chain (accounts.selectors.in_subtree): the same people as a prefix match.
    for person in people.values():
        expected = User.objects.filter(chain__startswith=person.chain, hidden=False).exclude(id=person.id)
        assert set(subordinates_of(person).values_list("id", flat=True)) == set(expected.values_list("id", flat=True))
    assert set(Ticket.objects.values_list("status", flat=True)) == set(Ticket.Status.values)
    # Personnel requests are decided, never paid: the paid workload has none.
    assert not set(Ticket.objects.values_list("category", "sub_category")) & set(RANK_CHANGES)
    for ticket in Ticket.objects.exclude(status__in=["open", "in_progress"]):
        assert people[ticket.reviewer_id].chain != people[ticket.assignee_id].chain
        assert people[ticket.assignee_id].chain.startswith(people[ticket.reviewer_id].chain)
    closed = Ticket.objects.filter(status=Ticket.Status.CLOSED)
    assert Transaction.objects.count() == 2 * closed.count()
    assert ApprovalStep.objects.filter(decision=ApprovalStep.Decision.APPROVED).count() == closed.count()
    assert assert_ledger_invariant() == 62

    with pytest.raises(CommandError, match="already seeded"):
        call_command("seed_scale", users=20, tickets=10, quiet=True)

"""The demo organisation, seeded by the real service, on the MongoDB backend."""

from collections import Counter

import pytest

from accounts import selectors
from accounts.models import User
from desk.demo import organisation_is_empty, seed_demo_organisation
from directorate.errors import Invalid
from tickets.models import Ticket
from tickets.selectors import assigned_to


def test_seed_demo_organisation(directorate):
    assert organisation_is_empty()
    members = seed_demo_organisation(password="demo-password-123")
    assert not organisation_is_empty()

    assert len(members) == 19
    stored = {person.username: person for person in User.objects.all()}
    assert len(stored) == 21  # with Niki and Nyx
    assert Counter(person.rank for person in stored.values()) == {
        "asset": 12, "shadow": 4, "marshal": 2, "executor": 1, "nyx": 1, "niki": 1,
    }
    assert stored["asset.north"].check_password("demo-password-123")
    # The tree: 3 assets under each of the first shadows, 2 shadows under each marshal.
    assert [person.username for person in selectors.direct_reports_of(stored["shadow.holt"]).order_by("username")] == [
        "asset.lark", "asset.moss", "asset.north",
    ]
    assert len(selectors.subordinates_of(stored["marshal.vance"])) == 8
    assert len(selectors.subordinates_of(stored["executor.kade"])) == 18
    assert [person.username for person in selectors.superiors_of(stored["asset.north"])] == [
        "shadow.holt", "marshal.vance", "executor.kade", "nyx",
    ]

    tickets = {ticket.title: ticket for ticket in Ticket.objects.all()}
    assert len(tickets) == 5
    assert [ticket.title for ticket in Ticket.objects.filter(visibility="private")] == ["Service the courier bicycles"]
    assert [ticket.title for ticket in assigned_to(stored["shadow.holt"])] == ["Night-vision kit for the depot watch"]
    assert tickets["Observe the east depot"].author_id == stored["shadow.holt"].id

    # Seeding is refused by the unique names the second time round.
    with pytest.raises(Invalid, match="could not be enlisted"):
        seed_demo_organisation(password="demo-password-123")
    assert len(User.objects.all()) == 21

"""Queries that mongomock cannot evaluate: compiled for MongoDB, not run.

Each test compiles the query through the backend, exactly as a real run would (an ORM
feature MongoDB cannot run fails at this step), checks the shape of the pipeline, and
shows that running it over mongomock fails on mongomock's side, with the operator it
lacks. Each of these operators is valid MongoDB (7.0 and later, which the backend needs).
The gaps, as of mongomock 4.3.0:

- `$lookup` with `pipeline` (the backend's form of every join: `select_related`, filters
  across relations, many-to-many reads): "'pipeline' is a valid lookup operator ...
  not implemented in Mongomock".
- the `$type` aggregation expression (in the `$group`), `$unionWith` and `$documents`,
  which every `count()` (and other aggregate without GROUP BY) is made of:
  "Unrecognized expression '$type'".
- arithmetic and comparison on Decimal128: the wallet update in test_economy.py.

test_pages.py has the directory's paginator count the fetched rows, for the same `count()` gap.

If a mongomock upgrade evaluates one of these, its test fails at `mongomock_refuses`:
turn it into a test of real results then.
"""

import pytest
from django.contrib.auth.models import Permission
from django.db import DatabaseError
from django.db.models import Q

from accounts import selectors
from economy.selectors import ledger_of
from tests_mongo_smoke.conftest import compile_only, stages
from tickets import selectors as ticket_selectors
from tickets.services import create_ticket

LOOKUP_WITH_PIPELINE = "'pipeline' is a valid lookup operator"


def mongomock_refuses(run, message):
    with pytest.raises((NotImplementedError, DatabaseError), match=message):
        run()


@pytest.fixture
def ticket(org):
    return create_ticket(
        actor=org["marshal"], assignee_id=org["shadow"].id, category="Order", sub_category="Routine Directive",
        title="Inventory the archive", watcher_ids=[org["asset"].id],
    )


def test_count(org):
    subordinates = selectors.subordinates_of(org["executor"])
    collection, pipeline = compile_only(subordinates.count)
    assert collection == "accounts_user"
    chain = org["executor"].chain  # a subtree is a range on the indexed chain (accounts.selectors.in_subtree)
    match = pipeline[0]["$match"]["$and"]
    assert match[0] == {"chain": {"$gte": chain}}
    assert {"chain": {"$lt": chain[:-1] + "0"}} in match[1]["$and"]
    assert stages(pipeline, "$group")[0]["_id"] is None
    assert stages(pipeline, "$unionWith") == [{"pipeline": [{"$documents": [{}]}]}]
    mongomock_refuses(subordinates.count, r"Unrecognized expression '\$type'")
    assert len(subordinates) == 7  # the same query's rows, which mongomock does evaluate


def test_directory_count(org):
    # The count the directory's paginator takes (test_pages.py counts the fetched rows instead).
    people = selectors.people_visible_to(org["marshal"]).filter(
        Q(display_name__icontains="one") | Q(username__icontains="one")
    ).order_by("display_name", "id")
    collection, pipeline = compile_only(people.count)
    assert collection == "accounts_user" and stages(pipeline, "$unionWith")
    mongomock_refuses(people.count, r"Unrecognized expression '\$type'")
    assert {person.username for person in people} == {"marshal.one", "shadow.one", "asset.one", "executor.one"}


def test_visible_tickets_of_a_large_subtree_joins_the_people(org, ticket, monkeypatch):
    # A small subtree is matched by its members' ids and runs for real (test_tickets.py); a large one joins.
    monkeypatch.setattr(ticket_selectors, "SUBTREE_BY_ID_MAX", -1)
    tickets = ticket_selectors.visible_tickets(org["executor"])  # reads the watch list and subtree for real
    collection, pipeline = compile_only(lambda: list(tickets))
    assert collection == "tickets_ticket"
    lookups = stages(pipeline, "$lookup")
    assert {(lookup["from"], lookup["localField"]) for lookup in lookups} == {
        ("accounts_user", "assignee_id"), ("accounts_user", "author_id"),
    }
    mongomock_refuses(lambda: list(tickets), LOOKUP_WITH_PIPELINE)


def test_ticket_for(org, ticket):
    # The watch list is read first, for real (a plain query); the ticket read joins the people.
    collection, pipeline = compile_only(
        lambda: ticket_selectors.ticket_for(org["marshal"], ticket.id), collection="tickets_ticket"
    )
    assert collection == "tickets_ticket"
    assert {"author_id", "assignee_id", "reviewer_id"} <= {
        lookup["localField"] for lookup in stages(pipeline, "$lookup")
    }
    mongomock_refuses(lambda: ticket_selectors.ticket_for(org["marshal"], ticket.id), LOOKUP_WITH_PIPELINE)


def test_watchers_of(org, ticket):
    collection, pipeline = compile_only(lambda: ticket_selectors.watchers_of(ticket))
    assert collection == "accounts_user"
    (lookup,) = stages(pipeline, "$lookup")
    assert (lookup["from"], lookup["localField"], lookup["foreignField"]) == ("tickets_ticketwatcher", "_id", "user_id")
    mongomock_refuses(lambda: ticket_selectors.watchers_of(ticket), LOOKUP_WITH_PIPELINE)
    mongomock_refuses(lambda: list(ticket.watchers.all()), LOOKUP_WITH_PIPELINE)


def test_the_ticket_list_page(org, ticket):
    # The list shows each ticket's assignee: one join (keyset_page alone runs for real, test_tickets.py).
    queue = ticket_selectors.TicketFilters(scope="queue")
    page = lambda: ticket_selectors.list_page(org["marshal"], queue)  # noqa: E731
    collection, pipeline = compile_only(page)
    assert collection == "tickets_ticket"
    assert stages(pipeline, "$limit") == [26]
    assert list(stages(pipeline, "$sort")[0].items()) == [("updated_at", -1), ("_id", -1)]
    assert [lookup["localField"] for lookup in stages(pipeline, "$lookup")] == ["assignee_id"]
    mongomock_refuses(page, LOOKUP_WITH_PIPELINE)


def test_ledger_of(org):
    collection, pipeline = compile_only(lambda: list(ledger_of(org["asset"])))
    assert collection == "economy_transaction"
    assert {lookup["from"] for lookup in stages(pipeline, "$lookup")} == {"tickets_ticket", "accounts_user"}
    assert {"user_id": org["asset"].id} in stages(pipeline, "$match")
    mongomock_refuses(lambda: list(ledger_of(org["asset"])), LOOKUP_WITH_PIPELINE)


def test_permissions_of_contrib_auth(db):
    # Django's post_migrate `create_permissions` reads these; conftest.py disconnects it for this suite.
    permissions = Permission.objects.filter(content_type__app_label="accounts").select_related("content_type")
    collection, pipeline = compile_only(lambda: list(permissions))
    assert collection == "auth_permission"
    assert stages(pipeline, "$lookup")[0]["from"] == "django_content_type"
    mongomock_refuses(lambda: list(permissions), LOOKUP_WITH_PIPELINE)

"""Model invariants (append-only ledger, ObjectId keys, millisecond times) and ticket creation's refusals."""

import re
from decimal import Decimal

import pytest
from bson import ObjectId
from django.apps import apps
from django.db import IntegrityError, models, transaction
from django.db.models.deletion import ProtectedError

from accounts.models import LoginFailure, Notification, User
from accounts.presentation import shown_name
from accounts.ranks import Rank
from accounts.services import sign_in
from directorate.db import now
from directorate.errors import Forbidden, Invalid, NotFound
from economy.models import Transaction
from tests.factories import ROUTINE, ledger_entry, new_ticket
from tickets.models import Ticket, TicketWatcher
from tickets.services import create_ticket

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
OUR_APPS = ["accounts", "tickets", "economy", "nyx"]


@pytest.fixture
def entry(org):
    """A ledger entry, with the wallet and daily totals it explains (the invariants hold)."""
    return ledger_entry(
        org["asset"],
        type=Transaction.Type.MANUAL_ADJ,
        credits=5,
        pay="1.50",
        approved_by=org["marshal"],
        reason="Opening balance",
    )


def stored(entry):
    return Transaction.objects.filter(id=entry.id).values_list("amount_cr", "amount_pay", "reason", "type").get()


ORIGINAL = (5, Decimal("1.50"), "Opening balance", "manual_adj")


# --- the ledger is append-only -----------------------------------------------------------------


def test_an_existing_entry_cannot_be_saved_again(entry):
    entry.amount_cr = 500
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.save(update_fields=["amount_cr"])
    with pytest.raises(TypeError):
        entry.save(force_insert=True)
    loaded = Transaction.objects.get(id=entry.id)
    loaded.reason = "rewritten"
    with pytest.raises(TypeError):
        loaded.save()
    assert stored(entry) == ORIGINAL


def test_an_entry_cannot_be_deleted(entry):
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        Transaction.objects.get(id=entry.id).delete()
    assert stored(entry) == ORIGINAL


@pytest.mark.parametrize(
    "attempt",
    [
        lambda e: Transaction.objects.filter(id=e.id).update(amount_cr=0),
        lambda e: Transaction.objects.update(amount_cr=0),
        lambda e: Transaction.objects.all().update(reason="gone"),
        lambda e: Transaction.objects.values("id").update(amount_cr=0),
        lambda e: Transaction.objects.select_related("user").filter(id=e.id).update(amount_cr=0),
        lambda e: Transaction.objects.filter(id=e.id).delete(),
        lambda e: Transaction.objects.all().delete(),
        lambda e: Transaction.objects.delete(),
        lambda e: e.user.transactions.update(amount_cr=0),
        lambda e: e.user.transactions.all().delete(),
        lambda e: Transaction.objects.bulk_update([e], ["amount_cr"]),
        lambda e: Transaction.objects.update_or_create(id=e.id, defaults={"amount_cr": 0}),
    ],
    ids=[
        "filter-update",
        "manager-update",
        "all-update",
        "values-update",
        "select_related-update",
        "filter-delete",
        "all-delete",
        "manager-delete",
        "related-update",
        "related-delete",
        "bulk_update",
        "update_or_create",
    ],
)
def test_bulk_changes_are_refused(entry, attempt):
    with pytest.raises(TypeError), transaction.atomic():  # a savepoint: some of these open a transaction
        attempt(entry)
    assert stored(entry) == ORIGINAL
    assert Transaction.objects.count() == 1


def test_a_new_entry_cannot_take_an_existing_id(entry, org):
    impostor = Transaction(
        id=entry.id,
        user=org["asset"],
        type=Transaction.Type.MANUAL_ADJ,
        amount_cr=999,
        approved_by=org["marshal"],
        reason="overwrite",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        impostor.save()
    assert stored(entry) == ORIGINAL


def test_a_person_with_ledger_entries_cannot_be_deleted(entry, org):
    with pytest.raises(ProtectedError):
        User.objects.get(id=org["asset"].id).delete()
    with pytest.raises(ProtectedError):
        User.objects.get(id=org["marshal"].id).delete()  # as approver
    assert User.objects.filter(id=org["asset"].id).exists()
    assert stored(entry) == ORIGINAL


# --- ObjectId keys and millisecond times -------------------------------------------------------


def our_models():
    """Our apps' stored models (an unmanaged one, such as SQLite's full-text table, is not a collection)."""
    return [model for label in OUR_APPS for model in apps.get_app_config(label).get_models() if model._meta.managed]


def test_people_are_named_by_rank_and_name_once(org):
    assert (str(org["marshal"]), str(org["nyx"])) == (f"Marshal {org['marshal'].display_name}", "Nyx")
    assert shown_name(org["niki"]) == "The Directorate"


def test_our_models_all_use_objectid_string_keys():
    assert len(our_models()) >= 6
    for model in our_models():
        pk = model._meta.pk
        assert isinstance(pk, models.CharField) and not isinstance(pk, models.AutoField), model
        assert pk.column == "_id" and pk.max_length == 24, model
        assert OBJECT_ID.match(pk.get_default()), model


def failed_sign_in():
    """One wrong password: a failure row for the account name and one for the address."""
    with pytest.raises(Invalid):
        sign_in(request=None, username="someone", password="not the password")
    assert LoginFailure.objects.count() == 2


def test_new_rows_get_24_hex_object_ids(org, entry):
    ticket = new_ticket(org["marshal"], org["asset"], **ROUTINE, watcher_ids=[org["shadow"].id])
    failed_sign_in()
    rows = [
        *User.objects.all(),
        ticket,
        entry,
        *TicketWatcher.objects.all(),
        *LoginFailure.objects.all(),
        *Notification.objects.all(),
    ]
    assert len(rows) >= 12 + 1 + 1 + 1 + 2 + 1
    for row in rows:
        assert OBJECT_ID.match(row.id), (type(row).__name__, row.id)
        assert ObjectId.is_valid(row.id)
    assert len({row.id for row in rows}) == len(rows)


def test_now_is_truncated_to_the_millisecond():
    for _ in range(50):
        assert now().microsecond % 1000 == 0


def test_stored_times_are_whole_milliseconds(org, entry):
    ticket = new_ticket(org["marshal"], org["asset"], **ROUTINE)
    failed_sign_in()
    member = User.objects.get(id=org["asset"].id)
    member.display_name = "Renamed"
    member.save()
    times = [
        ("user.created_at", member.created_at),
        ("user.updated_at", member.updated_at),
        ("ticket.created_at", ticket.created_at),
        ("ticket.updated_at", ticket.updated_at),
        ("transaction.ts", entry.ts),
        *(("login_failure.ts", failure.ts) for failure in LoginFailure.objects.all()),
        *(("notification.ts", note.ts) for note in Notification.objects.all()),
    ]
    for name, moment in times:
        assert moment.microsecond % 1000 == 0, (name, moment)
    reloaded = User.objects.get(id=member.id)
    assert (reloaded.created_at, reloaded.updated_at) == (member.created_at, member.updated_at)
    assert reloaded.updated_at >= reloaded.created_at
    assert Ticket.objects.get(id=ticket.id).created_at == ticket.created_at


# --- create_ticket refuses, and then writes nothing ---------------------------------------------


def counts():
    return Ticket.objects.count(), TicketWatcher.objects.count(), Notification.objects.count()


def refused(org, error, actor, assignee, **changes):
    before = counts()
    fields = {
        "actor": org[actor],
        "assignee_id": org[assignee].id if assignee in org else assignee,
        "category": "Order",
        "sub_category": "Routine Directive",
        "title": "A piece of work",
    }
    with pytest.raises(error) as raised:
        create_ticket(**(fields | changes))
    assert counts() == before, "a refused ticket wrote something"
    return raised.value


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"category": "Gossip", "sub_category": "Other"}, "category"),
        ({"category": "", "sub_category": ""}, "category"),
        ({"category": "Order", "sub_category": "Leave"}, "sub_category"),
        ({"category": "Miscellaneous", "sub_category": "Routine Directive"}, "sub_category"),
        ({"title": ""}, "title"),
        ({"title": "   \t "}, "title"),
        ({"title": None}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"body_md": "y" * 20_001}, "body_md"),
        ({"visibility": "public"}, "visibility"),
    ],
    ids=[
        "unknown-category",
        "empty-category",
        "order/leave",
        "miscellaneous/routine-directive",
        "empty-title",
        "blank-title",
        "no-title",
        "title-201",
        "body-20001",
        "unknown-visibility",
    ],
)
def test_invalid_fields_are_refused(org, changes, field):
    error = refused(org, Invalid, "marshal", "asset", **changes)
    assert field in error.field_errors


def test_the_longest_title_is_accepted(org):
    before = counts()
    ticket = create_ticket(
        actor=org["marshal"],
        assignee_id=org["asset"].id,
        category="Order",
        sub_category="Routine Directive",
        title="x" * 200,
    )
    assert len(ticket.title) == 200
    assert counts()[0] == before[0] + 1


@pytest.mark.parametrize(
    ("actor", "assignee"),
    [
        ("marshal", "asset_3"),  # a cousin's subordinate, in another branch
        ("marshal", "marshal_3"),  # another executor's marshal
        ("asset", "asset_3"),
        ("shadow", "shadow_2"),  # not a peer: a different superior
        ("nyx", "niki"),  # Nyx's own superior, hidden
        ("executor", "niki"),
        ("asset", "niki"),
    ],
)
def test_targets_out_of_sight_are_not_found(org, actor, assignee):
    refused(org, NotFound, actor, assignee)


def test_niki_is_not_found_exactly_like_nobody(org):
    hidden = refused(org, NotFound, "marshal", "niki")
    missing = refused(org, NotFound, "marshal", str(ObjectId()))
    malformed = refused(org, NotFound, "marshal", "7360")
    assert str(hidden) == str(missing) == str(malformed)
    assert (hidden.status, hidden.field_errors) == (missing.status, missing.field_errors)
    assert "Niki" not in str(hidden) and "7360" not in str(hidden)


@pytest.mark.parametrize(
    ("actor", "assignee"),
    [
        ("marshal", "marshal_2"),  # peer
        ("asset", "asset_2"),  # peer
        ("executor", "executor_2"),  # peer
        ("asset", "marshal"),  # a superior, but not the direct one
        ("shadow", "executor"),
        ("marshal_3", "nyx"),  # two levels up
    ],
)
def test_visible_but_not_addressable_targets_are_forbidden(org, actor, assignee):
    refused(org, Forbidden, actor, assignee)


def test_watchers_out_of_sight_are_not_found(org):
    refused(org, NotFound, "marshal", "asset", watcher_ids=[org["asset_3"].id])
    refused(org, NotFound, "marshal", "asset", watcher_ids=[org["shadow"].id, org["niki"].id])


def test_an_inactive_actor_creates_nothing(org):
    User.objects.filter(id=org["marshal"].id).update(is_active=False)
    org["marshal"].is_active = False
    refused(org, Forbidden, "marshal", "asset")


@pytest.mark.parametrize(
    ("actor", "assignee"),
    [
        ("asset", "shadow"),  # upward, to the direct superior
        ("asset", "asset"),  # to oneself
        ("marshal", "asset"),  # a directive to an indirect subordinate
        ("executor", "marshal_2"),
        ("nyx", "asset_3"),
        ("niki", "marshal_3"),
    ],
)
def test_allowed_targets_create_one_ticket(org, actor, assignee):
    before = counts()
    ticket = create_ticket(
        actor=org[actor],
        assignee_id=org[assignee].id,
        category="Request",
        sub_category="Support",
        title="  Needs doing  ",
        watcher_ids=[org[actor].id],
    )
    assert counts()[:2] == (before[0] + 1, before[1] + 1)
    stored_ticket = Ticket.objects.get(id=ticket.id)
    assert (stored_ticket.author_id, stored_ticket.assignee_id) == (org[actor].id, org[assignee].id)
    assert stored_ticket.title == "Needs doing"
    assert stored_ticket.status == Ticket.Status.OPEN
    assert stored_ticket.target_rank == Rank(org[assignee].rank)

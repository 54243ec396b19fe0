"""The live event log: recording in commit order, the relay's and the catch-up's reads, pruning, on either
database. (Delivery to sockets is the same code on both databases; tests/test_live_*.py run it.)"""

import contextlib
from datetime import timedelta

from accounts import live as delivery
from accounts.models import LiveEvent
from directorate.db import atomic, is_mongodb, now
from directorate.errors import Conflict
from directorate.events import CLOSE_EVENT, publish


def test_events_are_numbered_after_the_largest_and_read_back_after_a_number(db):
    assert delivery.latest_seq() == 0
    first = delivery.record([("credits_update", [("a" * 24, {"user_id": "a" * 24, "new_credits": 3})])])
    both = delivery.record([("notification", [("a" * 24, {"id": "n1"}), ("b" * 24, {"id": "n2"})])])
    assert [row.seq for row in first + both] == [1, 2, 3]
    assert delivery.latest_seq() == 3

    after_first = delivery.rows_after(1, limit=10)
    assert [(row.seq, row.recipient_id, row.event, row.data) for row in after_first] == [
        (2, "a" * 24, "notification", {"id": "n1"}),
        (3, "b" * 24, "notification", {"id": "n2"}),
    ]
    assert [row.seq for row in delivery.rows_after(0, limit=10, recipient_id="a" * 24)] == [1, 2]
    assert [row.seq for row in delivery.rows_after(0, limit=1)] == [1]


def test_the_events_of_one_unit_are_numbered_together_in_the_order_given(db):
    rows = delivery.record(
        [
            ("ticket_updated", [("a" * 24, {"status": "closed"}), ("b" * 24, {"status": "closed"})]),
            ("credits_update", [("a" * 24, {"new_credits": 5})]),
        ]
    )
    assert [(row.seq, row.event, row.recipient_id) for row in rows] == [
        (1, "ticket_updated", "a" * 24),
        (2, "ticket_updated", "b" * 24),
        (3, "credits_update", "a" * 24),
    ]


def test_pruning_keeps_recent_rows_and_the_newest(db):
    delivery.record([("credits_update", [("a" * 24, {"n": 1}), ("a" * 24, {"n": 2})])])
    LiveEvent.objects.filter(seq__in=[1, 2]).update(at=now() - timedelta(days=30))
    delivery.record([("credits_update", [("a" * 24, {"n": 3})])])
    assert delivery.prune() == 2
    assert [row.seq for row in delivery.rows_after(0, limit=10)] == [3]
    LiveEvent.objects.update(at=now() - timedelta(days=30))
    assert delivery.prune() == 0  # the newest stays: numbering never restarts below a number a client saw


MEMBERS = [f"{number:024x}" for number in range(1, 16)]


def test_a_publish_to_many_is_one_row_and_each_member_reads_back_their_own_part(db):
    notifications = [
        (member, {"id": f"n{n}", "message": "Stand by.", "ticket_id": None}) for n, member in enumerate(MEMBERS)
    ]
    rows = delivery.record([("notification", notifications)])
    assert [(row.seq, row.recipient_id) for row in rows] == [(1, delivery.FAN_OUT)]
    assert LiveEvent.objects.count() == 1
    assert rows[0].data["shared"] == {"message": "Stand by.", "ticket_id": None}  # stored once, not 15 times
    delivery.record([("credits_update", [(MEMBERS[0], {"user_id": MEMBERS[0], "new_credits": 1})])])

    assert [
        (row.seq, row.recipient_id, row.event, row.data)
        for row in delivery.rows_after(0, limit=10, recipient_id=MEMBERS[3])
    ] == [(1, MEMBERS[3], "notification", {"id": "n3", "message": "Stand by.", "ticket_id": None})]
    assert [row.seq for row in delivery.rows_after(0, limit=10, recipient_id=MEMBERS[0])] == [1, 2]
    assert delivery.rows_after(0, limit=10, recipient_id="f" * 24) == []  # not among the recipients
    # What the relay reads: the row as stored, each member's data whole.
    relayed = delivery.rows_after(0, limit=10)
    assert len(relayed) == 2 and dict(relayed[0].addressed())[MEMBERS[7]]["id"] == "n7"


def test_few_recipients_or_one_named_twice_get_a_row_each(db):
    few = delivery.record(
        [("notification", [(member, {"id": "n"}) for member in MEMBERS[: delivery.FAN_OUT_FROM - 1]])]
    )
    assert [row.recipient_id for row in few] == MEMBERS[: delivery.FAN_OUT_FROM - 1]
    twice = [(MEMBERS[0], {"n": number}) for number in range(delivery.FAN_OUT_FROM)]
    assert [row.data for row in delivery.record([("credits_update", twice)])] == [
        {"n": n} for n in range(delivery.FAN_OUT_FROM)
    ]


def test_a_catch_up_passes_over_others_rows_and_never_returns_the_closing_of_sockets(db):
    me = "a" * 24
    for _ in range(3):  # broadcasts to others
        delivery.record([("notification", [(member, {"id": "theirs"}) for member in MEMBERS])])
    delivery.record([(CLOSE_EVENT, [(me, {"session": None, "family": None})])])
    delivery.record([("credits_update", [(me, {"n": 1})])])
    delivery.record([("credits_update", [(me, {"n": 2})])])

    assert [row.data for row in delivery.rows_after(0, limit=1, recipient_id=me)] == [{"n": 1}]
    assert [row.data for row in delivery.rows_after(0, limit=5, recipient_id=me)] == [{"n": 1}, {"n": 2}]
    assert [row.event for row in delivery.rows_after(0, limit=10)].count(CLOSE_EVENT) == 1  # the relay reads it


def test_a_row_for_many_whose_fragments_differ_gives_each_socket_its_own(db):
    """One message for all; when members' pages need different HTML (their own wallet figures), each takes its own."""
    updates = [
        (member, {"user_id": member, "new_credits": n, "new_balance": f"{n}.00"}) for n, member in enumerate(MEMBERS)
    ]
    (row,) = delivery.rows_after(delivery.record([("credits_update", updates)])[0].seq - 1, limit=10)

    groups, message = delivery.message_for(row, delivery.Fragments())

    assert groups == [f"user.{member}" for member in MEMBERS]
    for n, member in enumerate(MEMBERS):
        data, html = delivery.addressed_to(message, member)
        assert data == {"user_id": member, "new_credits": n, "new_balance": f"{n}.00"}
        assert f'hx-swap-oob="outerHTML">{n}</dd>' in html and f"&curren;{n}.00" in html
    assert delivery.addressed_to(message, "f" * 24) is None


def test_a_unit_s_events_are_in_the_log_in_order_once_it_commits(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as after_commit, atomic():
        publish(["a" * 24], "credits_update", {"user_id": "a" * 24, "new_credits": 1})
        publish(["b" * 24], "notification", {"id": "n1"})
        assert LiveEvent.objects.count() == 0  # nothing before the unit ends
    if not is_mongodb():  # written by the unit itself, before its commit (MongoDB: by a unit of their own after it)
        assert LiveEvent.objects.count() == 2
    for callback in after_commit:
        callback()
    assert [(row.seq, row.event, row.recipient_id) for row in delivery.rows_after(0, limit=10)] == [
        (1, "credits_update", "a" * 24),
        (2, "notification", "b" * 24),
    ]


def test_a_unit_that_fails_leaves_no_event_in_the_log(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), contextlib.suppress(Conflict), atomic():
        publish(["a" * 24], "credits_update", {"user_id": "a" * 24, "new_credits": 1})
        raise Conflict("refused")
    assert LiveEvent.objects.count() == 0

"""The live event log: recording in commit order, the relay's and the catch-up's reads, pruning, on either
database. (Delivery to sockets is the same code on both databases; tests/test_live_*.py run it.)"""

from datetime import timedelta

from accounts import live as delivery
from accounts.models import LiveEvent
from directorate.db import now


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

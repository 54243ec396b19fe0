"""Unread counts (docs/rules.md 12): kept on the member's row in the same atomic unit as the notifications, so
every page's badge reads it without counting. Every test ends with the counts checked against the notifications
(the `database_invariants` fixture of tests/conftest.py)."""

import re

import pytest

from accounts.models import Notification, User
from accounts.services import broadcast, mark_all_read, mark_read, notify
from directorate.errors import NotFound
from tests.invariants import assert_unread_counts
from tests.test_double_approval import race, winners

RACERS = 8
BADGE = re.compile(r'id="inbox-badge" class="badge[^"]*"[^>]*>(\d*)')


def kept(person):
    return User.objects.get(id=person.id).unread_notifications


def badge(page):
    return BADGE.search(page.content.decode()).group(1)


def test_each_recipient_counts_a_notification_once(org):
    notify(recipients=[org["asset"], org["asset"], None, org["shadow"]], message="Muster at dawn")
    notify(recipients=[org["asset"]], message="Bring the maps")
    assert (kept(org["asset"]), kept(org["shadow"]), kept(org["marshal"])) == (2, 1, 0)


def test_a_broadcast_counts_for_everyone_in_the_subtree(org):
    reached = broadcast(actor=org["executor"], message="Stand by")
    below = User.objects.filter(chain__startswith=org["executor"].chain).exclude(id=org["executor"].id)
    assert reached == below.count() > 5
    assert set(below.values_list("unread_notifications", flat=True)) == {1}
    assert kept(org["executor"]) == 0


def test_marking_read_takes_a_notification_off_once(org):
    (first,) = notify(recipients=[org["asset"]], message="One")
    notify(recipients=[org["asset"]], message="Two")
    asset = User.objects.get(id=org["asset"].id)
    mark_read(actor=asset, notification_id=first.id)
    assert asset.unread_notifications == kept(asset) == 1  # the member in hand is brought up to date too
    mark_read(actor=asset, notification_id=first.id)  # already read: nothing changes
    assert kept(asset) == 1
    assert mark_all_read(actor=asset) == 1
    assert asset.unread_notifications == kept(asset) == 0
    assert mark_all_read(actor=asset) == 0


def test_someone_elses_notification_is_not_found_and_counts_nothing(org):
    (theirs,) = notify(recipients=[org["asset_2"]], message="Not for North")
    with pytest.raises(NotFound):
        mark_read(actor=org["asset"], notification_id=theirs.id)
    assert (kept(org["asset"]), kept(org["asset_2"])) == (0, 1)
    assert Notification.objects.get(id=theirs.id).read is False


def test_the_masthead_badge_shows_the_kept_count(as_, org):
    notify(recipients=[org["asset"]], message="One")
    (second,) = notify(recipients=[org["asset"]], message="Two")
    client = as_(org["asset"])
    assert badge(client.get("/")) == "2"
    answer = client.post(f"/inbox/{second.id}/read/", headers={"HX-Request": "true"})
    assert answer.status_code == 200 and badge(answer) == "1"  # the fragment after marking, in the same request
    client.post("/inbox/read-all/")
    assert badge(client.get("/")) == ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.replica_set  # racing writers: on MongoDB, a replica set's write conflicts decide them
def test_racing_to_mark_the_same_notifications_read_counts_each_once(org):
    notices = [notify(recipients=[org["asset"]], message=f"Notice {number}")[0] for number in range(3)]
    asset = lambda: User.objects.get(id=org["asset"].id)  # noqa: E731 - each racer reads the member itself

    outcomes = race(
        *[lambda: mark_read(actor=asset(), notification_id=notices[0].id)] * (RACERS // 2),
        *[lambda: mark_all_read(actor=asset())] * (RACERS // 2),
        lambda: notify(recipients=[org["asset"]], message="Arrived meanwhile"),
    )

    assert len(winners(outcomes)) == RACERS + 1
    # Each notification turned read is counted by one racer: the "mark all" racers together counted every
    # read one, but the first notice if a single-notice racer took it.
    read_now = Notification.objects.filter(user_id=org["asset"].id, read=True).count()
    counted_by_mark_all = sum(result for _kind, result in outcomes[RACERS // 2 : RACERS])
    assert read_now - 1 <= counted_by_mark_all <= read_now
    assert kept(org["asset"]) == Notification.objects.filter(user_id=org["asset"].id, read=False).count() <= 1
    assert_unread_counts()

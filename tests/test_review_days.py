"""The daily review totals (tickets.models.ReviewDay, docs/rules.md section 26) follow every close.

Each test states the rows it expects, computed here from the times it set; after every database test
`tests/invariants.py` also checks that the totals equal the closed tickets recomputed.
"""

import importlib
import math
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from accounts.models import User
from analytics.selectors import Filters, economy_figures, review_figures
from economy import services as economy
from nyx.services import niki_command
from tests.factories import submitted
from tests.test_double_approval import race, winners
from tickets import services
from tickets.models import ReviewDay, Ticket
from tickets.review_totals import GROWTH, NOT_REVIEWED, bucket_of, bucket_value, review_day_mismatches

pytestmark = pytest.mark.django_db
START = datetime(2030, 3, 20, 9, 0, tzinfo=UTC)


class Clock:
    """The time every service reads (django.utils.timezone.now), set by the test."""

    def __init__(self):
        self.moment = START

    def now(self):
        return self.moment


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock.now)
    return clock


def rows():
    """{(day, rank, bucket): (closed, escalated)} of the rows with anything in them."""
    return {
        (row.day, row.rank, row.bucket): (row.closed, row.escalated)
        for row in ReviewDay.objects.all()
        if row.closed or row.escalated
    }


def reviewer_of(ticket):
    return User.objects.get(id=Ticket.objects.get(id=ticket.id).reviewer_id)


def approve(ticket, credits=1, pay="3.00"):
    services.approve_reward(actor=reviewer_of(ticket), ticket_id=ticket.id, credits=credits, pay=pay)


def reviewed(clock, org, assignee, *, after, credits=1, pay="3.00"):
    """A ticket submitted now and approved `after` later (the clock moves on by that much)."""
    member = User.objects.get(id=org[assignee].id)
    ticket = submitted(User.objects.get(id=member.reports_to_id), member)
    clock.moment += after
    approve(ticket, credits, pay)
    return ticket


def test_buckets_are_two_percent_wide_and_shown_within_one_percent():
    assert bucket_of(None) == NOT_REVIEWED
    assert bucket_of(timedelta(0)) == bucket_of(timedelta(milliseconds=999)) == 0
    assert bucket_of(timedelta(seconds=1)) == 1
    assert bucket_of(timedelta(seconds=1.019)) == 1 and bucket_of(timedelta(seconds=1.021)) == 2
    for seconds in [1, 1.5, 59, 61, 3_599, 12_600, 93_600, 86_400 * 30, 86_400 * 365]:
        latency = timedelta(seconds=seconds)
        shown = bucket_value(bucket_of(latency))
        assert abs(shown - latency) <= latency * (math.sqrt(GROWTH) - 1) + timedelta(milliseconds=1), seconds
    values = [bucket_value(bucket) for bucket in range(0, 900)]
    assert values == sorted(values) and len(set(values)) == len(values)  # ordered, each bucket its own value


def test_a_close_counts_on_its_day_under_the_assignees_rank_and_bucket(org, clock):
    reviewed(clock, org, "asset", after=timedelta(hours=3))
    reviewed(clock, org, "asset_2", after=timedelta(hours=3))
    reviewed(clock, org, "shadow", after=timedelta(minutes=20))
    three_hours, twenty_minutes = bucket_of(timedelta(hours=3)), bucket_of(timedelta(minutes=20))
    assert rows() == {
        (START.date(), "asset", three_hours): (2, 0),
        (START.date(), "shadow", twenty_minutes): (1, 0),
    }


def test_an_escalated_close_counts_as_escalated(org, clock):
    chosen = submitted(org["marshal"], org["shadow"])
    clock.moment += timedelta(hours=1)
    services.escalate(actor=reviewer_of(chosen), ticket_id=chosen.id, note="Executor's call.")
    assert rows() == {}  # nothing closed yet
    clock.moment += timedelta(hours=1)
    approve(chosen)
    abnormal = submitted(org["shadow"], org["asset"], credits=2, pay="20.00")  # above ¤15.00: recommended up
    clock.moment += timedelta(hours=2)
    approve(abnormal, 2, "20.00")
    approve(abnormal, 2, "20.00")  # the executor decides
    plain = reviewed(clock, org, "asset_2", after=timedelta(hours=2))
    two_hours = bucket_of(timedelta(hours=2))
    assert {Ticket.objects.get(id=ticket.id).status for ticket in (chosen, abnormal, plain)} == {Ticket.Status.CLOSED}
    assert rows() == {
        (START.date(), "shadow", two_hours): (1, 1),  # escalated by choice
        (START.date(), "asset", two_hours): (2, 1),  # the abnormal award recommended up, and plain work
    }
    nyx = User.objects.get(id=org["nyx"].id)
    reviews = review_figures(nyx, Filters(start=START.date(), end=START.date()))
    assert (reviews.closed, reviews.escalated) == (3, 2)


def test_closes_without_review_count_with_no_review_time_and_niki_counts_for_nobody_else(org, clock):
    nyx, niki = User.objects.get(id=org["nyx"].id), org["niki"]
    request = services.create_ticket(
        actor=org["executor"],
        assignee_id=nyx.id,
        title="Clarify quotas",
        category="Request",
        sub_category="Clarification",
    )
    services.close_without_reward(actor=nyx, ticket_id=request.id)
    own = services.create_ticket(
        actor=niki, assignee_id=niki.id, title="Private ledger", category="Audit", sub_category="Process Check"
    )
    services.close_without_reward(actor=niki, ticket_id=own.id)
    reviewed(clock, org, "asset", after=timedelta(minutes=5))
    assert rows() == {
        (START.date(), "nyx", NOT_REVIEWED): (1, 0),
        (START.date(), "niki", NOT_REVIEWED): (1, 0),
        (START.date(), "asset", bucket_of(timedelta(minutes=5))): (1, 0),
    }
    today = Filters(start=START.date(), end=START.date())
    for_nyx = economy_figures(nyx, today).reviews
    assert (for_nyx.closed, for_nyx.reviewed) == (2, 1)  # Nyx's request and the asset's work; not Niki's ticket
    assert for_nyx.median == for_nyx.p90 == bucket_value(bucket_of(timedelta(minutes=5)))
    for_niki = economy_figures(User.objects.get(id=niki.id), today).reviews
    assert (for_niki.closed, for_niki.reviewed) == (3, 1)


def test_a_rank_change_moves_the_members_closed_tickets(org, clock):
    asset = org["asset"]
    reviewed(clock, org, "asset", after=timedelta(hours=5))
    clock.moment += timedelta(days=1)
    reviewed(clock, org, "asset", after=timedelta(minutes=30))
    payload = {"action": "move_member", "user_id": asset.id, "rank": "shadow", "reports_to_id": org["marshal"].id}
    assert niki_command(actor=org["niki"], payload=payload).done
    second = (START + timedelta(days=1, hours=5, minutes=30)).date()
    assert rows() == {
        (START.date(), "shadow", bucket_of(timedelta(hours=5))): (1, 0),
        (second, "shadow", bucket_of(timedelta(minutes=30))): (1, 0),
    }
    nyx = User.objects.get(id=org["nyx"].id)
    period = {"start": START.date(), "end": second}
    assert review_figures(nyx, Filters(**period, rank="shadow")).closed == 2
    assert review_figures(nyx, Filters(**period, rank="asset")).closed == 0


def test_a_decided_promotion_request_counts_when_it_closes(org, clock):
    ticket = services.create_ticket(
        actor=org["shadow"],
        assignee_id=org["shadow"].id,
        title="Promote North",
        category="Personnel",
        sub_category="Promotion Request",
        subject_id=org["asset"].id,
    )
    clock.moment += timedelta(hours=6)
    services.approve_promotion(actor=reviewer_of(ticket), ticket_id=ticket.id)
    assert User.objects.get(id=org["asset"].id).rank == "shadow"
    assert rows() == {(START.date(), "shadow", bucket_of(timedelta(hours=6))): (1, 0)}


def test_the_percentiles_of_the_totals_are_those_of_the_bucketed_times(org, clock):
    """Thirteen closes with times from 40 s to 3 days: Nyx reads the daily totals, an executor the tickets; both
    give the median and the nearest-rank 90th percentile of the times each shown as its bucket's middle."""
    waits = [40, 300, 310, 2_000, 3_600, 3_650, 7_200, 20_000, 45_000, 86_400, 90_000, 150_000, 259_200]
    latencies = []
    for number, seconds in enumerate(waits):
        reviewed(clock, org, ["asset", "asset_2", "asset_3", "shadow"][number % 4], after=timedelta(seconds=seconds))
        latencies.append(timedelta(seconds=seconds))
    shown = sorted(bucket_value(bucket_of(latency)) for latency in latencies)
    expected = (statistics.median(shown), shown[math.ceil(0.9 * len(shown)) - 1])
    period = Filters(start=START.date(), end=clock.moment.date())
    for viewer in ("nyx", "niki", "executor"):
        reviews = review_figures(User.objects.get(id=org[viewer].id), period)
        assert (reviews.closed, reviews.reviewed, reviews.median, reviews.p90) == (13, 13, *expected), viewer
    exact = sorted(latencies)
    median = review_figures(User.objects.get(id=org["nyx"].id), period).median
    assert abs(median - exact[6]) <= exact[6] / 100  # within 1% of the exact median
    # An even count: the mean of the two middle bucketed times.
    reviewed(clock, org, "asset", after=timedelta(seconds=500_000))
    shown = sorted([*shown, bucket_value(bucket_of(timedelta(seconds=500_000)))])
    period = Filters(start=START.date(), end=clock.moment.date())
    reviews = review_figures(User.objects.get(id=org["nyx"].id), period)
    assert reviews.median == (shown[6] + shown[7]) / 2 == statistics.median(shown)


def test_the_migration_builds_the_totals_from_existing_tickets(org, clock):
    chosen = submitted(org["marshal"], org["shadow"])
    clock.moment += timedelta(hours=1)
    services.escalate(actor=reviewer_of(chosen), ticket_id=chosen.id)
    clock.moment += timedelta(hours=1)
    approve(chosen)
    reviewed(clock, org, "asset", after=timedelta(minutes=7))
    economy.adjust(actor=org["marshal"], user_id=org["asset"].id, credits=1, pay="0", reason="Extra")
    kept = rows()
    assert sum(closed for closed, _ in kept.values()) == 2
    ReviewDay.objects.all().delete()  # an install from before the totals existed
    assert review_day_mismatches()
    migration = importlib.import_module("tickets.migrations.0008_review_days_from_tickets")
    migration.build_from_tickets(django_apps, None)
    assert rows() == kept
    assert review_day_mismatches() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.replica_set
def test_concurrent_closes_on_one_day_lose_nothing(org, clock):
    """Six approvals at the same moment, each in its own thread and connection, all in one (day, rank, bucket)."""
    tickets = [submitted(org["shadow"], org[name]) for name in ("asset", "asset_2") * 3]
    clock.moment += timedelta(hours=2)
    outcomes = race(*[(lambda ticket=ticket: approve(ticket)) for ticket in tickets])
    assert len(winners(outcomes)) == 6
    assert rows() == {(START.date(), "asset", bucket_of(timedelta(hours=2))): (6, 0)}

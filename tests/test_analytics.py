"""Economy analytics (docs/rules.md section 11): every figure against sums taken from the ledger rows here.

An organisation's history is written through the real services over several days (the clock is moved
between acts): tickets approved, escalated by choice and for abnormal awards, sent back and resubmitted,
manual adjustments, Niki's own entries and a ticket Niki closed for itself, in two subtrees. The expected
figures are computed below in plain Python from the stored rows, never by the analytics selectors.
"""

import math
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.presentation import shown_name
from analytics.charts import stacked_bars
from analytics.selectors import Filters, economy_figures
from directorate.errors import NotFound
from economy import services as economy
from economy.models import Transaction
from nyx.services import niki_command
from tests.downloads import downloaded
from tests.invariants import assert_ledger_invariant, traces_of_niki
from tickets import services
from tickets.models import ApprovalStep, Ticket
from tickets.review_totals import bucket_of, bucket_value

TODAY = date(2030, 3, 20)
ZERO = Decimal("0.00")


class Clock:
    """The time every service reads (django.utils.timezone.now), moved by the test."""

    def __init__(self, moment):
        self.moment = moment

    def at(self, day, hour=9, minute=0):
        self.moment = datetime.combine(TODAY - timedelta(days=day), datetime.min.time(), tzinfo=UTC) + timedelta(
            hours=hour, minutes=minute
        )

    def now(self):
        return self.moment


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC))
    monkeypatch.setattr(timezone, "now", clock.now)
    return clock


def work(author, assignee, title, *, credits, pay):
    ticket = services.create_ticket(
        actor=author, assignee_id=assignee.id, title=title, category="Order", sub_category="Routine Directive"
    )
    services.start_work(actor=assignee, ticket_id=ticket.id)
    services.submit_for_review(actor=assignee, ticket_id=ticket.id, reward_credits=credits, reward_pay=pay)
    return ticket


def reviewer_of(ticket):
    return User.objects.get(id=Ticket.objects.get(id=ticket.id).reviewer_id)


def approve(ticket, credits, pay):
    services.approve_reward(actor=reviewer_of(ticket), ticket_id=ticket.id, credits=credits, pay=pay)


@pytest.fixture
def history(org, clock):
    """Days before TODAY: 40 (outside 30 days), 10, 8-7, 5, 3, 2, 1, 0, in the branches of executor and
    executor_2, with marshal's and marshal_2's subtrees side by side under executor."""
    niki, nyx = org["niki"], org["nyx"]
    clock.at(40)
    approve(work(org["shadow"], org["asset"], "Old sweep", credits=1, pay="3.00"), 1, "3.00")

    clock.at(10)
    ticket = work(org["shadow"], org["asset"], "Depot watch", credits=1, pay="6.00")
    clock.at(10, hour=12, minute=30)
    approve(ticket, 1, "6.00")

    clock.at(8)
    abnormal = work(org["shadow"], org["asset_2"], "Long night", credits=2, pay="20.00")  # above ¤15.00
    clock.at(8, hour=15)
    approve(abnormal, 2, "20.00")  # marshal recommends; the executor decides
    clock.at(7, hour=11)
    approve(abnormal, 2, "20.00")

    clock.at(5)
    rework = work(org["shadow_2"], org["asset_3"], "Radio check", credits=1, pay="4.50")
    clock.at(5, hour=10)
    services.send_back(actor=reviewer_of(rework), ticket_id=rework.id, comment="Log the frequencies.")
    clock.at(4, hour=9)
    services.submit_for_review(actor=org["asset_3"], ticket_id=rework.id, reward_credits=1, reward_pay="4.50")
    clock.at(4, hour=9, minute=45)
    approve(rework, 1, "4.50")

    clock.at(3)
    economy.adjust(actor=org["marshal"], user_id=org["asset"].id, credits=-2, pay="0", reason="Late report")
    economy.adjust(actor=org["executor"], user_id=org["shadow"].id, credits=5, pay="2.50", reason="Cover shift")

    clock.at(2)
    chosen = work(org["marshal"], org["shadow"], "Archive index", credits=2, pay="9.00")
    clock.at(2, hour=16)
    services.escalate(actor=reviewer_of(chosen), ticket_id=chosen.id, note="Executor's call.")
    clock.at(1, hour=10)
    approve(chosen, 2, "9.00")

    clock.at(1)
    approve(work(org["executor_2"], org["marshal_3"], "Border post", credits=3, pay="12.00"), 3, "12.00")

    clock.at(0, hour=8)
    overridden = work(org["shadow_2"], org["asset_3"], "Flood gates", credits=1, pay="3.00")
    clock.at(0, hour=8, minute=20)
    assert niki_command(actor=niki, payload={"action": "override_approve", "ticket_id": overridden.id}).done
    # Niki's own: an entry on Niki's account and a ticket Niki closed for itself.
    assert niki_command(
        actor=niki, payload={"action": "adjust", "user_id": niki.id, "credits": 500, "pay": "900.00", "reason": "x"}
    ).done
    own = services.create_ticket(
        actor=niki, assignee_id=niki.id, title="Private ledger", category="Audit", sub_category="Process Check"
    )
    services.close_without_reward(actor=niki, ticket_id=own.id)
    # Nyx closes a request without reward: a closed ticket with no submission (no latency).
    request = services.create_ticket(
        actor=org["executor"],
        assignee_id=nyx.id,
        title="Clarify quotas",
        category="Request",
        sub_category="Clarification",
    )
    services.close_without_reward(actor=nyx, ticket_id=request.id)
    clock.at(0, hour=12)
    assert_ledger_invariant()
    return org


# Independent figures -----------------------------------------------------------------------------------------


def in_reach(viewer, person):
    if viewer.rank == "niki":
        return True
    return not person.hidden and (person.id == viewer.id or person.chain.startswith(viewer.chain))


def expected_figures(viewer, filters):
    people = {person.id: person for person in User.objects.all()}
    reached = {pid for pid, person in people.items() if in_reach(viewer, person)}
    if filters.rank:
        reached = {pid for pid in reached if people[pid].rank == filters.rank}
    rows = [
        row
        for row in Transaction.objects.values("user_id", "type", "amount_cr", "amount_pay", "ts")
        if row["user_id"] in reached and filters.since <= row["ts"] < filters.until
    ]
    by_day, totals, earned = defaultdict(lambda: [0, ZERO, 0]), defaultdict(lambda: [0, ZERO, 0]), defaultdict(int)
    earned_pay = defaultdict(lambda: ZERO)
    for row in rows:
        day = row["ts"].date()
        if filters.interval == "week":
            day -= timedelta(days=day.weekday())
        for bucket in (by_day[(day, row["type"])], totals[row["type"]]):
            bucket[0] += row["amount_cr"]
            bucket[1] += row["amount_pay"]
            bucket[2] += 1
        earned[row["user_id"]] += row["amount_cr"]
        earned_pay[row["user_id"]] += row["amount_pay"]
    credits_by_rank = defaultdict(list)
    for pid in reached:
        credits_by_rank[people[pid].rank].append(people[pid].credits)
    closed = [
        ticket
        for ticket in Ticket.objects.filter(status="closed")
        if ticket.assignee_id in reached and filters.since <= ticket.closed_at < filters.until
    ]
    escalated_ids = set(
        ApprovalStep.objects.filter(decision__in=["escalated", "recommended"]).values_list("ticket_id", flat=True)
    )
    latencies = sorted(t.closed_at - t.submitted_at for t in closed if t.submitted_at is not None)
    earners = sorted(
        ((pid, total) for pid, total in earned.items() if total > 0), key=lambda item: (-item[1], -earned_pay[item[0]])
    )[:10]
    return {
        "series": {key: tuple(value) for key, value in by_day.items() if value[2]},
        "totals": {key: tuple(value) for key, value in totals.items()},
        "distribution": {
            rank: (len(values), sum(values), min(values), Decimal(statistics.median(values)), max(values))
            for rank, values in credits_by_rank.items()
        },
        "closed": len(closed),
        "escalated": sum(ticket.id in escalated_ids for ticket in closed),
        "latencies": latencies,
        "earners": [(shown_name(people[pid]), total, earned_pay[pid]) for pid, total in earners],
    }


def actual_figures(figures):
    reviews = figures.reviews
    return {
        "series": {
            (bucket.start, kind): amounts for bucket in figures.buckets for kind, amounts in bucket.amounts.items()
        },
        "totals": {total.type: (total.credits, total.pay, total.entries) for total in figures.totals},
        "distribution": {
            row.rank: (row.members, row.total, row.low, row.median, row.high) for row in figures.distribution
        },
        "closed": reviews.closed,
        "escalated": reviews.escalated,
        "latencies": (reviews.reviewed, reviews.median, reviews.p90),
        "earners": [(earner.name, earner.credits, earner.pay) for earner in figures.earners],
    }


def summarised(expected):
    """The review times as the page gives them: each exact time counted in its 2% bucket and shown as the
    bucket's middle (docs/rules.md section 26), then the median and nearest-rank 90th percentile of those."""
    latencies = sorted(bucket_value(bucket_of(latency)) for latency in expected["latencies"])
    p90 = latencies[math.ceil(0.9 * len(latencies)) - 1] if latencies else None
    return expected | {"latencies": (len(latencies), statistics.median(latencies) if latencies else None, p90)}


def last_days(count, **kwargs):
    return Filters(start=TODAY - timedelta(days=count - 1), end=TODAY, **kwargs)


VIEWERS = ["marshal", "marshal_2", "executor", "executor_2", "nyx", "niki"]


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize(
    "filters",
    [
        pytest.param(last_days(30), id="30-days"),
        pytest.param(last_days(7), id="7-days"),
        pytest.param(last_days(90, interval="week"), id="90-days-weekly"),
        pytest.param(Filters(start=TODAY - timedelta(days=8), end=TODAY - timedelta(days=4)), id="custom"),
        pytest.param(last_days(30, rank="asset"), id="assets"),
    ],
)
def test_every_figure_equals_the_sums_of_the_ledger_rows(history, viewer, filters):
    viewer = User.objects.get(id=history[viewer].id)
    assert actual_figures(economy_figures(viewer, filters)) == summarised(expected_figures(viewer, filters))


def test_the_figures_hold_what_happened(history):
    """The same figures, spelled out for the executor over 30 days, so the check above cannot be vacuous."""
    figures = economy_figures(User.objects.get(id=history["executor"].id), last_days(30))
    totals = {total.type: (total.credits, total.pay, total.entries) for total in figures.totals}
    assert totals == {
        "credit_award": (1 + 2 + 1 + 2 + 1, ZERO, 5),
        "payment": (0, Decimal("42.50"), 5),
        "manual_adj": (-2 + 5, Decimal("2.50"), 2),
    }
    # Closed in 30 days in the executor's subtree: depot watch, long night, radio check, archive index, flood gates.
    assert (figures.reviews.closed, figures.reviews.escalated) == (5, 2)
    assert figures.reviews.escalation_rate == Decimal("0.4")
    # 3 h 30 min, 26 h (from submission to the executor's approval), 45 min (from the resubmission), 25 h, 20 min:
    # each shown as the middle of its 2% bucket, within 1% of it.
    assert figures.reviews.median == bucket_value(bucket_of(timedelta(hours=3, minutes=30)))
    assert abs(figures.reviews.median - timedelta(hours=3, minutes=30)) <= timedelta(hours=3, minutes=30) / 100
    assert figures.reviews.p90 == bucket_value(bucket_of(timedelta(hours=26)))
    assert abs(figures.reviews.p90 - timedelta(hours=26)) <= timedelta(hours=26) / 100
    assert [earner.credits for earner in figures.earners] == [7, 2, 2]  # shadow: 5 + 2; asset_2; asset_3
    assert figures.earners[0].name == shown_name(history["shadow"])


def test_a_marshal_sees_only_their_subtree(history):
    marshal = User.objects.get(id=history["marshal"].id)
    figures = economy_figures(marshal, last_days(30))
    names = {earner.name for earner in figures.earners}
    assert shown_name(history["asset_3"]) not in names  # marshal_2's branch
    assert {row.rank: row.members for row in figures.distribution} == {"asset": 2, "shadow": 1, "marshal": 1}
    other = economy_figures(User.objects.get(id=history["marshal_2"].id), last_days(30))
    assert {row.rank: row.members for row in other.distribution} == {"asset": 1, "shadow": 1, "marshal": 1}
    assert [earner.name for earner in other.earners] == [shown_name(history["asset_3"])]


def test_niki_changes_no_one_elses_figures(history):
    """Niki's own entries and ticket count for Niki alone; Niki's acts on members count as the Directorate's."""
    nyx = User.objects.get(id=history["nyx"].id)
    figures = economy_figures(nyx, last_days(30))
    niki = history["niki"]
    assert Transaction.objects.filter(user_id=niki.id, amount_cr=500).exists()
    assert sum(total.credits for total in figures.totals) == 1 + 2 + 1 + 2 + 1 + 3 - 2 + 5
    assert "niki" not in {row.rank for row in figures.distribution}
    assert figures.reviews.closed == 7  # Niki's own closed ticket is not among them; Nyx's request is
    everything = economy_figures(User.objects.get(id=niki.id), last_days(30))
    assert sum(total.credits for total in everything.totals) == sum(total.credits for total in figures.totals) + 500
    assert everything.reviews.closed == 8
    assert {row.rank: row.label for row in everything.distribution}["niki"] == "The Directorate"


@pytest.mark.parametrize("rank", ["asset", "shadow"])
def test_assets_and_shadows_are_refused_as_not_found(client, history, rank):
    person = history[rank]
    with pytest.raises(NotFound):
        economy_figures(person, last_days(30))
    client.force_login(person)
    for name in ("analytics", "analytics_csv"):
        response = client.get(reverse(name))
        assert response.status_code == 404
    dashboard = client.get(reverse("dashboard"))
    assert reverse("analytics") not in dashboard.content.decode()


@pytest.mark.parametrize("viewer", ["marshal", "executor", "nyx"])
def test_the_page_shows_the_figures_and_no_trace_of_niki(client, history, viewer):
    client.force_login(history[viewer])
    response = client.get(reverse("analytics"), {"period": "30"})
    page = response.content.decode()
    assert response.status_code == 200
    assert f'href="{reverse("analytics")}"' in page  # the masthead link
    assert traces_of_niki(page, history["niki"]) == []
    expected = summarised(expected_figures(User.objects.get(id=history[viewer].id), last_days(30)))
    credits = sum(values[0] for values in expected["totals"].values())
    assert f'data-figure="credits">{credits:+d}<' in page
    assert f'data-figure="entries">{sum(values[2] for values in expected["totals"].values())}<' in page
    assert page.count('<svg class="chart-svg') == 4 and page.count('<title id="chart-') == 4
    for name, _credits, _pay in expected["earners"]:
        assert f'<th scope="row">{name}</th>' in page
    csv_text = downloaded(client.get(reverse("analytics_csv"), {"period": "30"}))
    assert traces_of_niki(csv_text, history["niki"]) == []
    assert f"top earner,{expected['earners'][0][0]},{expected['earners'][0][1]}," in csv_text


@pytest.mark.parametrize(
    "query, message",
    [
        ({"start": "2030-03-10", "end": "2030-03-01"}, "The end comes before the start."),
        ({"start": "2030-03-10"}, "Give both dates of a range, from and to."),
        ({"start": "2030-13-40", "end": "2030-03-01"}, "Enter a valid date."),
        ({"start": "2030-03-01", "end": "2030-04-01"}, "The range cannot end after today."),
        ({"start": "2027-01-01", "end": "2030-03-01"}, "A range covers at most 366 days."),
        ({"start": "1899-01-01", "end": "1899-02-01"}, "The range starts in 2000 or later."),
        ({"period": "45"}, "Choose one of the listed options."),
        ({"rank": "general"}, "Choose one of the listed options."),
        ({"rank": "niki"}, "Choose one of the listed options."),  # the hidden rank is no choice for anyone else
        ({"rank": "nyx"}, "Choose one of the listed options."),  # above the viewer
        ({"interval": "hour"}, "Choose one of the listed options."),
    ],
)
def test_filters_are_validated(client, history, query, message):
    client.force_login(history["executor"])
    response = client.get(reverse("analytics"), query)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert 'data-figure="credits"' not in page
    assert traces_of_niki(page, history["niki"]) == []
    assert client.get(reverse("analytics_csv"), query).status_code == 400


def test_a_custom_range_and_a_rank_filter_on_the_page(client, history):
    client.force_login(history["executor"])
    response = client.get(reverse("analytics"), {"start": "2030-03-12", "end": "2030-03-16", "rank": "asset"})
    assert response.status_code == 200
    page = response.content.decode()
    # 12-16 March: days 8 to 4 before the 20th. Assets: long night (2 cr) and radio check (1 cr).
    assert 'data-figure="credits">+3<' in page
    assert page.count('<th scope="row">2030-03-1') == 2 * 5  # a row a day (12-16 March) in each hidden table


def test_a_negative_sum_hangs_below_the_axis():
    chart = stacked_bars(
        id="chart-test",
        title="Credits",
        description="",
        labels=["1 Mar", "2 Mar"],
        stacks=[[(0, 5), (1, -3)], [(0, 2), (1, 0)]],
        series_names=["Credit award", "Manual adjustment"],
    )
    award, penalty, second = chart.rects  # a zero piece draws nothing
    assert award.y + award.height == pytest.approx(chart.zero) and penalty.y == pytest.approx(chart.zero)
    assert award.height / penalty.height == pytest.approx(5 / 3)
    assert second.x > award.x and second.height == pytest.approx(award.height * 2 / 5)
    assert (award.series, penalty.series) == (0, 1) and penalty.title == "1 Mar, Manual adjustment: -3"
    labels = [tick.label for tick in chart.value_ticks]
    assert labels[0].startswith("-") and "0" in labels and float(labels[-1]) >= 5

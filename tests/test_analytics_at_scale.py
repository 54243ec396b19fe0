"""The analytics' ways to read a year at scale (docs/rules.md section 26) give the figures the plain reads give.

The top earners are looked for among the members who gained most overall before any pass over the period; here
the numbers read are made tiny, so that every way (settled at once, among all who can still lead, or by the
pass) is taken on a small organisation, and each answer is compared with sums of the ledger rows. The credits by
rank with a few members taken off are compared with the same figures read over the members left.
"""

import importlib
import statistics
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from accounts.models import User
from accounts.presentation import shown_name
from analytics import selectors
from analytics.selectors import Filters, credit_distribution, economy_figures
from economy import services as economy
from tests.invariants import assert_ledger_invariant
from tests.test_analytics import TODAY, clock, history  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
ZERO = Decimal("0.00")


def expected_earners(filters, left_out=()):
    people = {person.id: person for person in User.objects.all()}
    gains = {}
    for person_id, credits, pay, ts in selectors.Transaction.objects.values_list(
        "user_id", "amount_cr", "amount_pay", "ts"
    ):
        if person_id in left_out or not filters.since <= ts < filters.until:
            continue
        if filters.rank and people[person_id].rank != filters.rank:
            continue
        total = gains.setdefault(person_id, [0, ZERO])
        total[0] += credits
        total[1] += pay
    ranked = sorted(
        ((person_id, credits, pay) for person_id, (credits, pay) in gains.items() if credits > 0),
        key=lambda row: (-row[1], -row[2], row[0]),
    )[:10]
    return [(shown_name(people[person_id]), credits, pay) for person_id, credits, pay in ranked]


PERIODS = [
    pytest.param(Filters(start=TODAY - timedelta(days=45), end=TODAY), id="45-days"),
    pytest.param(Filters(start=TODAY - timedelta(days=6), end=TODAY), id="7-days"),
    pytest.param(Filters(start=TODAY - timedelta(days=8), end=TODAY - timedelta(days=4)), id="custom"),
    pytest.param(Filters(start=TODAY - timedelta(days=45), end=TODAY, rank="asset"), id="assets"),
    pytest.param(Filters(start=TODAY - timedelta(days=1), end=TODAY, rank="shadow"), id="shadows-2-days"),
]


@pytest.mark.parametrize("filters", PERIODS)
@pytest.mark.parametrize(
    "first, most", [(40, 2000), (1, 0), (1, 1000), (2, 5)], ids=["usual", "pass", "contenders", "few-contenders"]
)
def test_the_top_earners_are_the_ledgers_whichever_way_they_are_found(history, monkeypatch, filters, first, most):  # noqa: F811
    monkeypatch.setattr(selectors, "FEW_LEADERS", first)
    monkeypatch.setattr(selectors, "MOST_LEADERS", most)
    niki = history["niki"]
    for viewer, left_out in ((history["nyx"], {niki.id}), (niki, set())):
        figures = economy_figures(User.objects.get(id=viewer.id), filters)
        assert [(e.name, e.credits, e.pay) for e in figures.earners] == expected_earners(filters, left_out)


def test_an_old_large_gain_does_not_hide_this_weeks_earners(history, monkeypatch):  # noqa: F811
    """The member who gained most overall gained nothing this week: the first look (one member) cannot settle
    the ten, so all who can still lead are read; a deduction this week lowers a gain, never the credits gained
    overall."""
    monkeypatch.setattr(selectors, "FEW_LEADERS", 1)
    monkeypatch.setattr(selectors, "MOST_LEADERS", 64)
    asset_3 = history["asset_3"]
    before = User.objects.get(id=asset_3.id).credits_gained
    economy.adjust(actor=history["executor"], user_id=asset_3.id, credits=-1, pay="0", reason="Late")
    assert User.objects.get(id=asset_3.id).credits_gained == before  # a deduction is no gain taken back
    week = Filters(start=TODAY - timedelta(days=6), end=TODAY)
    nyx = User.objects.get(id=history["nyx"].id)
    assert [(e.name, e.credits, e.pay) for e in economy_figures(nyx, week).earners] == expected_earners(
        week, {history["niki"].id}
    )
    assert_ledger_invariant()


def test_the_migration_builds_the_credits_gained_from_the_ledger(history):  # noqa: F811
    kept = dict(User.objects.values_list("id", "credits_gained"))
    assert any(kept.values())
    User.objects.update(credits_gained=0)  # an install from before they were kept
    migration = importlib.import_module("economy.migrations.0008_credits_gained_from_ledger")
    migration.build_from_ledger(django_apps, None)
    assert dict(User.objects.values_list("id", "credits_gained")) == kept


@pytest.mark.parametrize("rank", ["", "asset", "shadow"])
def test_credits_by_rank_with_a_few_members_taken_off(history, rank):  # noqa: F811
    """Grouped over every member, with two taken off (one of them the lowest of the assets), as read over the
    members left."""
    niki, nyx = history["niki"], User.objects.get(id=history["nyx"].id)
    left_out = [niki.id, history["asset"].id]
    people = [person for person in User.objects.exclude(id__in=left_out) if not rank or person.rank == rank]
    by_rank = {}
    for person in people:
        by_rank.setdefault(person.rank, []).append(person.credits)
    expected = {
        value: (len(credits), sum(credits), min(credits), Decimal(statistics.median(credits)), max(credits))
        for value, credits in by_rank.items()
    }
    figures = credit_distribution(nyx, rank, left_out)
    assert {row.rank: (row.members, row.total, row.low, row.median, row.high) for row in figures} == expected
    assert "niki" not in {row.rank for row in figures}


def test_the_bar_set_by_the_first_look_lets_every_possible_leader_in(org, monkeypatch):
    """Two earners wanted, two members looked at first: North gained most overall (100 long ago) but only 6 this
    week, so the second of the first look sets the bar at 6; Moss, next overall, could pass it, so everyone
    who ever gained 6 or more is summed (not North alone), and Holt and Moss lead."""
    monkeypatch.setattr(selectors, "TOP_EARNERS", 2)
    monkeypatch.setattr(selectors, "FEW_LEADERS", 2)
    monkeypatch.setattr(selectors, "MOST_LEADERS", 10)
    niki = org["niki"]
    moment = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: moment - timedelta(days=20))
    economy.adjust(actor=niki, user_id=org["asset"].id, credits=100, pay="0", reason="Long ago")
    monkeypatch.setattr(timezone, "now", lambda: moment)
    for name, credits in (("asset", 6), ("shadow", 9), ("asset_2", 8), ("asset_3", 7), ("shadow_2", 4)):
        economy.adjust(actor=niki, user_id=org[name].id, credits=credits, pay="0", reason="This week")
    week = Filters(start=moment.date() - timedelta(days=6), end=moment.date())
    looked_at = []
    period_gains = selectors._period_gains
    monkeypatch.setattr(selectors, "_period_gains", lambda *args: looked_at.append(args[1]) or period_gains(*args))
    earners = economy_figures(User.objects.get(id=org["nyx"].id), week).earners
    assert [(e.name, e.credits) for e in earners] == [(shown_name(org["shadow"]), 9), (shown_name(org["asset_2"]), 8)]
    assert [(e.name, e.credits, e.pay) for e in earners] == expected_earners(week, {niki.id})[:2]
    assert len(looked_at) == 2  # the first look, then those who reach the bar: no pass over the period
    assert sorted(looked_at[1].values_list("id", flat=True)) == sorted(
        org[name].id for name in ("asset", "shadow", "asset_2", "asset_3")
    )

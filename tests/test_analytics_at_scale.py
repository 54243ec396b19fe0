"""The analytics' ways to read a year at scale (docs/rules.md section 25) give the figures the plain reads give.

The top earners are looked for among the members who gained most overall before any pass over the period; here
the number looked at first is made tiny, so that every way (settled at once, after more rounds, or by the pass)
is taken on a small organisation, and each answer is compared with sums of the ledger rows. The credits by rank
with a few members taken off are compared with the same figures read over the members left.
"""

import importlib
import statistics
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps as django_apps

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
@pytest.mark.parametrize("first, most", [(40, 2560), (1, 1), (1, 8), (2, 16)], ids=["usual", "pass", "rounds", "two"])
def test_the_top_earners_are_the_ledgers_whichever_way_they_are_found(history, monkeypatch, filters, first, most):  # noqa: F811
    monkeypatch.setattr(selectors, "FEW_LEADERS", first)
    monkeypatch.setattr(selectors, "MOST_LEADERS", most)
    niki = history["niki"]
    for viewer, left_out in ((history["nyx"], {niki.id}), (niki, set())):
        figures = economy_figures(User.objects.get(id=viewer.id), filters)
        assert [(e.name, e.credits, e.pay) for e in figures.earners] == expected_earners(filters, left_out)


def test_an_old_large_gain_does_not_hide_this_weeks_earners(history, monkeypatch):  # noqa: F811
    """The member who gained most overall gained nothing this week: the first look (one member) cannot settle
    the ten, so more are read; a deduction this week lowers a gain, never the credits gained overall."""
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

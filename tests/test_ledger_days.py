"""The daily ledger totals (economy.models.LedgerDay, docs/rules.md section 23) follow every kind of ledger write.

Each test states the rows it expects in full, computed here from the amounts it wrote; after every database test
`tests/invariants.py` also checks that the totals equal the ledger summed per day, member rank and type.
"""

import importlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command

from accounts.models import User
from accounts.presentation import shown_name
from accounts.services import bootstrap_directorate
from analytics.selectors import Filters, economy_figures
from directorate.db import now
from directorate.errors import Invalid
from economy import services as economy
from economy.ledger import day_of, ledger_day_mismatches
from economy.models import LedgerDay, LedgerMemberDay, Transaction
from economy.periods import week_of
from nyx.services import niki_command
from tests.factories import submitted
from tests.invariants import database_state
from tests.test_double_approval import race, winners
from tickets import services

pytestmark = pytest.mark.django_db
ZERO = Decimal("0.00")


def totals():
    """{(day, rank, type): (credits, pay, entries)} of the rows with anything in them."""
    return {
        (row.day, row.rank, row.type): (row.credits, row.pay, row.entries)
        for row in LedgerDay.objects.all()
        if row.entries
    }


def approve(ticket, credits, pay):
    reviewer = User.objects.get(id=type(ticket).objects.get(id=ticket.id).reviewer_id)
    services.approve_reward(actor=reviewer, ticket_id=ticket.id, credits=credits, pay=pay)


def test_an_approval_adds_its_award_and_its_payment_to_the_day(org):
    approve(submitted(org["shadow"], org["asset"], credits=2, pay="9.50"), 2, "9.50")
    approve(submitted(org["shadow"], org["asset_2"], credits=1, pay="3.25"), 1, "3.25")
    approve(submitted(org["marshal"], org["shadow"], credits=3, pay="4.00"), 3, "4.00")
    today = day_of(now())
    assert totals() == {
        (today, "asset", "credit_award"): (3, ZERO, 2),
        (today, "asset", "payment"): (0, Decimal("12.75"), 2),
        (today, "shadow", "credit_award"): (3, ZERO, 1),
        (today, "shadow", "payment"): (0, Decimal("4.00"), 1),
    }


def test_an_adjustment_and_its_reversal(org):
    entry = economy.adjust(actor=org["marshal"], user_id=org["asset"].id, credits=5, pay="2.50", reason="Cover")
    economy.adjust(actor=org["marshal"], user_id=org["asset"].id, credits=-1, pay="0", reason="Late")
    economy.reverse_entry(actor=org["marshal"], entry_id=entry.id, reason="Wrong member")
    today = day_of(now())
    assert totals() == {
        (today, "asset", "manual_adj"): (4, Decimal("2.50"), 2),
        (today, "asset", "reversal"): (-5, Decimal("-2.50"), 1),
    }


def test_reversing_an_award_reverses_both_entries_in_the_totals(org):
    ticket = submitted(org["shadow"], org["asset"], credits=2, pay="6.00")
    approve(ticket, 2, "6.00")
    award = Transaction.objects.get(related_ticket_id=ticket.id, type="credit_award")
    economy.reverse_entry(actor=org["marshal"], entry_id=award.id, reason="Not done")
    assert totals()[(day_of(now()), "asset", "reversal")] == (-2, Decimal("-6.00"), 2)


def test_the_payroll_adds_salaries_and_decay(org):
    economy.adjust(actor=org["niki"], user_id=org["asset"].id, credits=150, reason="Standing")  # 2% decays: 3
    week = week_of(now().date())  # this week, paid as at its end: every member counts as enlisted for it
    report = economy.run_payroll(period=week.name, moment=week.end)
    assert report.lines
    salaries = Transaction.objects.filter(type="salary", period=week.name)
    decays = Transaction.objects.filter(type="decay", period=week.name)
    days = totals()
    salary_rows = {key: value for key, value in days.items() if key[2] == "salary"}
    decay_rows = {key: value for key, value in days.items() if key[2] == "decay"}
    assert sum(value[1] for value in salary_rows.values()) == sum(entry.amount_pay for entry in salaries) > 0
    assert sum(value[2] for value in salary_rows.values()) == salaries.count() == len(report.lines)
    assert sum(value[0] for value in decay_rows.values()) == sum(entry.amount_cr for entry in decays) < 0
    assert {rank for _, rank, _ in salary_rows} == set(
        User.objects.filter(id__in=salaries.values("user_id")).values_list("rank", flat=True)
    )


def test_a_refused_write_leaves_the_totals_untouched(org):
    economy.adjust(actor=org["marshal"], user_id=org["asset"].id, credits=1, pay="1.00", reason="Start")
    before = database_state()
    with pytest.raises(Invalid):
        economy.adjust(actor=org["marshal"], user_id=org["asset"].id, credits=0, pay="-5.00", reason="Too much")
    assert database_state() == before
    assert before["ledger_days"]  # the state compared holds the totals


def test_a_rank_change_moves_the_members_totals(org):
    asset = org["asset"]
    approve(submitted(org["shadow"], asset, credits=2, pay="5.00"), 2, "5.00")
    economy.adjust(actor=org["marshal"], user_id=asset.id, credits=1, pay="0", reason="Extra")
    payload = {"action": "move_member", "user_id": asset.id, "rank": "shadow", "reports_to_id": org["marshal"].id}
    assert niki_command(actor=org["niki"], payload=payload).done
    today = day_of(now())
    assert totals() == {
        (today, "shadow", "credit_award"): (2, ZERO, 1),
        (today, "shadow", "payment"): (0, Decimal("5.00"), 1),
        (today, "shadow", "manual_adj"): (1, ZERO, 1),
    }
    # Nyx's analytics for each rank now count the member as a shadow, as the ledger joined to the members does.
    nyx = User.objects.get(id=org["nyx"].id)
    shadows = economy_figures(nyx, Filters(start=today, end=today, rank="shadow"))
    assets = economy_figures(nyx, Filters(start=today, end=today, rank="asset"))
    assert {t.type: (t.credits, t.pay, t.entries) for t in shadows.totals} == {
        "credit_award": (2, ZERO, 1),
        "payment": (0, Decimal("5.00"), 1),
        "manual_adj": (1, ZERO, 1),
    }
    assert assets.totals == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.replica_set
def test_concurrent_writes_on_one_day_lose_nothing(org):
    """Eight adjustments at the same moment, each in its own thread and connection, all on one day and rank."""
    people = [org["asset"], org["asset_2"]]
    outcomes = race(
        *[
            (
                lambda person=people[n % 2], n=n: economy.adjust(
                    actor=org["marshal"], user_id=person.id, credits=n + 1, pay="1.25", reason=f"Shift {n}"
                )
            )
            for n in range(8)
        ]
    )
    assert len(winners(outcomes)) == 8
    today = day_of(now())
    assert totals() == {(today, "asset", "manual_adj"): (sum(range(1, 9)), Decimal("10.00"), 8)}


def member_totals():
    return sorted(LedgerMemberDay.objects.values_list("user_id", "day", "rank", "credits", "pay"))


def test_the_migration_builds_the_totals_from_an_existing_ledger(org):
    approve(submitted(org["shadow"], org["asset"], credits=2, pay="9.50"), 2, "9.50")
    economy.adjust(actor=org["executor"], user_id=org["shadow"].id, credits=-1, pay="1.00", reason="Fix")
    kept, kept_members = totals(), member_totals()
    assert len(kept_members) == 2
    LedgerDay.objects.all().delete()  # an install from before the totals existed
    LedgerMemberDay.objects.all().delete()
    assert ledger_day_mismatches()
    migration = importlib.import_module("economy.migrations.0007_daily_totals_from_ledger")
    migration.build_from_ledger(django_apps, None)
    assert (totals(), member_totals()) == (kept, kept_members)
    assert ledger_day_mismatches() == []


def test_seed_scale_writes_the_totals_of_its_ledger():
    bootstrap_directorate(niki_password="a-long-enough-password")
    call_command("seed_scale", users=40, tickets=300, seed=5, quiet=True)
    entries = Transaction.objects.count()
    assert entries > 0
    assert sum(value[2] for value in totals().values()) == entries
    assert ledger_day_mismatches() == []


def test_nyx_over_a_year_by_week_equals_the_ledger_for_every_rank(org):
    """The figures Nyx reads from the daily totals, for every rank filter, against sums of the ledger rows."""
    approve(submitted(org["shadow"], org["asset"], credits=2, pay="9.50"), 2, "9.50")
    approve(submitted(org["marshal"], org["shadow"], credits=1, pay="2.00"), 1, "2.00")
    economy.adjust(actor=org["executor"], user_id=org["marshal"].id, credits=4, pay="3.00", reason="Fix")
    assert niki_command(
        actor=org["niki"],
        payload={"action": "adjust", "user_id": org["niki"].id, "credits": 50, "pay": "90.00", "reason": "x"},
    ).done
    nyx = User.objects.get(id=org["nyx"].id)
    today = day_of(now())
    start = today - timedelta(days=365)
    people = dict(User.objects.values_list("id", "rank"))
    for rank in ["", "asset", "shadow", "marshal", "executor", "nyx"]:
        figures = economy_figures(nyx, Filters(start=start, end=today, interval="week", rank=rank))
        expected = {}
        for entry in Transaction.objects.exclude(user_id=org["niki"].id):
            if rank and people[entry.user_id] != rank:
                continue
            credits, pay, count = expected.get(entry.type, (0, ZERO, 0))
            expected[entry.type] = (credits + entry.amount_cr, pay + entry.amount_pay, count + 1)
        assert {t.type: (t.credits, t.pay, t.entries) for t in figures.totals} == expected, rank
    assert Transaction.objects.filter(user_id=org["niki"].id).exists()  # Niki's own entries were left out


def test_nyxs_top_earners_with_a_tie_at_tenth_place_follow_the_ledger(org):
    """Eleven members gain the same credits: ties go by pay, then as the ledger query orders them."""
    people = [name for name in org if name not in ("niki",)]
    for number, name in enumerate(people):
        economy.adjust(actor=org["niki"], user_id=org[name].id, credits=5, pay=f"{number % 4}.00", reason="Even")
    economy.adjust(actor=org["niki"], user_id=org["asset"].id, credits=1, pay="0", reason="Ahead")
    nyx = User.objects.get(id=org["nyx"].id)
    today = day_of(now())
    figures = economy_figures(nyx, Filters(start=today, end=today))
    gains = {}
    for entry in Transaction.objects.all():
        credits, pay = gains.get(entry.user_id, (0, ZERO))
        gains[entry.user_id] = (credits + entry.amount_cr, pay + entry.amount_pay)
    expected = sorted(gains.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))[:10]
    names = {person.id: person for person in User.objects.all()}
    assert [(earner.credits, earner.pay) for earner in figures.earners] == [value for _, value in expected]
    assert figures.earners[0].credits == 6 and len(figures.earners) == 10 < len(people)
    assert [earner.name for earner in figures.earners] == [shown_name(names[user_id]) for user_id, _ in expected]

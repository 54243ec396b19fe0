"""The weekly payroll: salaries and credit decay as ledger entries, each week paid once (docs/rules.md 9).

Every test ends with the ledger invariant. Members are enlisted "now", so most tests pay the current week
as if it had just ended (`moment=week.end`); the command tests move enlistment a month back instead and pay
the last completed week, as the command does by default.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from accounts.models import Notification, User
from accounts.ranks import Rank
from directorate.db import now
from directorate.errors import Invalid
from economy import services as economy
from economy.models import PayrollRun, Transaction
from economy.periods import last_completed_period, parse_period, week_of
from economy.rates import rate_for
from economy.selectors import payroll_preview, recent_rewards
from tests.factories import ORG
from tests.invariants import database_state, traces_of_niki

SALARY, DECAY = Transaction.Type.SALARY, Transaction.Type.DECAY
PAID_RANKS = set(ORG[1:])  # everyone but Niki


def this_week():
    return week_of(now().date())


def pay_this_week():
    week = this_week()
    return economy.run_payroll(period=week.name, moment=week.end)


def entries(kind, period=None):
    period = period or this_week().name
    return {entry.user_id: entry for entry in Transaction.objects.filter(type=kind, period=period)}


def payroll_state():
    return database_state() | {"payroll_runs": PayrollRun.objects.count()}


def enlisted_last_month():
    User.objects.update(created_at=now() - timedelta(days=30))


def give_credits(org, name, credits):
    economy.adjust(actor=org["niki"], user_id=org[name].id, credits=credits, reason="Standing")


# Salaries -----------------------------------------------------------------------------------------------------------


def test_salary_is_the_base_hourly_pay_times_the_hours_of_a_week(org):
    report = pay_this_week()

    salaries = entries(SALARY)
    assert set(salaries) == {org[name].id for name in PAID_RANKS}
    for name in PAID_RANKS:
        member, entry = org[name], salaries[org[name].id]
        assert entry.amount_pay == rate_for(member.rank).hourly_pay * 40, name
        assert (entry.amount_cr, entry.approved_by_id, entry.related_ticket_id) == (0, org["nyx"].id, None)
        assert User.objects.get(id=member.id).balance == entry.amount_pay
    assert salaries[org["asset"].id].amount_pay == Decimal("120.00")
    assert salaries[org["executor"].id].amount_pay == Decimal("320.00")
    assert salaries[org["nyx"].id].amount_pay == Decimal("400.00")  # NYX_HOURLY_PAY 10.00
    assert salaries[org["shadow"].id].reason == f"Weekly salary for {this_week()}: 40 h at ¤4.50."
    assert report.complete and not report.already_paid and len(report.lines) == len(PAID_RANKS)
    assert report.total_salary == sum(entry.amount_pay for entry in salaries.values())
    assert PayrollRun.objects.filter(period=this_week().name).count() == 1


@override_settings(PAYROLL_HOURS_PER_PERIOD=Decimal("37.5"), NYX_HOURLY_PAY=Decimal("0.00"))
def test_hours_are_configurable_and_nyx_unpaid_at_a_zero_rate(org):
    pay_this_week()

    salaries = entries(SALARY)
    assert salaries[org["asset"].id].amount_pay == Decimal("112.50")  # 3.00 x 37.5
    assert salaries[org["shadow"].id].amount_pay == Decimal("168.75")  # 4.50 x 37.5
    assert salaries[org["shadow"].id].reason.endswith("37.5 h at ¤4.50.")
    assert org["nyx"].id not in salaries


def test_a_week_is_paid_once_however_often_it_runs(org):
    first = pay_this_week()
    state = payroll_state()

    again = pay_this_week()

    assert first.lines and again.already_paid and again.lines == []
    assert payroll_state() == state
    assert len(entries(SALARY)) == len(PAID_RANKS)


def test_a_rerun_after_a_crash_settles_only_whoever_is_left(org):
    # A run that stopped after two members: those two are settled, the week is not recorded as paid.
    week = this_week()
    for name in ("asset", "marshal"):
        economy._settle_member(org[name].id, period=week, authority=org["nyx"])
    assert payroll_preview(week).lines and not PayrollRun.objects.exists()

    report = pay_this_week()

    assert {line.member.id for line in report.lines} == {org[name].id for name in PAID_RANKS - {"asset", "marshal"}}
    assert len(entries(SALARY)) == len(PAID_RANKS)
    assert User.objects.get(id=org["asset"].id).balance == Decimal("120.00")
    assert PayrollRun.objects.filter(period=week.name).exists()


def test_each_paid_member_gets_one_notification_with_what_was_paid(org):
    give_credits(org, "asset", 150)
    before = Notification.objects.count()

    pay_this_week()

    [note] = Notification.objects.filter(user=org["asset"]).exclude(message__contains="adjusted")
    assert note.message == (
        f"Weekly salary for {this_week()}: 40 h at ¤3.00. Credit decay for {this_week()}: 2% of 150 credits."
    )
    assert Notification.objects.count() == before + len(PAID_RANKS)


# Who is paid --------------------------------------------------------------------------------------------------------


def test_inactive_members_are_neither_paid_nor_decayed(org):
    give_credits(org, "asset_2", 200)
    User.objects.filter(id=org["asset_2"].id).update(is_active=False)

    pay_this_week()

    assert not Transaction.objects.filter(user=org["asset_2"], period=this_week().name).exists()
    assert User.objects.get(id=org["asset_2"].id).credits == 200


def test_members_enlisted_after_the_week_ended_wait_for_the_next_one(org, make_member):
    last_week = last_completed_period(now())
    newcomer = make_member(Rank.ASSET, org["shadow"], "asset.newcomer")
    User.objects.exclude(id=newcomer.id).update(created_at=last_week.start + timedelta(days=3))

    economy.run_payroll(period=last_week.name)

    paid = entries(SALARY, last_week.name)
    assert newcomer.id not in paid and org["asset"].id in paid  # enlisted mid-week: paid in full
    assert paid[org["asset"].id].amount_pay == Decimal("120.00")


def test_niki_leaves_no_trace(org, capsys):
    niki = org["niki"]
    give_credits(org, "niki", 500)
    enlisted_last_month()

    call_command("payroll", "--dry-run")
    call_command("payroll")
    call_command("payroll")

    assert not Transaction.objects.filter(user=niki).exclude(type=Transaction.Type.MANUAL_ADJ).exists()
    assert User.objects.get(id=niki.id).credits == 500
    assert traces_of_niki(capsys.readouterr().out, niki) == []
    payroll_texts = Transaction.objects.filter(type__in=[SALARY, DECAY]).values_list("reason", "approved_by_id")
    assert payroll_texts and all(
        traces_of_niki(f"{reason} {approver}", niki) == [] for reason, approver in payroll_texts
    )
    for message in Notification.objects.exclude(user=niki).values_list("message", flat=True):
        assert traces_of_niki(message, niki) == []


# Decay --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credits", "taken"),
    [(149, 2), (150, 3), (50, 1), (49, 0), (1, 0), (0, 0), (-7, 0)],
)
def test_decay_is_two_percent_rounded_down_and_spares_zero_and_negative_credits(org, credits, taken):
    if credits:
        give_credits(org, "shadow", credits)

    pay_this_week()

    decay = entries(DECAY)
    assert User.objects.get(id=org["shadow"].id).credits == credits - taken
    if taken:
        assert decay[org["shadow"].id].amount_cr == -taken
        assert decay[org["shadow"].id].reason == f"Credit decay for {this_week()}: 2% of {credits} credits."
    else:
        assert org["shadow"].id not in decay


@override_settings(PAYROLL_DECAY_PERCENT=Decimal("100"))
def test_full_decay_ends_at_exactly_zero(org):
    give_credits(org, "asset", 37)
    pay_this_week()
    assert User.objects.get(id=org["asset"].id).credits == 0
    assert entries(DECAY)[org["asset"].id].amount_cr == -37


@override_settings(PAYROLL_DECAY_PERCENT=Decimal("0"))
def test_zero_percent_turns_decay_off(org):
    give_credits(org, "asset", 5000)
    pay_this_week()
    assert entries(DECAY) == {} and User.objects.get(id=org["asset"].id).credits == 5000


@override_settings(PAYROLL_HOURS_PER_PERIOD=Decimal("0"))
def test_zero_hours_pays_no_salary_but_still_decays(org):
    give_credits(org, "marshal", 300)
    pay_this_week()
    assert entries(SALARY) == {}
    assert entries(DECAY)[org["marshal"].id].amount_cr == -6
    assert PayrollRun.objects.filter(period=this_week().name).exists()


# The command --------------------------------------------------------------------------------------------------------


def test_dry_run_prints_each_member_and_totals_and_writes_nothing(org, capsys):
    give_credits(org, "asset", 100)
    enlisted_last_month()
    state = payroll_state()

    call_command("payroll", "--dry-run")

    assert payroll_state() == state
    out = capsys.readouterr().out
    week = last_completed_period(now())
    assert f"Payroll {week} (" in out and "dry run, nothing written" in out
    assert "asset.one" in out and "¤120.00" in out and "-2 credits" in out
    total = sum(rate_for(org[name].rank).hourly_pay * 40 for name in PAID_RANKS)
    assert f"Total: {len(PAID_RANKS)} members, salaries ¤{total}, decay 2 credits." in out


def test_the_command_pays_the_last_completed_week_then_says_it_was_paid(org, capsys):
    enlisted_last_month()
    week = last_completed_period(now())

    call_command("payroll")
    first = capsys.readouterr().out
    call_command("payroll", "--period", week.name)
    second = capsys.readouterr().out

    assert f"Payroll {week} (" in first and "paid:" in first
    assert second.strip() == f"Payroll {week} was already paid; nothing is paid now."
    assert len(entries(SALARY, week.name)) == len(PAID_RANKS)


@pytest.mark.parametrize(
    "period",
    [
        "2026-w47",
        "2026W47",
        "26-W47",
        "2026-W7",
        "2026-W047",
        " 2026-W47",
        "2026-W47 ",
        "２０２６-W47",
        "2026-W٤٧",
        "2026-W00",
        "2026-W54",
        "2025-W53",
        "0000-W01",
        "",
        "week 47",
        "9999-W52",
    ],
)
@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_a_bad_period_is_refused_clearly_and_writes_nothing(org, period, dry_run):
    enlisted_last_month()
    state = payroll_state()
    with pytest.raises(CommandError) as error:
        call_command("payroll", "--period", period, *(["--dry-run"] if dry_run else []))
    message = str(error.value)
    assert "ISO week" in message or "is not a week" in message or "has not ended yet" in message, message
    assert payroll_state() == state


def test_the_current_week_has_not_ended(org):
    with pytest.raises(Invalid, match="has not ended yet"):
        economy.run_payroll(period=this_week().name)
    assert not Transaction.objects.filter(type__in=[SALARY, DECAY]).exists()


def test_weeks_are_iso_weeks_in_utc():
    monday = datetime(2026, 11, 30, tzinfo=UTC)
    assert last_completed_period(monday).name == "2026-W48"
    assert last_completed_period(monday - timedelta(milliseconds=1)).name == "2026-W47"
    week = parse_period("2026-W53", moment=datetime(2027, 1, 4, tzinfo=UTC))  # 2026 has 53 weeks
    assert (week.start, week.end) == (datetime(2026, 12, 28, tzinfo=UTC), datetime(2027, 1, 4, tzinfo=UTC))
    assert last_completed_period(datetime(2027, 1, 6, tzinfo=UTC)).name == "2026-W53"
    with pytest.raises(Invalid, match="has not ended yet"):
        parse_period("2026-W53", moment=datetime(2027, 1, 3, 23, 59, tzinfo=UTC))


# The worker ---------------------------------------------------------------------------------------------------------


@override_settings(GEMINI_API_KEY="", NYX_DIRECTIVE_PERIOD=0)
def test_the_worker_pays_a_completed_week_once(org, capsys):
    enlisted_last_month()
    week = last_completed_period(now())

    call_command("worker", "--once")
    call_command("worker", "--once")

    assert len(entries(SALARY, week.name)) == len(PAID_RANKS)
    assert PayrollRun.objects.filter(period=week.name).count() == 1
    out = capsys.readouterr().out
    assert out.count(f"payroll {week}: {len(PAID_RANKS)} members paid") == 1


# The ledger page ------------------------------------------------------------------------------------------------


def test_the_ledger_page_shows_salary_and_decay(org, client):
    give_credits(org, "asset", 100)
    pay_this_week()
    client.force_login(org["asset"])

    page = client.get("/ledger/").content.decode()

    assert "Weekly salary" in page and "Credit decay" in page
    assert f"Weekly salary for {this_week()}: 40 h at ¤3.00." in page
    assert f"Credit decay for {this_week()}: 2% of 100 credits." in page
    assert "Nyx" in page and traces_of_niki(page, org["niki"]) == []


def test_salaries_are_not_listed_as_rewards_on_the_dashboard(org):
    pay_this_week()
    assert recent_rewards(org["asset"]) == []

"""Payroll runs started at the same moment pay each member once (docs/rules.md 9), with real threads, each on
its own connection, against a database committed for real. Ends with the ledger invariant."""

from decimal import Decimal

import pytest

from accounts.models import User
from directorate.db import now
from economy.models import PayrollRun, Transaction
from economy.periods import week_of
from economy.services import adjust, run_payroll
from tests.invariants import assert_ledger_invariant
from tests.test_double_approval import race, winners

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.replica_set,  # racing payroll runs: on MongoDB, a replica set's write conflicts decide them
]

RACERS = 6


def test_concurrent_runs_of_one_week_pay_each_member_once(org):
    week = week_of(now().date())
    adjust(actor=org["marshal"], user_id=org["asset"].id, credits=250, reason="Standing")

    outcomes = race(*[lambda: run_payroll(period=week.name, moment=week.end)] * RACERS)

    assert len(winners(outcomes)) == RACERS  # nobody crashed or was refused; some simply found nothing left
    paid = [line.member.id for _, report in outcomes for line in report.lines]
    salaried = Transaction.objects.filter(type="salary", period=week.name)
    assert len(paid) == len(set(paid)) == salaried.count() == 11
    assert Transaction.objects.filter(type="decay", period=week.name).count() == 1
    assert User.objects.get(id=org["asset"].id).credits == 245
    assert User.objects.get(id=org["asset"].id).balance == Decimal("120.00")
    assert PayrollRun.objects.filter(period=week.name).count() == 1
    assert_ledger_invariant()

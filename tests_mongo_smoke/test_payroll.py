"""The weekly payroll on the MongoDB backend: the preview's reads, the ledger entries of a run, the partial
unique indexes that pay a member once a week, and the guarded wallet update (compiled only: mongomock has no
Decimal128 arithmetic, see test_economy.py)."""

from decimal import Decimal

import pytest
from bson import Decimal128
from django.db import IntegrityError
from django_mongodb_backend.compiler import SQLUpdateCompiler

from accounts.models import User
from directorate.db import now
from economy.models import PayrollRun, Transaction
from economy.periods import week_of
from economy.selectors import payroll_preview
from economy.services import run_payroll
from tests_mongo_smoke.test_economy import added


@pytest.fixture
def wallet_updates(monkeypatch):
    """Record each wallet update as compiled for MongoDB, answering "one member matched" as the server would."""
    sent = []
    original_update = SQLUpdateCompiler.update

    def record(compiler, criteria, pipeline):
        if compiler.collection_name != "accounts_user" or "balance" not in pipeline[0]["$set"]:
            return original_update(compiler, criteria, pipeline)
        sent.append((criteria, pipeline))
        return 1

    monkeypatch.setattr(SQLUpdateCompiler, "update", record)
    return sent


def test_a_run_writes_salaries_and_decay_once(org, wallet_updates):
    asset = org["asset"]
    assert User.objects.filter(id=asset.id).update(credits=150) == 1
    week = week_of(now().date())

    preview = payroll_preview(week)
    report = run_payroll(period=week.name, moment=week.end)
    again = run_payroll(period=week.name, moment=week.end)

    assert [line.member.username for line in preview.lines] == [line.member.username for line in report.lines]
    assert "niki" not in {line.member.username for line in preview.lines}
    assert again.already_paid and len(PayrollRun.objects.filter(period=week.name)) == 1
    salaries = list(Transaction.objects.filter(type="salary", period=week.name))
    assert len(salaries) == 11 and {entry.approved_by_id for entry in salaries} == {org["nyx"].id}
    [decay] = Transaction.objects.filter(type="decay", period=week.name)
    assert (decay.user_id, decay.amount_cr) == (asset.id, -3)

    # The asset's wallet: salary added, and the decay applies only while the credits cover it.
    [(criteria, pipeline)] = [sent for sent in wallet_updates if {"_id": asset.id} in sent[0].get("$and", [])]
    assert {"credits": {"$gte": 3}} in criteria["$and"]
    assert added(pipeline[0]["$set"]["credits"]) == ("$credits", -3)
    assert added(pipeline[0]["$set"]["balance"]) == ("$balance", Decimal128("120.00"))


def test_the_ledger_refuses_a_second_salary_or_decay_for_a_member_and_week(org):
    asset, nyx = org["asset"], org["nyx"]

    def entry(kind, period, **amounts):
        return Transaction.objects.create(user=asset, approved_by=nyx, type=kind, period=period, **amounts)

    entry("salary", "2026-W47", amount_pay=Decimal("120.00"))
    entry("decay", "2026-W47", amount_cr=-1)
    entry("salary", "2026-W48", amount_pay=Decimal("120.00"))
    entry("manual_adj", "", amount_cr=1)
    entry("manual_adj", "", amount_cr=2)  # entries without a week are left alone
    for kind in ("salary", "decay"):
        with pytest.raises(IntegrityError):
            entry(kind, "2026-W47", amount_cr=-1)
    assert len(Transaction.objects.filter(user=asset)) == 5

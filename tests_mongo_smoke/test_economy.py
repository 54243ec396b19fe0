"""The ledger on the MongoDB backend: append-only entries, Decimal amounts, one payout per ticket, and
the wallet update of a manual adjustment (compiled only: mongomock has no Decimal128 arithmetic)."""

from decimal import Decimal

import pytest
from bson import Decimal128
from django.db import IntegrityError
from django_mongodb_backend.compiler import SQLUpdateCompiler

from accounts.models import Notification, User
from economy.models import Transaction
from economy.services import adjust
from tickets.services import create_ticket


def added(expression):
    """The operands of a compiled `$add`, without `$literal` wrappers."""
    first, second = expression["$add"]
    return first, second["$literal"] if isinstance(second, dict) else second


def entry(user, approver, **fields):
    return Transaction.objects.create(user=user, approved_by=approver, **fields)


def test_transactions_are_append_only(org):
    asset, marshal = org["asset"], org["marshal"]
    first = entry(asset, marshal, type=Transaction.Type.MANUAL_ADJ, amount_cr=5, amount_pay=Decimal("12.50"),
                  reason="Night shift")
    stored = Transaction.objects.get(id=first.id)
    assert (stored.amount_cr, stored.amount_pay, stored.reason) == (5, Decimal("12.50"), "Night shift")
    assert isinstance(stored.amount_pay, Decimal)

    stored.amount_cr = 500
    with pytest.raises(TypeError, match="append-only"):
        stored.save()
    with pytest.raises(TypeError, match="append-only"):
        stored.delete()
    with pytest.raises(TypeError, match="append-only"):
        Transaction.objects.filter(user=asset).update(amount_cr=0)
    with pytest.raises(TypeError, match="append-only"):
        Transaction.objects.filter(user=asset).delete()
    assert [(row.id, row.amount_cr) for row in Transaction.objects.all()] == [(first.id, 5)]


def test_one_payout_per_ticket_but_many_adjustments(org):
    asset, shadow = org["asset"], org["shadow"]
    ticket = create_ticket(actor=shadow, assignee_id=asset.id, category="Order", sub_category="Routine Directive",
                           title="Paid work")
    entry(asset, shadow, type="credit_award", amount_cr=10, related_ticket=ticket)
    entry(asset, shadow, type="payment", amount_pay=Decimal("40.00"), related_ticket=ticket)
    # Adjustments have no ticket: the partial unique indexes leave them alone.
    entry(asset, shadow, type="manual_adj", amount_cr=1, reason="one")
    entry(asset, shadow, type="manual_adj", amount_cr=2, reason="two")
    with pytest.raises(IntegrityError):
        entry(asset, shadow, type="credit_award", amount_cr=10, related_ticket=ticket)
    assert len(Transaction.objects.filter(related_ticket=ticket)) == 2
    assert len(Transaction.objects.filter(user=asset)) == 4


def test_adjust_writes_the_ledger_and_compiles_the_wallet_update(org, monkeypatch):
    # Compile-only for the wallet update: `_move_wallet` adds to `balance` with F() (`$add` on
    # Decimal128) under a `balance >= amount` guard, and mongomock can neither add nor compare
    # Decimal128 ("$add only uses numbers"; "does not know how to sort ... Decimal128"); MongoDB
    # does both. So the backend compiles that update and this test records it instead of sending
    # it, answering "one member matched" as the server would for an existing member. The ledger
    # entry and the notification around it are written for real.
    asset, marshal = org["asset"], org["marshal"]
    sent = []
    original_update = SQLUpdateCompiler.update

    def record_wallet_update(compiler, criteria, pipeline):
        if compiler.collection_name != "accounts_user" or "credits" not in pipeline[0]["$set"]:
            return original_update(compiler, criteria, pipeline)  # the unread count is an integer: run for real
        sent.append((criteria, pipeline))
        return 1

    monkeypatch.setattr(SQLUpdateCompiler, "update", record_wallet_update)
    entry = adjust(actor=marshal, user_id=asset.id, credits=7, pay="15.25", reason="Found the missing crates")
    adjust(actor=marshal, user_id=asset.id, credits=-2, pay="-5.00", reason="Late report")

    (gain_criteria, gain_pipeline), (loss_criteria, loss_pipeline) = sent
    assert gain_criteria == {"_id": asset.id}
    gain = gain_pipeline[0]["$set"]
    assert added(gain["credits"]) == ("$credits", 7)
    assert added(gain["balance"]) == ("$balance", Decimal128("15.25"))
    assert "updated_at" in gain
    # A deduction applies only while the balance covers it.
    assert {"_id": asset.id} in loss_criteria["$and"]
    assert {"balance": {"$gte": Decimal128("5.00")}} in loss_criteria["$and"]
    assert added(loss_pipeline[0]["$set"]["balance"]) == ("$balance", Decimal128("-5.00"))

    entries = list(Transaction.objects.filter(user=asset).order_by("-ts", "-id"))
    assert [(e.type, e.amount_cr, e.amount_pay, e.reason) for e in entries] == [
        ("manual_adj", -2, Decimal("-5.00"), "Late report"),
        ("manual_adj", 7, Decimal("15.25"), "Found the missing crates"),
    ]
    assert entries[1].id == entry.id and {e.approved_by_id for e in entries} == {marshal.id}
    assert len(Notification.objects.filter(user=asset)) == 2
    assert User.objects.get(id=asset.id).unread_notifications == 2

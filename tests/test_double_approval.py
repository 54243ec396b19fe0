"""A ticket pays out at most once, with real concurrency against the real database (docs/rules.md 3, "Payment").

Each racer runs in its own thread, hence its own database connection, and all are released at once by a
barrier. The database is committed for real (`transaction=True`), so the services' atomic units, conditional
updates and unique constraints are what keeps the outcome right. Every race ends with the ledger invariant.
"""

import threading
import traceback
from decimal import Decimal

import pytest
from django.db import connections

from accounts.ranks import Rank
from directorate.errors import Conflict, DomainError, Invalid
from economy import services as economy
from economy.models import Transaction
from tests.factories import submitted, wallet
from tests.invariants import assert_ledger_invariant
from tickets import services
from tickets.models import ApprovalStep, Ticket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.replica_set,  # racing writers: on MongoDB, a replica set's write conflicts decide them
]

RACERS = 8
Status = Ticket.Status
Decision = ApprovalStep.Decision


def race(*calls):
    """Run every call at the same moment, each in its own thread and connection; return their outcomes in order.

    An outcome is ("ok", result), or (error class, message) for a refusal. Anything else (a crash, or
    "database is locked") is returned as ("crash", traceback) so the assertion shows it in full.
    """
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=30)
            outcomes[index] = ("ok", call())
        except DomainError as error:
            outcomes[index] = (type(error), error.message)
        except BaseException:  # reported, not hidden
            outcomes[index] = ("crash", traceback.format_exc())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a racer never finished"
    crashes = [outcome[1] for outcome in outcomes if outcome[0] == "crash"]
    assert not crashes, "racers crashed instead of being refused:\n" + "\n".join(crashes)
    return outcomes


def winners(outcomes):
    return [outcome for outcome in outcomes if outcome[0] == "ok"]


def refusals(outcomes):
    return [outcome[0] for outcome in outcomes if outcome[0] != "ok"]


def payouts(ticket):
    entries = Transaction.objects.filter(related_ticket_id=ticket.id)
    return sorted(entries.values_list("type", "amount_cr", "amount_pay"))


def test_many_clicks_on_approve_pay_once(org):
    north, vance = org["asset"], org["marshal"]
    ticket = submitted(org["shadow"], north, credits=2, pay="9.50")
    outcomes = race(
        *[
            lambda: services.approve_reward(actor=vance, ticket_id=ticket.id, credits=2, pay="9.50")
            for _ in range(RACERS)
        ]
    )
    assert len(winners(outcomes)) == 1
    assert refusals(outcomes) == [Conflict] * (RACERS - 1)
    assert payouts(ticket) == [("credit_award", 2, Decimal("0.00")), ("payment", 0, Decimal("9.50"))]
    assert wallet(north) == (2, Decimal("9.50"))
    assert ApprovalStep.objects.filter(ticket_id=ticket.id, decision=Decision.APPROVED).count() == 1
    assert Ticket.objects.get(id=ticket.id).status == Status.CLOSED
    assert_ledger_invariant()


def test_clicks_with_different_amounts_pay_only_the_winner(org):
    north, vance = org["asset"], org["marshal"]
    ticket = submitted(org["shadow"], north, credits=1, pay="3.00")
    amounts = [(credits, f"1.{credits:02d}") for credits in range(1, RACERS + 1)]  # all normal for an asset
    outcomes = race(
        *[
            lambda credits=credits, pay=pay: services.approve_reward(
                actor=vance, ticket_id=ticket.id, credits=credits, pay=pay
            )
            for credits, pay in amounts
        ]
    )
    assert len(winners(outcomes)) == 1 and refusals(outcomes) == [Conflict] * (RACERS - 1)
    won = Ticket.objects.get(id=ticket.id)
    assert wallet(north) == (won.reward_credits, won.reward_pay)
    assert payouts(ticket) == [("credit_award", won.reward_credits, Decimal("0.00")), ("payment", 0, won.reward_pay)]
    assert_ledger_invariant()


def test_many_recommendations_of_an_abnormal_award_move_it_up_once(org):
    north, vance, kade = org["asset"], org["marshal"], org["executor"]
    ticket = submitted(org["shadow"], north, credits=1, pay="15.01")
    outcomes = race(
        *[
            lambda: services.approve_reward(actor=vance, ticket_id=ticket.id, credits=1, pay="15.01")
            for _ in range(RACERS)
        ]
    )
    assert len(winners(outcomes)) == 1 and refusals(outcomes) == [Conflict] * (RACERS - 1)
    ticket = Ticket.objects.get(id=ticket.id)
    assert (ticket.status, ticket.reviewer_id) == (Status.AWAITING_REVIEW, kade.id)
    assert ApprovalStep.objects.filter(ticket_id=ticket.id).count() == 1
    assert payouts(ticket) == [] and wallet(north) == (0, Decimal("0.00"))
    outcomes = race(
        *[
            lambda: services.approve_reward(actor=kade, ticket_id=ticket.id, credits=1, pay="15.01")
            for _ in range(RACERS)
        ]
    )
    assert len(winners(outcomes)) == 1 and refusals(outcomes) == [Conflict] * (RACERS - 1)
    assert wallet(north) == (1, Decimal("15.01"))
    assert_ledger_invariant()


@pytest.mark.parametrize("round_", range(4))
def test_escalate_racing_approve_from_the_same_reviewer_decides_once(org, round_):
    north, vance, kade = org["asset"], org["marshal"], org["executor"]
    ticket = submitted(org["shadow"], north, credits=1, pay="3.00")
    approve = lambda: services.approve_reward(actor=vance, ticket_id=ticket.id, credits=1, pay="3.00")  # noqa: E731
    escalate = lambda: services.escalate(actor=vance, ticket_id=ticket.id)  # noqa: E731
    outcomes = race(*([approve, escalate] * (RACERS // 2)))
    assert len(winners(outcomes)) == 1
    assert refusals(outcomes) == [Conflict] * (RACERS - 1)
    ticket = Ticket.objects.get(id=ticket.id)
    assert ApprovalStep.objects.filter(ticket_id=ticket.id).count() == 1
    if ticket.status == Status.CLOSED:
        assert wallet(north) == (1, Decimal("3.00"))
    else:
        assert (ticket.status, ticket.reviewer_id) == (Status.AWAITING_REVIEW, kade.id)
        assert payouts(ticket) == []
    assert_ledger_invariant()


def test_the_old_and_the_new_reviewer_at_once_pay_once(org):
    """Vance escalated to Kade; Vance's stale page retries approve while Kade approves."""
    north, vance, kade = org["asset"], org["marshal"], org["executor"]
    ticket = submitted(org["shadow"], north, credits=1, pay="3.00")
    services.escalate(actor=vance, ticket_id=ticket.id)
    outcomes = race(
        *[
            (lambda actor=actor: services.approve_reward(actor=actor, ticket_id=ticket.id, credits=1, pay="3.00"))
            for actor in [vance, kade] * (RACERS // 2)
        ]
    )
    assert len(winners(outcomes)) == 1
    assert refusals(outcomes) == [Conflict] * (RACERS - 1)
    assert Transaction.objects.get(related_ticket_id=ticket.id, type="payment").approved_by_id == kade.id
    assert wallet(north) == (1, Decimal("3.00"))
    assert_ledger_invariant()


def test_send_back_racing_approve_decides_once(org):
    north, vance = org["asset"], org["marshal"]
    ticket = submitted(org["shadow"], north, credits=1, pay="3.00")
    approve = lambda: services.approve_reward(actor=vance, ticket_id=ticket.id, credits=1, pay="3.00")  # noqa: E731
    send_back = lambda: services.send_back(actor=vance, ticket_id=ticket.id, comment="Redo it.")  # noqa: E731
    outcomes = race(*([approve, send_back] * (RACERS // 2)))
    assert len(winners(outcomes)) == 1 and refusals(outcomes) == [Conflict] * (RACERS - 1)
    ticket = Ticket.objects.get(id=ticket.id)
    assert ticket.status in (Status.CLOSED, Status.IN_PROGRESS)
    assert len(payouts(ticket)) == (2 if ticket.status == Status.CLOSED else 0)
    assert_ledger_invariant()


def test_approvals_of_different_tickets_for_one_person_all_add_up(org):
    north, vance = org["asset"], org["marshal"]
    tickets = [submitted(org["shadow"], north, credits=1, pay=f"2.{n:02d}") for n in range(1, RACERS + 1)]
    outcomes = race(
        *[
            (
                lambda ticket=ticket: services.approve_reward(
                    actor=vance, ticket_id=ticket.id, credits=1, pay=ticket.reward_pay
                )
            )
            for ticket in tickets
        ]
    )
    assert len(winners(outcomes)) == RACERS
    expected_pay = sum((ticket.reward_pay for ticket in tickets), Decimal("0.00"))
    assert wallet(north) == (RACERS, expected_pay)
    assert_ledger_invariant()


def test_deductions_at_once_never_overdraw_the_balance(org):
    north, vance = org["asset"], org["marshal"]
    economy.adjust(actor=vance, user_id=north.id, pay="10.00", reason="Float")
    outcomes = race(
        *[lambda: economy.adjust(actor=vance, user_id=north.id, pay="-3.00", reason="Fine") for _ in range(RACERS)]
    )
    assert len(winners(outcomes)) == 3
    assert refusals(outcomes) == [Invalid] * (RACERS - 3)
    assert wallet(north) == (0, Decimal("1.00"))
    assert Transaction.objects.filter(user_id=north.id).count() == 4
    assert_ledger_invariant()


def test_adjustments_and_an_approval_at_once_all_land(org):
    north, vance, kade = org["asset"], org["marshal"], org["executor"]
    ticket = submitted(org["shadow"], north, credits=2, pay="5.00")
    calls = [lambda: services.approve_reward(actor=vance, ticket_id=ticket.id, credits=2, pay="5.00")]
    calls += [
        (lambda actor=actor: economy.adjust(actor=actor, user_id=north.id, credits=-1, pay="1.00", reason="Bonus"))
        for actor in [vance, kade] * ((RACERS - 1) // 2)
    ]
    outcomes = race(*calls)
    assert len(winners(outcomes)) == len(calls)
    adjustments = len(calls) - 1
    assert wallet(north) == (2 - adjustments, Decimal("5.00") + adjustments)
    assert_ledger_invariant()


@pytest.mark.parametrize("step", ["start", "submit"])
def test_double_clicks_on_start_and_submit_move_the_ticket_once(org, step):
    north = org["asset"]
    ticket = services.create_ticket(
        actor=org["shadow"], title="Patrol", category="Order", sub_category="Routine Directive", assignee_id=north.id
    )
    if step == "start":
        call = lambda: services.start_work(actor=north, ticket_id=ticket.id)  # noqa: E731
    else:
        services.start_work(actor=north, ticket_id=ticket.id)
        call = lambda: services.submit_for_review(  # noqa: E731
            actor=north, ticket_id=ticket.id, reward_credits=1, reward_pay="2.00"
        )
    outcomes = race(*[call] * RACERS)
    assert len(winners(outcomes)) == 1 and refusals(outcomes) == [Conflict] * (RACERS - 1)
    if step == "submit":
        from accounts.models import Notification

        assert Notification.objects.filter(user_id=org["marshal"].id, message__startswith="Awaiting").count() == 1


def test_promotion_approved_twice_at_once_promotes_once(org):
    north, vance = org["asset"], org["marshal"]
    ticket = services.create_ticket(
        actor=north,
        title="Promote me",
        category="Personnel",
        sub_category="Promotion Request",
        assignee_id=org["shadow"].id,
        subject_id=north.id,
    )
    outcomes = race(*[lambda: services.approve_promotion(actor=vance, ticket_id=ticket.id)] * RACERS)
    assert len(winners(outcomes)) == 1 and refusals(outcomes) == [Conflict] * (RACERS - 1)
    north.refresh_from_db()
    assert north.rank == Rank.SHADOW
    from accounts.models import RankChange

    assert RankChange.objects.filter(user_id=north.id).count() == 1

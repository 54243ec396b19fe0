"""Reversals of awards and adjustments, promotion and demotion requests, and what a reviewer is told
(docs/rules.md section 18). Every test ends with the ledger invariant; races run on real threads."""

from decimal import Decimal

import pytest

from accounts.models import Notification, RankChange, User
from accounts.policy import may_promote
from accounts.ranks import Rank
from directorate.db import atomic
from directorate.errors import Conflict, Forbidden, Invalid, NotFound
from economy import services as economy
from economy.models import Transaction
from economy.validation import parse_money
from tests.invariants import assert_ledger_invariant
from tests.test_double_approval import RACERS, race, refusals, winners
from tests.test_reward_cycle import new_ticket, refused, reload, submitted, wallet
from tickets import services
from tickets.models import ApprovalStep, Ticket
from tickets.selectors import review_queue, ticket_for

Status = Ticket.Status
Decision = ApprovalStep.Decision
Type = Transaction.Type


def D(text):
    return Decimal(text)


def paid(org, credits=5, pay="12.00"):
    """Asset North's ticket, approved by marshal Vance: paid and closed."""
    ticket = submitted(org["asset"], org["asset"], credits=credits, pay=pay)
    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=credits, pay=pay)
    return reload(ticket)


def award_entry(ticket, type_=Type.PAYMENT):
    return Transaction.objects.get(related_ticket_id=ticket.id, type=type_)


# Reversals --------------------------------------------------------------------------------------------------


def test_reversing_an_award_writes_opposite_entries_and_the_wallet_follows(org):
    north, vance = org["asset"], org["marshal"]
    ticket = paid(org)
    assert wallet(north) == (5, D("12.00"))
    reversals = economy.reverse_entry(actor=vance, entry_id=award_entry(ticket).id, reason="Paid twice by mistake")
    assert sorted((r.type, r.amount_cr, r.amount_pay, r.reverses.type) for r in reversals) == [
        (Type.REVERSAL, -5, D("0.00"), Type.CREDIT_AWARD),
        (Type.REVERSAL, 0, D("-12.00"), Type.PAYMENT),
    ]
    assert all(r.reason == "Paid twice by mistake" and r.approved_by_id == vance.id for r in reversals)
    assert wallet(north) == (0, D("0.00"))
    # The originals are untouched: the ledger is append-only.
    assert award_entry(ticket).amount_pay == D("12.00")
    assert Notification.objects.filter(user_id=north.id, message__contains="reversed the award").exists()
    assert_ledger_invariant()


def test_an_entry_is_reversed_once(org):
    vance = org["marshal"]
    ticket = paid(org)
    economy.reverse_entry(actor=vance, entry_id=award_entry(ticket, Type.CREDIT_AWARD).id, reason="Wrong ticket")
    assert_ledger_invariant()
    for entry_type in (Type.CREDIT_AWARD, Type.PAYMENT):
        refused(
            Conflict,
            economy.reverse_entry,
            actor=vance,
            entry_id=award_entry(ticket, entry_type).id,
            reason="Again",
            says="already been reversed",
        )


def test_reversing_an_adjustment(org):
    vance, north = org["marshal"], org["asset"]
    entry = economy.adjust(actor=vance, user_id=north.id, credits=-3, pay="20.00", reason="Bonus")
    economy.reverse_entry(actor=vance, entry_id=entry.id, reason="Meant for Lark")
    assert wallet(north) == (0, D("0.00"))
    assert_ledger_invariant()


def test_a_reversal_needs_the_approver_or_someone_above_them(org):
    ticket = paid(org)
    entry = award_entry(ticket)
    # Shadow Holt manages no pay; executor Kade of the other branch... is above Vance: allowed.
    refused(NotFound, economy.reverse_entry, actor=org["shadow"], entry_id=entry.id, reason="x")
    refused(NotFound, economy.reverse_entry, actor=org["executor_2"], entry_id=entry.id, reason="x")
    refused(NotFound, economy.reverse_entry, actor=org["marshal_2"], entry_id=entry.id, reason="x")
    refused(Forbidden, economy.reverse_entry, actor=org["asset"], entry_id=entry.id, reason="x")  # own account
    refused(Invalid, economy.reverse_entry, actor=org["marshal"], entry_id=entry.id, reason="  ")
    # Kade approved nothing here but stands above Vance, who did.
    economy.reverse_entry(actor=org["executor"], entry_id=entry.id, reason="Audit found no work")
    assert wallet(org["asset"]) == (0, D("0.00"))


def test_a_marshal_does_not_reverse_his_superiors_decision(org):
    north = org["asset"]
    entry = economy.adjust(actor=org["executor"], user_id=north.id, credits=10, pay="0", reason="Commendation")
    refused(Forbidden, economy.reverse_entry, actor=org["marshal"], entry_id=entry.id, reason="No", says="approver")


def test_salary_decay_and_reversals_are_not_reversible(org):
    vance, north = org["marshal"], org["asset"]
    entry = economy.adjust(actor=vance, user_id=north.id, credits=2, pay="0", reason="Bonus")
    (reversal,) = economy.reverse_entry(actor=vance, entry_id=entry.id, reason="Undo")
    refused(Invalid, economy.reverse_entry, actor=vance, entry_id=reversal.id, reason="Undo the undo")


def test_a_reversal_never_takes_the_balance_below_zero(org):
    vance, north = org["marshal"], org["asset"]
    ticket = paid(org)
    economy.adjust(actor=vance, user_id=north.id, credits=0, pay="-10.00", reason="Spent on kit")
    refused(
        Invalid, economy.reverse_entry, actor=vance, entry_id=award_entry(ticket).id, reason="Undo", says="below zero"
    )


def test_niki_reverses_anything_and_is_shown_as_the_directorate(org):
    from accounts.presentation import shown_name

    ticket = paid(org)
    (first, *_) = economy.reverse_entry(actor=org["niki"], entry_id=award_entry(ticket).id, reason="Override")
    assert shown_name(first.approved_by) == "The Directorate"
    message = Notification.objects.filter(user_id=org["asset"].id, message__contains="reversed").get().message
    assert "Niki" not in message and "The Directorate" in message


@pytest.mark.replica_set  # racing writers: on MongoDB, a replica set's write conflicts decide them
@pytest.mark.django_db(transaction=True)
def test_reversals_racing_reverse_once(org):
    ticket = paid(org)
    entry_id = award_entry(ticket).id
    outcomes = race(*[lambda: economy.reverse_entry(actor=org["marshal"], entry_id=entry_id, reason="Race")] * RACERS)
    assert len(winners(outcomes)) == 1 and refusals(outcomes) == [Conflict] * (RACERS - 1)
    assert Transaction.objects.filter(type=Type.REVERSAL).count() == 2
    assert wallet(org["asset"]) == (0, D("0.00"))
    assert_ledger_invariant()


# Amounts written with a comma -------------------------------------------------------------------------------


def test_a_comma_is_explained_not_guessed():
    with pytest.raises(Invalid) as caught:
        parse_money("12,50", field="reward_pay")
    assert caught.value.field_errors == {"reward_pay": ["Write decimals with a point: 12.50, not 12,50."]}


# What a reviewer is told ------------------------------------------------------------------------------------


def test_the_outcome_shown_is_the_outcome_applied(org):
    vance, kade = org["marshal"], org["executor"]
    ticket = submitted(org["asset"], org["asset"], credits=1, pay="15.01")
    assert services.approval_outcome(ticket, actor=vance, credits=1, pay=D("15.01")) == ("recommend", kade)
    assert services.approval_outcome(ticket, actor=vance, credits=1, pay=D("15.00"))[0] == "approve"
    services.approve_reward(actor=vance, ticket_id=ticket.id, credits=1, pay="15.01")
    ticket = reload(ticket)
    assert (ticket.status, ticket.reviewer_id) == (Status.AWAITING_REVIEW, kade.id)
    message = Notification.objects.get(user_id=org["asset"].id, message__contains="recommended").message
    assert "over the limit" in message and "Executor" in message
    assert services.approval_outcome(ticket, actor=kade, credits=1, pay=D("15.01")) == ("approve", None)


def test_the_abnormal_decider_of_a_submission(org):
    ticket = new_ticket(org["asset"], org["asset"])
    assert services.abnormal_decider(ticket, proposer=org["asset"]).id == org["executor"].id
    directive = new_ticket(org["executor"], org["marshal"])
    assert services.abnormal_decider(directive, proposer=org["marshal"]).id == org["nyx"].id


# Promotion and demotion requests ----------------------------------------------------------------------------


def request(org, author, assignee, subject, kind="Promotion Request"):
    return new_ticket(
        org[author], org[assignee], title=kind, category="Personnel", sub_category=kind, subject_id=org[subject].id
    )


def test_a_promotion_request_waits_in_the_deciders_queue_and_is_not_work(org):
    ticket = reload(request(org, "asset", "shadow", "asset"))
    assert (ticket.status, ticket.reviewer_id) == (Status.AWAITING_REVIEW, org["marshal"].id)
    assert ticket.id in [t.id for t in review_queue(org["marshal"])]
    assert Notification.objects.filter(user_id=org["marshal"].id, message__contains="awaits your decision").exists()
    refused(Invalid, services.start_work, actor=org["shadow"], ticket_id=ticket.id)
    refused(Invalid, services.approve_reward, actor=org["marshal"], ticket_id=ticket.id, credits=0, pay="0")


def test_a_denied_request_changes_no_rank(org):
    ticket = request(org, "asset", "shadow", "asset")
    refused(Invalid, services.deny_rank_change, actor=org["marshal"], ticket_id=ticket.id, reason=" ")
    refused(Forbidden, services.deny_rank_change, actor=org["shadow"], ticket_id=ticket.id, reason="No")
    services.deny_rank_change(actor=org["marshal"], ticket_id=ticket.id, reason="Not yet: six more months.")
    ticket = reload(ticket)
    assert ticket.status == Status.CLOSED
    assert reload(org["asset"]).rank == Rank.ASSET and not RankChange.objects.exists()
    step = ApprovalStep.objects.get(ticket_id=ticket.id)
    assert (step.decision, step.note) == (Decision.DENIED, "Not yet: six more months.")
    assert Notification.objects.filter(user_id=org["asset"].id, message__contains="denied").exists()
    refused(Conflict, services.approve_promotion, actor=org["marshal"], ticket_id=ticket.id)


def test_an_executor_demotes_a_shadow_whose_assets_move_up_to_the_marshal(org):
    holt, vance, kade = org["shadow"], org["marshal"], org["executor"]
    ticket = reload(request(org, "marshal", "executor", "shadow", "Demotion Request"))
    assert ticket.reviewer_id == vance.id  # a marshal decides for shadows
    services.approve_promotion(actor=vance, ticket_id=ticket.id, note="Lost the depot keys.")
    holt = reload(holt)
    assert (holt.rank, holt.reports_to_id) == (Rank.ASSET, vance.id)
    for name in ("asset", "asset_2"):
        member = reload(org[name])
        assert member.reports_to_id == vance.id and member.chain == f"{vance.chain}{member.id}/"
        assert not holt.is_above(member)
    changes = RankChange.objects.filter(ticket_id=ticket.id)
    assert sorted((c.user_id, c.from_rank, c.to_rank) for c in changes) == sorted(
        [
            (holt.id, Rank.SHADOW, Rank.ASSET),
            (org["asset"].id, Rank.ASSET, Rank.ASSET),
            (org["asset_2"].id, Rank.ASSET, Rank.ASSET),
        ]
    )
    assert all(c.approved_by_id == vance.id for c in changes)
    assert reload(ticket).status == Status.CLOSED
    assert User.objects.get(id=kade.id).rank == Rank.EXECUTOR


def test_demotion_authority_is_the_promotion_authority(org):
    # A marshal may not demote a marshal; an executor's marshal goes to the executor.
    ticket = reload(request(org, "executor", "nyx", "marshal", "Demotion Request"))
    assert ticket.reviewer_id == org["executor"].id
    refused(NotFound, services.approve_promotion, actor=org["marshal_2"], ticket_id=ticket.id)
    refused(NotFound, services.approve_promotion, actor=org["executor_2"], ticket_id=ticket.id)
    services.approve_promotion(actor=org["executor"], ticket_id=ticket.id)
    assert reload(org["marshal"]).rank == Rank.SHADOW
    # Everyone who reported to him and was a shadow now reports to the executor.
    assert reload(org["shadow"]).reports_to_id == org["executor"].id


def test_an_asset_is_not_demoted(org):
    with pytest.raises(Invalid):
        request(org, "shadow", "marshal", "asset", "Demotion Request")
    assert not Ticket.objects.exists()


def test_an_executors_demotion_goes_to_the_directorate_not_to_the_model(org):
    ticket = reload(request(org, "executor", "nyx", "executor", "Demotion Request"))
    assert ticket.reviewer_id == org["niki"].id  # Nyx holds the authority, but no model output changes a rank
    services.approve_promotion(actor=org["niki"], ticket_id=ticket.id)
    kade = reload(org["executor"])
    assert kade.rank == Rank.MARSHAL
    for name in ("marshal", "marshal_2"):
        assert reload(org[name]).reports_to_id == org["nyx"].id


@pytest.mark.replica_set
@pytest.mark.django_db(transaction=True)
def test_a_demotion_decided_twice_at_once_demotes_once(org):
    ticket = request(org, "marshal", "executor", "shadow", "Demotion Request")
    outcomes = race(*[lambda: services.approve_promotion(actor=org["marshal"], ticket_id=ticket.id)] * RACERS)
    assert len(winners(outcomes)) == 1 and set(refusals(outcomes)) == {Conflict}
    assert reload(org["shadow"]).rank == Rank.ASSET
    assert RankChange.objects.filter(user_id=org["shadow"].id).count() == 1


class _Undo(Exception):
    """Raised inside a savepoint to undo a decision that was allowed."""


def _approves(actor, ticket_id):
    """Whether approve_promotion lets `actor` decide the request (undone at once when it does)."""
    try:
        with atomic():  # the project's unit: on MongoDB a transaction of its own, undone by the raise
            services.approve_promotion(actor=actor, ticket_id=ticket_id)
            raise _Undo
    except _Undo:
        return True
    except (Forbidden, Invalid):
        return False


@pytest.mark.parametrize(
    ("author", "assignee", "subject", "kind"),
    [
        ("asset", "shadow", "asset", "Promotion Request"),
        ("shadow", "marshal", "shadow", "Promotion Request"),
        ("marshal", "executor", "shadow", "Demotion Request"),
        ("executor", "nyx", "marshal", "Promotion Request"),
        ("executor", "nyx", "executor", "Demotion Request"),
    ],
)
def test_who_is_offered_a_personnel_decision_is_who_the_service_lets_decide(org, author, assignee, subject, kind):
    """policy.may_promote (the Approve and Deny buttons) agrees with approve_promotion for every member who
    sees the request."""
    ticket = request(org, author, assignee, subject, kind)
    checked = 0
    for name, person in org.items():
        try:
            shown = ticket_for(person, ticket.id)
        except NotFound:
            continue
        assert may_promote(person, shown) == _approves(person, ticket.id), name
        checked += 1
    assert checked >= 3
    assert reload(ticket).status != Status.CLOSED  # every allowed decision was undone

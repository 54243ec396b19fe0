"""docs/rules.md sections 3 and 4, rule by rule, through the services.

The worked examples use the demo's names for the `org` fixture's chain:
asset North -> shadow Holt -> marshal Vance -> executor Kade -> Nyx -> Niki. North's peer is `asset_2`;
marshal_2's branch (shadow_2, asset_3) and executor_2's (marshal_3) are the people out of North's sight.

Every test ends with the ledger invariant (autouse fixture below). Every refusal is checked with `refused`,
which also proves the refused call wrote nothing at all.
"""

from decimal import Decimal
from functools import partial

import pytest

from accounts.models import Notification, RankChange, User
from accounts.ranks import Rank
from accounts.selectors import people_visible_to
from accounts.services import broadcast
from directorate.errors import Conflict, Forbidden, Invalid, NotFound
from economy import services as economy
from economy.models import Transaction
from economy.rates import abnormal_pay_limit, default_proposal, is_abnormal
from economy.selectors import ledger_of, ledger_owner_for
from tests import factories
from tests.factories import ORG, reload, wallet
from tests.invariants import assert_ledger_invariant, database_state
from tickets import services
from tickets.categories import CATEGORIES
from tickets.models import ApprovalStep, Comment, Ticket, TicketWatcher
from tickets.selectors import review_queue, ticket_for, visible_tickets

new_ticket = partial(factories.new_ticket, **factories.ROUTINE)
started = partial(factories.started, **factories.ROUTINE)
submitted = partial(factories.submitted, credits=None, pay=None, **factories.ROUTINE)

Status = Ticket.Status
Decision = ApprovalStep.Decision


# Helpers ---------------------------------------------------------------------------------------------------


def refused(error_type, service, /, says=None, **kwargs):
    """Call `service`, expect exactly `error_type`, and prove nothing was written."""
    before = database_state()
    with pytest.raises(error_type) as caught:
        service(**kwargs)
    assert type(caught.value) is error_type, f"expected {error_type.__name__}, got {type(caught.value).__name__}"
    if says is not None:
        assert says in caught.value.message
    assert database_state() == before, "a refused request changed the database"
    return caught.value


def refused_ticket(error_type, author, assignee_id, /, says=None, **fields):
    """`refused` for a ticket from `author` to `assignee_id`: a routine directive unless `fields` say else."""
    return refused(
        error_type,
        services.create_ticket,
        says,
        actor=author,
        assignee_id=assignee_id,
        **{**factories.ROUTINE, **fields},
    )


def payouts(ticket):
    entries = Transaction.objects.filter(related_ticket_id=ticket.id)
    return sorted(entries.values_list("type", "user_id", "amount_cr", "amount_pay"))


def log_of(ticket):
    return list(
        ApprovalStep.objects.filter(ticket_id=ticket.id)
        .order_by("ts", "id")
        .values_list("approver_id", "decision", "credits", "pay")
    )


def notified(person, containing):
    return Notification.objects.filter(user_id=person.id, message__contains=containing).exists()


def D(text):
    return Decimal(text)


# 3. Creating ------------------------------------------------------------------------------------------------


def test_upward_ticket_to_the_direct_superior_is_created_open_for_the_superior(org):
    ticket = new_ticket(
        org["asset"], org["shadow"], title="Night-vision kit", category="Request", sub_category="Resource"
    )
    ticket = reload(ticket)
    assert ticket.status == Status.OPEN
    assert ticket.author_id == org["asset"].id and ticket.assignee_id == org["shadow"].id
    assert ticket.target_rank == Rank.SHADOW
    assert ticket.reviewer_id is None
    assert notified(org["shadow"], "Night-vision kit")


@pytest.mark.parametrize(
    "author, assignee",
    [
        ("asset", "asset"),  # an asset's only directive is to itself
        ("shadow", "shadow"),
        ("shadow", "asset"),
        ("marshal", "shadow"),
        ("marshal", "asset"),
        ("executor", "asset_3"),  # a subordinate several levels down, in another marshal's branch
        ("executor", "marshal_2"),
        ("nyx", "executor_2"),
        ("nyx", "asset"),
        ("niki", "asset_3"),
        ("niki", "nyx"),
    ],
)
def test_directives_go_to_self_or_subordinates(org, author, assignee):
    ticket = reload(new_ticket(org[author], org[assignee]))
    assert ticket.assignee_id == org[assignee].id
    assert ticket.target_rank == org[assignee].rank


@pytest.mark.parametrize(
    "author, assignee", [("shadow", "marshal"), ("marshal", "executor"), ("executor", "nyx"), ("asset_3", "shadow_2")]
)
def test_every_human_rank_may_address_its_direct_superior(org, author, assignee):
    assert reload(new_ticket(org[author], org[assignee])).assignee_id == org[assignee].id


@pytest.mark.parametrize(
    "author, assignee",
    [
        ("asset", "marshal"),  # two levels up: not the direct superior
        ("asset", "executor"),
        ("asset", "asset_2"),  # a peer
        ("shadow", "executor"),
        ("marshal", "marshal_2"),  # a peer
        ("executor", "executor_2"),
        ("marshal", "nyx"),
    ],
)
def test_tickets_to_visible_people_outside_the_rules_are_not_permitted(org, author, assignee):
    refused_ticket(Forbidden, org[author], org[assignee].id)


@pytest.mark.parametrize(
    "author, assignee",
    [("asset", "asset_3"), ("asset", "marshal_3"), ("marshal", "executor_2"), ("nyx", "niki"), ("executor", "niki")],
)
def test_tickets_to_people_out_of_sight_are_not_found_like_nobody(org, author, assignee):
    hidden = refused_ticket(NotFound, org[author], org[assignee].id)
    missing = refused_ticket(NotFound, org[author], "0" * 24)
    assert hidden.message == missing.message


@pytest.mark.parametrize("category, sub_category", [(c, s) for c, subs in CATEGORIES.items() for s in subs])
def test_every_category_and_its_own_sub_categories_are_accepted(org, category, sub_category):
    author, addressee = (
        (org["shadow"], org["marshal"]) if sub_category == "Demotion Request" else (org["asset"], org["shadow"])
    )
    subject = {"subject_id": author.id} if sub_category in ("Promotion Request", "Demotion Request") else {}
    ticket = new_ticket(author, addressee, category=category, sub_category=sub_category, **subject)
    assert (reload(ticket).category, reload(ticket).sub_category) == (category, sub_category)


def test_the_nine_categories_of_the_spec(org):
    assert list(CATEGORIES) == [
        "Order",
        "Incident",
        "Personnel",
        "Intel",
        "Logistics",
        "Request",
        "Audit",
        "Economy",
        "Miscellaneous",
    ]
    assert CATEGORIES["Economy"] == ("Credit Dispute", "Payment Inquiry")
    assert len(CATEGORIES["Intel"]) == 4


def test_economy_credit_dispute_is_accepted_and_economy_leave_refused(org):
    assert new_ticket(org["asset"], org["shadow"], category="Economy", sub_category="Credit Dispute").id
    error = refused_ticket(Invalid, org["asset"], org["shadow"].id, title="x", category="Economy", sub_category="Leave")
    assert "sub_category" in error.field_errors


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": None}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "x" * 1_000_000}, "title"),
        ({"body_md": "x" * 20_001}, "body_md"),
        ({"body_md": "x" * 5_000_000}, "body_md"),
        ({"category": "Nonsense"}, "category"),
        ({"category": ""}, "category"),
        ({"category": None}, "category"),
        ({"category": "order"}, "category"),  # case matters: categories are exact
        ({"sub_category": "Leave"}, "sub_category"),
        ({"sub_category": ""}, "sub_category"),
        ({"sub_category": "x" * 100_000}, "sub_category"),
        ({"visibility": "public"}, "visibility"),
        ({"visibility": ""}, "visibility"),
        ({"category": "Personnel", "sub_category": "Promotion Request"}, "subject_id"),  # no subject named
    ],
)
def test_malformed_tickets_are_invalid_and_write_nothing(org, changes, field):
    fields = dict(title="Sweep", category="Order", sub_category="Routine Directive", assignee_id=org["shadow"].id)
    fields.update(changes)
    error = refused(Invalid, services.create_ticket, actor=org["asset"], **fields)
    assert field in error.field_errors


def test_title_and_body_at_their_limits_are_accepted(org):
    ticket = reload(new_ticket(org["asset"], org["shadow"], title="t" * 200, body_md="b" * 20_000))
    assert len(ticket.title) == 200 and len(ticket.body_md) == 20_000


def test_title_is_stored_trimmed(org):
    assert reload(new_ticket(org["asset"], org["shadow"], title="  Report  ")).title == "Report"


def test_promotion_request_names_the_author_or_a_subordinate(org):
    own = new_ticket(
        org["asset"], org["shadow"], category="Personnel", sub_category="Promotion Request", subject_id=org["asset"].id
    )
    assert reload(own).subject_id == org["asset"].id
    for_report = new_ticket(
        org["marshal"],
        org["executor"],
        category="Personnel",
        sub_category="Promotion Request",
        subject_id=org["asset"].id,
    )
    assert reload(for_report).subject_id == org["asset"].id


@pytest.mark.parametrize(
    "author, assignee, subject, error",
    [
        ("asset", "shadow", "asset_2", Forbidden),  # a peer: visible, not a subordinate
        ("asset", "shadow", "shadow", Forbidden),  # the superior
        ("marshal", "executor", "marshal_2", Forbidden),
        ("asset", "shadow", "asset_3", NotFound),  # out of sight
        ("marshal", "executor", "niki", NotFound),
    ],
)
def test_promotion_request_for_anyone_else_is_refused(org, author, assignee, subject, error):
    refused_ticket(
        error,
        org[author],
        org[assignee].id,
        title="Promote",
        category="Personnel",
        sub_category="Promotion Request",
        subject_id=org[subject].id,
    )


def test_watchers_must_be_people_the_author_sees(org):
    ticket = new_ticket(
        org["asset"], org["shadow"], watcher_ids=[org["asset_2"].id, org["marshal"].id, org["asset_2"].id]
    )
    assert set(TicketWatcher.objects.filter(ticket_id=ticket.id).values_list("user_id", flat=True)) == {
        org["asset_2"].id,
        org["marshal"].id,
    }
    refused_ticket(NotFound, org["asset"], org["shadow"].id, watcher_ids=[org["asset_3"].id])
    refused_ticket(NotFound, org["asset"], org["shadow"].id, watcher_ids=[org["niki"].id])


# 3. Who sees a ticket --------------------------------------------------------------------------------------


def sees(person, ticket):
    try:
        ticket_for(person, ticket.id)
    except NotFound:
        return False
    assert visible_tickets(person).filter(id=ticket.id).exists()
    return True


ALL = list(ORG)


def test_hierarchical_ticket_is_seen_by_the_parties_watchers_and_the_subtree_above(org):
    ticket = new_ticket(org["shadow"], org["asset"], watcher_ids=[org["asset_2"].id])
    expected = {"niki", "nyx", "executor", "marshal", "shadow", "asset", "asset_2"}
    assert {name for name in ALL if sees(org[name], ticket)} == expected


def test_upward_ticket_is_seen_above_the_author_not_by_peers(org):
    ticket = new_ticket(org["asset_3"], org["shadow_2"])
    assert {name for name in ALL if sees(org[name], ticket)} == {
        "niki",
        "nyx",
        "executor",
        "marshal_2",
        "shadow_2",
        "asset_3",
    }


def test_private_ticket_is_hidden_from_superiors(org):
    ticket = new_ticket(org["shadow"], org["asset"], visibility="private")
    assert {name for name in ALL if sees(org[name], ticket)} == {"niki", "shadow", "asset"}


def test_a_private_ticket_is_created_without_watchers(org):
    refused_ticket(
        Invalid,
        org["shadow"],
        org["asset"].id,
        says="A private ticket has no watchers.",
        title="Quiet work",
        visibility="private",
        watcher_ids=[org["asset_2"].id],
    )


# A reward proposed where the work is described (docs/rules.md section 18) ---------------------------------


@pytest.mark.parametrize(("author", "assignee"), [("asset", "asset"), ("shadow", "asset")])
def test_a_directive_stores_the_reward_proposed_when_it_is_filed(org, author, assignee):
    ticket = reload(new_ticket(org[author], org[assignee], reward_credits="20", reward_pay="12.50"))
    assert (ticket.status, ticket.reward_credits, ticket.reward_pay) == (Status.OPEN, 20, Decimal("12.50"))
    assert ticket.reviewer_id is None and ticket.proposed_by_id is None  # proposed to review only at submission


def test_a_proposal_may_give_one_figure_and_the_other_keeps_its_default(org):
    ticket = reload(new_ticket(org["asset"], org["asset"], reward_pay="7.00"))
    assert (ticket.reward_credits, ticket.reward_pay) == (0, Decimal("7.00"))
    services.start_work(actor=org["asset"], ticket_id=ticket.id)
    services.submit_for_review(actor=org["asset"], ticket_id=ticket.id, reward_pay="7.00")
    assert reload(ticket).reward_credits == default_proposal(Rank.ASSET, hours=0)[0]


def test_a_request_to_the_superior_takes_no_reward_proposal(org):
    error = refused_ticket(
        Invalid,
        org["asset"],
        org["shadow"].id,
        says="earns you nothing",
        title="Night-vision kit",
        category="Request",
        sub_category="Resource",
        reward_credits="5",
    )
    assert list(error.field_errors) == ["reward_credits"]
    assert "leave this empty" in error.field_errors["reward_credits"][0]


@pytest.mark.parametrize(
    ("credits", "pay", "field", "says"),
    [
        ("-1", None, "reward_credits", "Must be between 0 and 10000."),
        ("2.5", None, "reward_credits", "Must be a whole number."),
        (None, "-3.00", "reward_pay", "Must be between 0 and 100000.00."),
        (None, "lots", "reward_pay", "Must be an amount such as 12.50."),
        (None, "12,50", "reward_pay", "Write decimals with a point: 12.50, not 12,50."),
        (None, "1.005", "reward_pay", "An amount has at most two decimals."),
    ],
)
def test_a_bad_proposal_is_refused_at_its_field_and_nothing_is_written(org, credits, pay, field, says):
    error = refused_ticket(Invalid, org["asset"], org["asset"].id, reward_credits=credits, reward_pay=pay)
    assert error.field_errors[field] == [says]


def test_a_personnel_request_takes_no_reward_proposal(org):
    error = refused_ticket(
        Invalid,
        org["shadow"],
        org["marshal"].id,
        title="Promote North",
        category="Personnel",
        sub_category="Promotion Request",
        subject_id=org["asset"].id,
        reward_pay="5.00",
    )
    assert error.field_errors == {"reward_pay": ["A personnel request carries no reward: leave this empty."]}


def test_a_directive_to_a_rank_without_rewards_takes_no_proposal(org):
    error = refused_ticket(Invalid, org["niki"], org["nyx"].id, reward_credits="5")
    assert list(error.field_errors) == ["reward_credits"]


def test_a_proposal_is_checked_with_the_other_fields_and_named_at_each(org):
    error = refused_ticket(Invalid, org["asset"], org["asset"].id, title="", reward_credits="x", reward_pay="12,50")
    assert set(error.field_errors) == {"title", "reward_credits", "reward_pay"}


def test_the_current_reviewer_sees_a_private_ticket_while_reviewing_it(org):
    ticket = submitted(org["shadow"], org["asset"], credits=1, pay="15.01", visibility="private")
    assert reload(ticket).reviewer_id == org["marshal"].id
    assert sees(org["marshal"], ticket) and not sees(org["executor"], ticket)
    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=1, pay="15.01")  # recommends
    assert reload(ticket).reviewer_id == org["executor"].id
    assert sees(org["executor"], ticket) and not sees(org["marshal"], ticket)
    assert org["executor"].id in {t.reviewer_id for t in review_queue(org["executor"])}


def test_hidden_and_nonexistent_tickets_get_the_same_not_found(org):
    ticket = new_ticket(org["shadow"], org["asset"])
    private = new_ticket(org["shadow"], org["asset"], visibility="private")
    answers = []
    for ticket_id in (ticket.id, private.id, "f" * 24, "not-an-id", "", "x" * 10_000):
        with pytest.raises(NotFound) as caught:
            ticket_for(org["asset_3"] if ticket_id == ticket.id else org["marshal"], ticket_id)
        answers.append((type(caught.value), caught.value.status, caught.value.message))
    assert len(set(answers)) == 1
    assert answers[0][1] == 404


@pytest.mark.parametrize(
    "service, extra",
    [
        (services.start_work, {}),
        (services.submit_for_review, {"hours_worked": "1"}),
        (services.approve_reward, {"credits": 1, "pay": "3.00"}),
        (services.escalate, {}),
        (services.send_back, {"comment": "redo"}),
        (services.add_comment, {"body_md": "hello"}),
        (services.close_without_reward, {}),
        (services.approve_promotion, {}),
    ],
)
def test_every_ticket_service_answers_not_found_for_a_ticket_out_of_sight(org, service, extra):
    ticket = submitted(org["shadow"], org["asset"], credits=1, pay="3.00")
    hidden = refused(NotFound, service, actor=org["marshal_2"], ticket_id=ticket.id, **extra)
    missing = refused(NotFound, service, actor=org["marshal_2"], ticket_id="a" * 24, **extra)
    assert hidden.message == missing.message


def test_watching_a_ticket_out_of_sight_is_not_found(org):
    ticket = new_ticket(org["shadow"], org["asset"])
    refused(NotFound, services.add_watcher, actor=org["asset_3"], ticket_id=ticket.id, user_id=org["asset_3"].id)
    refused(NotFound, services.remove_watcher, actor=org["asset_3"], ticket_id=ticket.id, user_id=org["asset_3"].id)


# 3. The cycle: state machine -------------------------------------------------------------------------------


def test_start_work_is_for_the_assignee_from_open_only(org):
    ticket = new_ticket(org["shadow"], org["asset"])
    refused(Forbidden, services.start_work, actor=org["shadow"], ticket_id=ticket.id)  # the author
    refused(Forbidden, services.start_work, actor=org["marshal"], ticket_id=ticket.id)
    services.start_work(actor=org["asset"], ticket_id=ticket.id)
    assert reload(ticket).status == Status.IN_PROGRESS
    refused(Conflict, services.start_work, actor=org["asset"], ticket_id=ticket.id, says="changed meanwhile")


def test_submit_is_for_the_assignee_from_in_progress_only(org):
    ticket = new_ticket(org["shadow"], org["asset"])
    refused(
        Conflict,
        services.submit_for_review,
        actor=org["asset"],
        ticket_id=ticket.id,
        reward_credits=1,
        reward_pay="3.00",
    )  # still open
    services.start_work(actor=org["asset"], ticket_id=ticket.id)
    refused(
        Forbidden,
        services.submit_for_review,
        actor=org["shadow"],
        ticket_id=ticket.id,
        reward_credits=1,
        reward_pay="3.00",
    )
    services.submit_for_review(actor=org["asset"], ticket_id=ticket.id, reward_credits=1, reward_pay="3.00")
    ticket = reload(ticket)
    assert ticket.status == Status.AWAITING_REVIEW
    assert (ticket.reward_credits, ticket.reward_pay, ticket.proposed_by_id) == (1, D("3.00"), org["asset"].id)
    assert notified(org["marshal"], "Awaiting your review")
    refused(
        Conflict,
        services.submit_for_review,
        actor=org["asset"],
        ticket_id=ticket.id,
        reward_credits=5,
        reward_pay="3.00",
    )


# A reviewer's decisions, each with the fields it takes.
DECISIONS = [
    (services.approve_reward, {"credits": 1, "pay": "3.00"}),
    (services.escalate, {}),
    (services.send_back, {"comment": "redo"}),
]


@pytest.mark.parametrize("service, extra", DECISIONS)
def test_decisions_before_review_are_conflicts(org, service, extra):
    open_ticket = new_ticket(org["marshal"], org["asset"])
    refused(Conflict, service, actor=org["marshal"], ticket_id=open_ticket.id, **extra)
    services.start_work(actor=org["asset"], ticket_id=open_ticket.id)
    refused(Conflict, service, actor=org["marshal"], ticket_id=open_ticket.id, **extra)


@pytest.mark.parametrize("service, extra", DECISIONS)
def test_only_the_current_reviewer_decides(org, service, extra):
    ticket = submitted(org["shadow"], org["asset"], credits=1, pay="3.00")
    for name in ("asset", "shadow", "executor", "nyx"):  # assignee, author, and superiors who see the ticket
        refused(Forbidden, service, actor=org[name], ticket_id=ticket.id, **extra)


# 3. The reviewer ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "assignee, reviewer",
    [
        ("asset", "marshal"),
        ("shadow", "marshal"),
        ("asset_3", "marshal_2"),
        ("marshal", "executor"),
        ("marshal_3", "executor_2"),
        ("executor", "nyx"),
    ],
)
def test_reviewer_is_the_nearest_superior_allowed_to_approve_the_assignee(org, assignee, reviewer):
    ticket = submitted(org[assignee], org[assignee], credits=1, pay="1.00")  # a directive to oneself
    assert reload(ticket).reviewer_id == org[reviewer].id


def test_reviewer_of_an_asset_reporting_straight_to_an_executor_is_the_executor(org, make_member):
    asset = make_member(Rank.ASSET, org["executor"])
    shadow = make_member(Rank.SHADOW, org["executor"])
    assert reload(submitted(asset, asset, credits=1, pay="1.00")).reviewer_id == org["executor"].id
    assert reload(submitted(shadow, shadow, credits=1, pay="1.00")).reviewer_id == org["executor"].id


@pytest.mark.parametrize("name", ["nyx", "niki"])
def test_nyx_and_niki_do_not_submit_rewards(org, name):
    ticket = started(org[name], org[name])
    refused(
        Forbidden, services.submit_for_review, actor=org[name], ticket_id=ticket.id, reward_credits=1, reward_pay="1.00"
    )


# 3. Default proposal ---------------------------------------------------------------------------------------


def test_default_proposal_for_a_shadow_who_worked_two_and_a_half_hours(org):
    ticket = submitted(org["marshal"], org["shadow"], hours="2.5")
    assert (ticket.reward_credits, ticket.reward_pay, ticket.hours_worked) == (2, D("11.25"), D("2.50"))


@pytest.mark.parametrize(
    "assignee, hours, expected",
    [
        ("asset", "5", (1, D("15.00"))),
        ("shadow", "2.5", (2, D("11.25"))),
        ("marshal", "1.5", (3, D("9.00"))),
        ("executor", "0.25", (4, D("2.00"))),
        ("asset", "744", (1, D("2232.00"))),
    ],
)
def test_default_proposal_is_base_credit_and_base_pay_times_hours(org, assignee, hours, expected):
    ticket = submitted(org[assignee], org[assignee], hours=hours)
    assert (ticket.reward_credits, ticket.reward_pay) == expected
    assert default_proposal(org[assignee].rank, hours=D(hours)) == expected


def test_hours_fill_in_only_what_was_not_proposed(org):
    credits_given = submitted(org["marshal"], org["shadow"], credits=7, hours="2")
    assert (credits_given.reward_credits, credits_given.reward_pay) == (7, D("9.00"))
    pay_given = submitted(org["marshal"], org["shadow"], pay="1.50", hours="2")
    assert (pay_given.reward_credits, pay_given.reward_pay) == (2, D("1.50"))


def test_submitting_without_pay_or_hours_is_invalid(org):
    ticket = started(org["shadow"], org["asset"])
    error = refused(Invalid, services.submit_for_review, actor=org["asset"], ticket_id=ticket.id, reward_credits=1)
    assert "hours_worked" in error.field_errors


# 3. Abnormal awards: the worked examples -------------------------------------------------------------------


def test_example_1_exactly_the_limit_is_normal_and_the_marshal_closes_it(org):
    north, vance = org["asset"], org["marshal"]
    ticket = submitted(org["shadow"], north, credits=1, pay="15.00", hours="5")
    assert reload(ticket).reviewer_id == vance.id
    services.approve_reward(actor=vance, ticket_id=ticket.id, credits=1, pay="15.00")
    ticket = reload(ticket)
    assert ticket.status == Status.CLOSED and ticket.closed_at is not None
    assert payouts(ticket) == [("credit_award", north.id, 1, D("0.00")), ("payment", north.id, 0, D("15.00"))]
    assert set(Transaction.objects.filter(related_ticket_id=ticket.id).values_list("approved_by_id", flat=True)) == {
        vance.id
    }
    assert wallet(north) == (1, D("15.00"))
    assert log_of(ticket) == [(vance.id, Decision.APPROVED, 1, D("15.00"))]
    assert notified(north, "Reward approved")
    assert_ledger_invariant()


def test_example_2_one_cent_above_the_limit_climbs_to_the_executor(org):
    north, vance, kade = org["asset"], org["marshal"], org["executor"]
    ticket = submitted(org["shadow"], north, credits=1, pay="15.01")
    services.approve_reward(actor=vance, ticket_id=ticket.id, credits=1, pay="15.01")
    ticket = reload(ticket)
    assert (ticket.status, ticket.reviewer_id, ticket.proposed_by_id) == (Status.AWAITING_REVIEW, kade.id, north.id)
    assert payouts(ticket) == [] and wallet(north) == (0, D("0.00"))
    assert log_of(ticket) == [(vance.id, Decision.RECOMMENDED, 1, D("15.01"))]
    assert notified(kade, "Escalated to you for approval")
    services.approve_reward(actor=kade, ticket_id=ticket.id, credits=1, pay="15.01")
    ticket = reload(ticket)
    assert ticket.status == Status.CLOSED
    assert payouts(ticket) == [("credit_award", north.id, 1, D("0.00")), ("payment", north.id, 0, D("15.01"))]
    assert wallet(north) == (1, D("15.01"))
    assert [step[1] for step in log_of(ticket)] == [Decision.RECOMMENDED, Decision.APPROVED]
    assert_ledger_invariant()


def test_example_3_the_marshal_cuts_an_abnormal_proposal_to_a_normal_one_and_closes_it(org):
    north, vance = org["asset"], org["marshal"]
    ticket = submitted(org["shadow"], north, credits=150, pay="6.00")
    services.approve_reward(actor=vance, ticket_id=ticket.id, credits=20, pay="6.00")
    ticket = reload(ticket)
    assert ticket.status == Status.CLOSED and ticket.reward_credits == 20
    assert wallet(north) == (20, D("6.00"))
    assert log_of(ticket) == [(vance.id, Decision.APPROVED, 20, D("6.00"))]


def test_example_4_the_marshal_raises_the_proposal_so_the_executor_decides(org):
    north, vance, kade = org["asset"], org["marshal"], org["executor"]
    ticket = submitted(org["shadow"], north, credits=1, pay="3.00")
    services.approve_reward(actor=vance, ticket_id=ticket.id, credits=200, pay="3.00")
    ticket = reload(ticket)
    assert (ticket.status, ticket.reviewer_id, ticket.proposed_by_id) == (Status.AWAITING_REVIEW, kade.id, vance.id)
    assert (ticket.reward_credits, ticket.reward_pay) == (200, D("3.00"))
    assert payouts(ticket) == []
    services.approve_reward(actor=kade, ticket_id=ticket.id, credits=200, pay="3.00")
    assert reload(ticket).status == Status.CLOSED
    assert wallet(north) == (200, D("3.00"))


def test_example_5_the_executor_who_authored_the_directive_is_skipped(org):
    north, vance, kade, nyx = org["asset"], org["marshal"], org["executor"], org["nyx"]
    ticket = submitted(kade, north, credits=1, pay="40.00")
    assert reload(ticket).reviewer_id == vance.id
    services.approve_reward(actor=vance, ticket_id=ticket.id, credits=1, pay="40.00")
    assert reload(ticket).reviewer_id == nyx.id
    refused(Forbidden, services.approve_reward, actor=kade, ticket_id=ticket.id, credits=1, pay="40.00")
    services.approve_reward(actor=nyx, ticket_id=ticket.id, credits=1, pay="40.00")
    assert reload(ticket).status == Status.CLOSED
    assert wallet(north) == (1, D("40.00"))


def test_example_6_nyx_authored_the_directive_so_the_directorate_decides(org):
    kade, nyx, niki = org["executor"], org["nyx"], org["niki"]
    ticket = submitted(nyx, kade, credits=4, pay="50.00")
    assert reload(ticket).reviewer_id == nyx.id
    services.approve_reward(actor=nyx, ticket_id=ticket.id, credits=4, pay="50.00")
    ticket = reload(ticket)
    assert (ticket.status, ticket.reviewer_id) == (Status.AWAITING_REVIEW, niki.id)
    assert payouts(ticket) == []
    services.approve_reward(actor=niki, ticket_id=ticket.id, credits=4, pay="50.00")
    assert reload(ticket).status == Status.CLOSED
    assert wallet(kade) == (4, D("50.00"))


def test_nyx_cannot_close_abnormal_amounts_it_proposed_itself(org):
    north, vance, nyx, niki = org["asset"], org["marshal"], org["nyx"], org["niki"]
    ticket = submitted(org["executor"], north, credits=1, pay="40.00")  # Kade authored: Nyx reviews after Vance
    services.approve_reward(actor=vance, ticket_id=ticket.id, credits=1, pay="40.00")
    services.approve_reward(actor=nyx, ticket_id=ticket.id, credits=1, pay="45.00")
    ticket = reload(ticket)
    assert (ticket.status, ticket.reviewer_id, ticket.proposed_by_id) == (Status.AWAITING_REVIEW, niki.id, nyx.id)
    assert payouts(ticket) == []
    services.approve_reward(actor=niki, ticket_id=ticket.id, credits=1, pay="45.00")
    assert wallet(north) == (1, D("45.00"))


def test_nyx_closes_an_abnormal_award_it_did_not_author_or_propose(org):
    kade, nyx = org["executor"], org["nyx"]
    ticket = submitted(kade, kade, credits=4, pay="40.01")
    services.approve_reward(actor=nyx, ticket_id=ticket.id, credits=4, pay="40.01")
    assert reload(ticket).status == Status.CLOSED and wallet(kade) == (4, D("40.01"))


def test_an_executor_closes_an_abnormal_award_for_a_marshal_unless_he_authored_it(org):
    vance, kade, nyx = org["marshal"], org["executor"], org["nyx"]
    own = submitted(vance, vance, credits=3, pay="30.01")
    services.approve_reward(actor=kade, ticket_id=own.id, credits=3, pay="30.01")
    assert reload(own).status == Status.CLOSED
    authored = submitted(kade, vance, credits=3, pay="31.00")
    services.approve_reward(actor=kade, ticket_id=authored.id, credits=3, pay="31.00")
    assert (reload(authored).status, reload(authored).reviewer_id) == (Status.AWAITING_REVIEW, nyx.id)
    assert wallet(vance) == (3, D("30.01"))


# 3. The boundary ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "credits, pay, closes",
    [
        (1, "15.00", True),
        (1, "15.01", False),
        (100, "3.00", True),
        (101, "3.00", False),
        (100, "15.00", True),
        (0, "0.00", True),
    ],
)
def test_the_abnormal_boundary_for_an_asset(org, credits, pay, closes):
    ticket = submitted(org["shadow"], org["asset"], credits=credits, pay=pay)
    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=credits, pay=pay)
    ticket = reload(ticket)
    if closes:
        assert ticket.status == Status.CLOSED
        assert wallet(org["asset"]) == (credits, D(pay))
    else:
        assert (ticket.status, ticket.reviewer_id) == (Status.AWAITING_REVIEW, org["executor"].id)
        assert wallet(org["asset"]) == (0, D("0.00"))


def test_a_zero_award_writes_no_ledger_entry(org):
    ticket = submitted(org["shadow"], org["asset"], credits=0, pay="0")
    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=0, pay="0.00")
    assert reload(ticket).status == Status.CLOSED and payouts(ticket) == []
    only_credits = submitted(org["shadow"], org["asset"], credits=5, pay="0")
    services.approve_reward(actor=org["marshal"], ticket_id=only_credits.id, credits=5, pay="0")
    assert [entry[0] for entry in payouts(only_credits)] == ["credit_award"]


@pytest.mark.parametrize(
    "rank, limit", [(Rank.ASSET, "15.00"), (Rank.SHADOW, "22.50"), (Rank.MARSHAL, "30.00"), (Rank.EXECUTOR, "40.00")]
)
def test_pay_limits_per_rank(rank, limit):
    assert abnormal_pay_limit(rank) == D(limit)
    assert not is_abnormal(rank, credits=100, pay=D(limit))
    assert is_abnormal(rank, credits=100, pay=D(limit) + D("0.01"))
    assert is_abnormal(rank, credits=101, pay=D("0.00"))


# 3. Changing amounts, escalation authority, Niki -----------------------------------------------------------


def test_a_reviewer_who_changes_abnormal_amounts_becomes_their_proposer_and_is_skipped(org):
    north, vance, kade, nyx = org["asset"], org["marshal"], org["executor"], org["nyx"]
    ticket = submitted(org["shadow"], north, credits=1, pay="15.01")
    services.approve_reward(actor=vance, ticket_id=ticket.id, credits=1, pay="15.01")
    services.approve_reward(actor=kade, ticket_id=ticket.id, credits=1, pay="20.00")  # changed: Kade proposes
    ticket = reload(ticket)
    assert (ticket.status, ticket.reviewer_id, ticket.proposed_by_id) == (Status.AWAITING_REVIEW, nyx.id, kade.id)
    assert ticket.reward_pay == D("20.00") and payouts(ticket) == []
    assert log_of(ticket)[-1] == (kade.id, Decision.RECOMMENDED, 1, D("20.00"))
    services.approve_reward(actor=nyx, ticket_id=ticket.id, credits=1, pay="20.00")
    assert reload(ticket).status == Status.CLOSED and wallet(north) == (1, D("20.00"))


def test_the_executor_may_cut_an_escalated_award_to_a_normal_one(org):
    ticket = submitted(org["shadow"], org["asset"], credits=1, pay="15.01")
    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=1, pay="15.01")
    services.approve_reward(actor=org["executor"], ticket_id=ticket.id, credits=1, pay="12.00")
    assert reload(ticket).status == Status.CLOSED and wallet(org["asset"]) == (1, D("12.00"))


def test_niki_approves_anything_that_reaches_niki_even_amounts_niki_changed(org):
    kade, nyx, niki = org["executor"], org["nyx"], org["niki"]
    ticket = submitted(nyx, kade, credits=4, pay="50.00")
    services.approve_reward(actor=nyx, ticket_id=ticket.id, credits=4, pay="50.00")
    services.approve_reward(actor=niki, ticket_id=ticket.id, credits=10_000, pay="100000.00")
    assert reload(ticket).status == Status.CLOSED
    assert wallet(kade) == (10_000, D("100000.00"))


def test_nobody_approves_their_own_ticket(org):
    north = org["asset"]
    ticket = submitted(org["shadow"], north, credits=1, pay="3.00")
    refused(Forbidden, services.approve_reward, actor=north, ticket_id=ticket.id, credits=1, pay="3.00")
    vance = org["marshal"]
    own = submitted(vance, vance, credits=1, pay="3.00")
    assert reload(own).reviewer_id != vance.id
    refused(Forbidden, services.approve_reward, actor=vance, ticket_id=own.id, credits=1, pay="3.00")


# 3. Escalate by choice, send back ----------------------------------------------------------------------------


def test_escalating_a_normal_award_by_choice_moves_it_to_the_next_who_may_approve(org):
    north, vance, kade = org["asset"], org["marshal"], org["executor"]
    ticket = submitted(org["shadow"], north, credits=1, pay="3.00")
    services.escalate(actor=vance, ticket_id=ticket.id, note="Not my call.")
    ticket = reload(ticket)
    assert (ticket.status, ticket.reviewer_id) == (Status.AWAITING_REVIEW, kade.id)
    assert log_of(ticket) == [(vance.id, Decision.ESCALATED, 1, D("3.00"))]
    assert ApprovalStep.objects.get(ticket_id=ticket.id).note == "Not my call."
    assert notified(kade, "Escalated to you for review") and payouts(ticket) == []
    services.approve_reward(actor=kade, ticket_id=ticket.id, credits=1, pay="3.00")
    assert reload(ticket).status == Status.CLOSED
    assert set(Transaction.objects.filter(related_ticket_id=ticket.id).values_list("approved_by_id", flat=True)) == {
        kade.id
    }


def test_escalation_climbs_to_niki_and_stops_there(org):
    ticket = submitted(org["shadow"], org["asset"], credits=1, pay="3.00")
    for actor, next_reviewer in (("marshal", "executor"), ("executor", "nyx"), ("nyx", "niki")):
        services.escalate(actor=org[actor], ticket_id=ticket.id)
        assert reload(ticket).reviewer_id == org[next_reviewer].id
    refused(Conflict, services.escalate, actor=org["niki"], ticket_id=ticket.id)


def test_escalating_an_abnormal_award_by_choice_skips_the_author_and_the_proposer(org):
    north, vance, kade, nyx = org["asset"], org["marshal"], org["executor"], org["nyx"]
    ticket = submitted(kade, north, credits=1, pay="40.00")
    services.escalate(actor=vance, ticket_id=ticket.id)
    assert reload(ticket).reviewer_id == nyx.id
    raised = submitted(org["shadow"], north, credits=1, pay="3.00")
    services.approve_reward(actor=vance, ticket_id=raised.id, credits=101, pay="3.00")  # Vance now proposes
    services.escalate(actor=kade, ticket_id=raised.id)
    assert reload(raised).reviewer_id == nyx.id


def test_escalate_refuses_a_note_over_500_characters(org):
    ticket = submitted(org["shadow"], org["asset"], credits=1, pay="3.00")
    refused(Invalid, services.escalate, actor=org["marshal"], ticket_id=ticket.id, note="n" * 501)
    refused(
        Invalid,
        services.approve_reward,
        actor=org["marshal"],
        ticket_id=ticket.id,
        credits=1,
        pay="3.00",
        note="n" * 501,
    )


@pytest.mark.parametrize("comment", ["", "   ", None, "x" * 10_001])
def test_send_back_needs_a_comment(org, comment):
    ticket = submitted(org["shadow"], org["asset"], credits=1, pay="3.00")
    error = refused(Invalid, services.send_back, actor=org["marshal"], ticket_id=ticket.id, comment=comment)
    assert "comment" in error.field_errors


def test_send_back_returns_the_work_to_in_progress_with_the_comment(org):
    north, vance = org["asset"], org["marshal"]
    ticket = submitted(org["shadow"], north, credits=1, pay="3.00")
    services.send_back(actor=vance, ticket_id=ticket.id, comment="Add the arrival times.")
    ticket = reload(ticket)
    assert (ticket.status, ticket.reviewer_id) == (Status.IN_PROGRESS, None)
    assert log_of(ticket) == [(vance.id, Decision.SENT_BACK, 1, D("3.00"))]
    assert Comment.objects.get(ticket_id=ticket.id).body_md == "Add the arrival times."
    assert notified(north, "Sent back for rework") and payouts(ticket) == []
    refused(Conflict, services.approve_reward, actor=vance, ticket_id=ticket.id, credits=1, pay="3.00")
    services.submit_for_review(actor=north, ticket_id=ticket.id, reward_credits=1, reward_pay="4.00")
    assert (reload(ticket).status, reload(ticket).reviewer_id) == (Status.AWAITING_REVIEW, vance.id)
    services.approve_reward(actor=vance, ticket_id=ticket.id, credits=1, pay="4.00")
    assert wallet(north) == (1, D("4.00"))


# 3. Comments, watchers, closed tickets -----------------------------------------------------------------------


def test_anyone_who_sees_a_ticket_may_comment_and_the_others_are_told(org):
    ticket = new_ticket(org["shadow"], org["asset"], watcher_ids=[org["asset_2"].id])
    comment = services.add_comment(actor=org["executor"], ticket_id=ticket.id, body_md="  Keep it short.  ")
    assert reload(comment).body_md == "Keep it short."
    for name in ("shadow", "asset", "asset_2"):
        assert notified(org[name], "commented on")
    assert not notified(org["executor"], "commented on")
    refused(NotFound, services.add_comment, actor=org["asset_3"], ticket_id=ticket.id, body_md="hello")


@pytest.mark.parametrize("body", ["", "   ", None, "x" * 10_001])
def test_empty_or_huge_comments_are_invalid(org, body):
    ticket = new_ticket(org["shadow"], org["asset"])
    refused(Invalid, services.add_comment, actor=org["asset"], ticket_id=ticket.id, body_md=body)


def test_watchers(org):
    ticket = new_ticket(org["shadow"], org["asset"])
    services.add_watcher(actor=org["executor"], ticket_id=ticket.id, user_id=org["executor"].id)  # oneself
    refused(Conflict, services.add_watcher, actor=org["executor"], ticket_id=ticket.id, user_id=org["executor"].id)
    refused(Forbidden, services.add_watcher, actor=org["executor"], ticket_id=ticket.id, user_id=org["marshal"].id)
    services.add_watcher(actor=org["shadow"], ticket_id=ticket.id, user_id=org["asset_2"].id)  # the author adds
    refused(NotFound, services.add_watcher, actor=org["shadow"], ticket_id=ticket.id, user_id=org["asset_3"].id)
    refused(Forbidden, services.remove_watcher, actor=org["asset_2"], ticket_id=ticket.id, user_id=org["executor"].id)
    services.remove_watcher(actor=org["asset_2"], ticket_id=ticket.id, user_id=org["asset_2"].id)
    services.remove_watcher(actor=org["asset"], ticket_id=ticket.id, user_id=org["executor"].id)  # the assignee
    assert not TicketWatcher.objects.filter(ticket_id=ticket.id).exists()


def test_a_private_ticket_takes_no_watchers(org):
    ticket = new_ticket(org["shadow"], org["asset"], visibility="private")
    refused(Invalid, services.add_watcher, actor=org["shadow"], ticket_id=ticket.id, user_id=org["asset_2"].id)


def closed_ticket(org):
    ticket = submitted(org["shadow"], org["asset"], credits=1, pay="3.00", watcher_ids=[org["asset_2"].id])
    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=1, pay="3.00")
    assert reload(ticket).status == Status.CLOSED
    return ticket


@pytest.mark.parametrize(
    "actor, service, extra",
    [
        ("asset", services.add_comment, {"body_md": "one more thing"}),
        ("niki", services.add_comment, {"body_md": "one more thing"}),
        ("marshal", services.approve_reward, {"credits": 1, "pay": "3.00"}),
        ("marshal", services.approve_reward, {"credits": 2, "pay": "5.00"}),
        ("marshal", services.escalate, {}),
        ("marshal", services.send_back, {"comment": "redo"}),
        ("asset", services.start_work, {}),
        ("asset", services.submit_for_review, {"reward_credits": 1, "reward_pay": "3.00"}),
        ("executor", services.add_watcher, {"user_id": None}),
        ("asset_2", services.remove_watcher, {"user_id": None}),
    ],
)
def test_closed_tickets_are_read_only(org, actor, service, extra):
    ticket = closed_ticket(org)
    if "user_id" in extra:
        extra = {"user_id": org[actor].id}
    refused(Conflict, service, actor=org[actor], ticket_id=ticket.id, **extra)
    assert wallet(org["asset"]) == (1, D("3.00"))


# 3. Close without reward --------------------------------------------------------------------------------------


def test_nyx_closes_a_request_addressed_to_it_without_reward(org):
    kade, nyx = org["executor"], org["nyx"]
    ticket = new_ticket(kade, nyx, category="Request", sub_category="Clarification")
    services.close_without_reward(actor=nyx, ticket_id=ticket.id, note="Answered in the briefing.")
    ticket = reload(ticket)
    assert ticket.status == Status.CLOSED and ticket.closed_at is not None
    assert payouts(ticket) == [] and Transaction.objects.count() == 0
    assert log_of(ticket) == [(nyx.id, Decision.APPROVED, 0, D("0.00"))]
    assert notified(kade, "Closed")
    refused(Conflict, services.close_without_reward, actor=nyx, ticket_id=ticket.id)


@pytest.mark.parametrize("name", ["nyx", "niki"])
def test_nyx_and_niki_close_their_own_work_from_any_open_state(org, name):
    fresh = new_ticket(org[name], org[name])
    services.close_without_reward(actor=org[name], ticket_id=fresh.id)
    working = started(org[name], org[name])
    services.close_without_reward(actor=org[name], ticket_id=working.id)
    assert {reload(fresh).status, reload(working).status} == {Status.CLOSED}


def test_close_without_reward_is_only_for_nyx_or_niki_as_assignee(org):
    earner = started(org["shadow"], org["asset"])
    refused(Forbidden, services.close_without_reward, actor=org["asset"], ticket_id=earner.id)
    refused(Forbidden, services.close_without_reward, actor=org["nyx"], ticket_id=earner.id)  # not the assignee
    refused(Forbidden, services.close_without_reward, actor=org["niki"], ticket_id=earner.id)
    for_nyx = new_ticket(org["executor"], org["nyx"])
    refused(Forbidden, services.close_without_reward, actor=org["executor"], ticket_id=for_nyx.id)


# 3. Promotions ---------------------------------------------------------------------------------------------


def promotion(org, author, assignee, subject):
    return new_ticket(
        org[author],
        org[assignee],
        title="Promotion",
        category="Personnel",
        sub_category="Promotion Request",
        subject_id=org[subject].id,
    )


def test_a_marshal_promotes_north_to_shadow_and_north_moves_up_to_the_marshal(org):
    north, holt, vance = org["asset"], org["shadow"], org["marshal"]
    ticket = promotion(org, "asset", "shadow", "asset")
    promoted = services.approve_promotion(actor=vance, ticket_id=ticket.id, note="Earned.")
    north = reload(north)
    assert promoted.id == north.id
    assert (north.rank, north.reports_to_id) == (Rank.SHADOW, vance.id)
    assert north.chain == f"{vance.chain}{north.id}/"
    change = RankChange.objects.get(user_id=north.id)
    assert (
        change.from_rank,
        change.to_rank,
        change.from_superior_id,
        change.to_superior_id,
        change.approved_by_id,
        change.ticket_id,
    ) == (Rank.ASSET, Rank.SHADOW, holt.id, vance.id, vance.id, ticket.id)
    ticket = reload(ticket)
    assert ticket.status == Status.CLOSED
    assert log_of(ticket) == [(vance.id, Decision.APPROVED, 0, D("0.00"))]
    assert notified(north, "promoted to Shadow")
    refused(Conflict, services.approve_promotion, actor=vance, ticket_id=ticket.id)


def test_a_promotion_keeps_a_superior_who_still_outranks(org, make_member):
    asset = make_member(Rank.ASSET, org["marshal"])
    ticket = promotion({**org, "new": asset}, "new", "marshal", "new")
    services.approve_promotion(actor=org["marshal"], ticket_id=ticket.id)
    asset = reload(asset)
    assert (asset.rank, asset.reports_to_id) == (Rank.SHADOW, org["marshal"].id)
    assert RankChange.objects.get(user_id=asset.id).to_superior_id == org["marshal"].id


def test_a_promoted_shadow_moves_up_with_everyone_below_and_their_chains_follow(org):
    holt, vance, kade = org["shadow"], org["marshal"], org["executor"]
    ticket = promotion(org, "marshal", "executor", "shadow")
    services.approve_promotion(actor=kade, ticket_id=ticket.id)
    holt = reload(holt)
    assert (holt.rank, holt.reports_to_id, holt.chain) == (Rank.MARSHAL, kade.id, f"{kade.chain}{holt.id}/")
    for name in ("asset", "asset_2"):
        member = reload(org[name])
        assert member.reports_to_id == holt.id
        assert member.chain == f"{holt.chain}{member.id}/"
        assert holt.is_above(member) and kade.is_above(member) and not reload(vance).is_above(member)
    # The subtree queries follow the new chains: Vance no longer reviews or sees North's new work.
    ticket = submitted(reload(org["asset"]), reload(org["asset"]), credits=1, pay="1.00")
    assert reload(ticket).reviewer_id == holt.id
    assert not sees(reload(vance), ticket)


def test_nyx_promotes_a_marshal_to_executor_and_the_whole_branch_is_re_rooted(org):
    vance, nyx = org["marshal"], org["nyx"]
    ticket = promotion(org, "executor", "nyx", "marshal")
    services.approve_promotion(actor=nyx, ticket_id=ticket.id)
    vance = reload(vance)
    assert (vance.rank, vance.reports_to_id) == (Rank.EXECUTOR, nyx.id)
    for name in ("shadow", "asset", "asset_2"):
        member = reload(org[name])
        assert member.chain.startswith(vance.chain) and member.chain.endswith(f"/{member.id}/")
        assert org["executor"].id not in member.chain
    untouched = reload(org["asset_3"])
    assert untouched.chain.startswith(org["executor"].chain)


@pytest.mark.parametrize(
    "author, assignee, subject, approver",
    [
        ("marshal", "executor", "shadow", "marshal"),  # a marshal may not make a marshal
        ("executor", "nyx", "marshal", "executor"),  # an executor may not make an executor
    ],
)
def test_a_promotion_never_reaches_the_approvers_own_rank(org, author, assignee, subject, approver):
    ticket = promotion(org, author, assignee, subject)
    refused(Forbidden, services.approve_promotion, actor=org[approver], ticket_id=ticket.id)


@pytest.mark.parametrize("approver", ["asset", "shadow"])
def test_assets_and_shadows_do_not_approve_promotions(org, approver):
    ticket = promotion(org, "asset", "shadow", "asset")
    refused(Forbidden, services.approve_promotion, actor=org[approver], ticket_id=ticket.id)


def test_a_promotion_needs_the_matrix_over_the_subject(org):
    ticket = promotion(org, "executor", "nyx", "marshal")  # Vance, in Kade's branch
    refused(NotFound, services.approve_promotion, actor=org["executor_2"], ticket_id=ticket.id)
    refused(NotFound, services.approve_promotion, actor=org["marshal"], ticket_id=ticket.id)  # not his to see
    own = promotion(org, "marshal", "executor", "marshal")  # Vance asks for his own promotion
    refused(Forbidden, services.approve_promotion, actor=org["marshal"], ticket_id=own.id)


def test_niki_approves_a_promotion_for_anyone(org):
    ticket = promotion(org, "niki", "niki", "marshal")
    services.approve_promotion(actor=org["niki"], ticket_id=ticket.id)
    vance = reload(org["marshal"])
    assert (vance.rank, vance.reports_to_id) == (Rank.EXECUTOR, org["nyx"].id)


@pytest.mark.parametrize("subject", ["executor", "nyx"])
def test_no_promotion_creates_a_second_nyx_or_niki(org, subject):
    # Refused when asked for, so no request that nobody can grant waits in a queue.
    with pytest.raises(Invalid):
        promotion(org, "niki", "niki", subject)
    with pytest.raises(Invalid):
        promotion(org, "nyx", "nyx", "executor")  # Nyx may not make a Nyx either
    assert not Ticket.objects.filter(sub_category="Promotion Request").exists()
    assert User.objects.filter(rank=Rank.NYX).count() == 1 and User.objects.filter(rank=Rank.NIKI).count() == 1


def test_only_promotion_requests_promote(org):
    ticket = new_ticket(
        org["asset"], org["shadow"], category="Personnel", sub_category="Commendation", subject_id=org["asset"].id
    )
    refused(Invalid, services.approve_promotion, actor=org["marshal"], ticket_id=ticket.id)


# 3. Broadcasts ------------------------------------------------------------------------------------------------


def broadcast_recipients(message=""):
    commands = Notification.objects.filter(message__startswith="Command from", message__endswith=message)
    return set(commands.values_list("user_id", flat=True))


def test_an_executor_broadcast_reaches_exactly_the_subtree(org):
    count = broadcast(actor=org["executor"], message="  Stand by for inspection.  ")
    expected = {org[name].id for name in ("marshal", "marshal_2", "shadow", "shadow_2", "asset", "asset_2", "asset_3")}
    assert broadcast_recipients() == expected and count == len(expected)
    assert set(Notification.objects.values_list("message", flat=True)) == {
        f"Command from {org['executor']}: Stand by for inspection."
    }


def test_nyx_and_niki_broadcasts_reach_everyone_below_and_never_niki(org):
    broadcast(actor=org["nyx"], message="All units report.")
    everyone_but_the_top = {org[name].id for name in ALL} - {org["niki"].id, org["nyx"].id}
    assert broadcast_recipients("All units report.") == everyone_but_the_top
    broadcast(actor=org["niki"], message="Hold.")
    assert broadcast_recipients("Hold.") == everyone_but_the_top | {org["nyx"].id}
    assert Notification.objects.filter(message="Command from The Directorate: Hold.").count() == 11


@pytest.mark.parametrize("name", ["asset", "shadow", "marshal"])
def test_broadcasts_are_for_executors_and_above(org, name):
    refused(Forbidden, broadcast, actor=org[name], message="Listen.")


@pytest.mark.parametrize("message", ["", "   ", None, "m" * 501])
def test_a_broadcast_needs_a_message_of_at_most_500_characters(org, message):
    refused(Invalid, broadcast, actor=org["executor"], message=message)


def test_a_broadcast_of_500_characters_is_delivered(org):
    assert broadcast(actor=org["executor_2"], message="m" * 500) == 1


# 4. Money and the ledger ------------------------------------------------------------------------------------


def test_a_marshal_adjusts_a_subordinate_with_a_reason_and_the_ledger_records_it(org):
    entry = economy.adjust(actor=org["marshal"], user_id=org["asset"].id, credits=5, pay="10.50", reason="Bonus")
    assert wallet(org["asset"]) == (5, D("10.50"))
    entry = reload(entry)
    assert (entry.type, entry.user_id, entry.amount_cr, entry.amount_pay, entry.approved_by_id, entry.reason) == (
        Transaction.Type.MANUAL_ADJ,
        org["asset"].id,
        5,
        D("10.50"),
        org["marshal"].id,
        "Bonus",
    )
    assert entry.related_ticket_id is None
    assert notified(org["asset"], "adjusted your account")


def test_credits_may_go_below_zero_but_the_balance_may_not(org):
    asset = org["asset"]
    economy.adjust(actor=org["marshal"], user_id=asset.id, credits=-7, reason="Late report")
    assert wallet(asset) == (-7, D("0.00"))
    economy.adjust(actor=org["marshal"], user_id=asset.id, pay="5.00", reason="Refund")
    refused(Invalid, economy.adjust, actor=org["marshal"], user_id=asset.id, pay="-5.01", reason="Fine")
    economy.adjust(actor=org["marshal"], user_id=asset.id, credits=-1, pay="-5.00", reason="Fine")
    assert wallet(asset) == (-8, D("0.00"))
    refused(Invalid, economy.adjust, actor=org["marshal"], user_id=asset.id, pay="-0.01", reason="Fine")


@pytest.mark.parametrize(
    "actor, target, error",
    [
        ("shadow", "asset", Forbidden),  # below marshal
        ("asset", "asset", Forbidden),
        ("marshal", "marshal", Forbidden),  # oneself is not a subordinate
        ("marshal", "marshal_2", Forbidden),  # a peer
        ("marshal", "executor", Forbidden),  # a superior
        ("marshal", "asset_3", NotFound),  # out of sight
        ("executor", "executor_2", Forbidden),
        ("executor", "niki", NotFound),
    ],
)
def test_adjustments_are_for_marshals_and_up_over_subordinates_only(org, actor, target, error):
    refused(error, economy.adjust, actor=org[actor], user_id=org[target].id, credits=1, reason="Because")


@pytest.mark.parametrize(
    "actor, target", [("marshal", "shadow"), ("executor", "asset_3"), ("nyx", "marshal_3"), ("niki", "nyx")]
)
def test_adjustments_reach_the_whole_subtree(org, actor, target):
    economy.adjust(actor=org[actor], user_id=org[target].id, credits=2, pay="1.00", reason="Because")
    assert wallet(org[target]) == (2, D("1.00"))


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": None}, "reason"),
        ({"reason": "r" * 501}, "reason"),
        ({"credits": 0, "pay": 0}, None),
        ({"credits": "abc"}, "credits"),
        ({"credits": True}, "credits"),
        ({"credits": "1.5"}, "credits"),
        ({"credits": "-10001"}, "credits"),
        ({"credits": "NaN"}, "credits"),
        ({"pay": "1.005"}, "pay"),
        ({"pay": "NaN"}, "pay"),
        ({"pay": "-Infinity"}, "pay"),
        ({"pay": "1e30"}, "pay"),
        ({"pay": "-100000.01"}, "pay"),
        ({"pay": False}, "pay"),
    ],
)
def test_malformed_adjustments_are_invalid(org, changes, field):
    fields = {"credits": 1, "pay": "1.00", "reason": "Because"}
    fields.update(changes)
    error = refused(Invalid, economy.adjust, actor=org["marshal"], user_id=org["asset"].id, **fields)
    if field:
        assert field in error.field_errors


def test_the_ledger_is_append_only(org):
    entry = economy.adjust(actor=org["marshal"], user_id=org["asset"].id, credits=1, reason="Because")
    entry.amount_cr = 1000
    before = database_state()
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        Transaction.objects.filter(id=entry.id).update(amount_cr=1000)
    with pytest.raises(TypeError):
        Transaction.objects.all().delete()
    assert database_state() == before
    assert reload(entry).amount_cr == 1


def test_the_ledger_refuses_a_second_payout_for_the_same_ticket(org):
    from django.db import IntegrityError

    from directorate.db import atomic

    ticket = closed_ticket(org)
    before = database_state()
    for credits, pay in ((1, D("0")), (0, D("3.00"))):
        with pytest.raises(IntegrityError), atomic():
            economy.pay_ticket_reward(ticket=ticket, credits=credits, pay=pay, approved_by=org["marshal"])
    assert database_state() == before


def test_amounts_are_whole_credits_and_two_decimal_pay(org):
    ticket = submitted(org["shadow"], org["asset"], credits="3", pay="7.5")
    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits="3", pay="7.5")
    asset = User.objects.get(id=org["asset"].id)
    assert isinstance(asset.credits, int) and isinstance(asset.balance, Decimal)
    assert asset.balance == D("7.50") and asset.balance.as_tuple().exponent == -2
    payment = Transaction.objects.get(related_ticket_id=ticket.id, type="payment")
    assert payment.amount_pay.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "reader, owner, allowed",
    [
        ("asset", "asset", True),
        ("marshal", "asset", True),
        ("marshal", "shadow", True),
        ("executor", "asset_3", True),
        ("nyx", "marshal_3", True),
        ("niki", "nyx", True),
        ("shadow", "asset", False),  # a subordinate, but shadows may not adjust
        ("marshal", "marshal_2", False),  # a peer
        ("marshal", "executor", False),  # a superior
        ("asset", "asset_2", False),
        ("marshal", "asset_3", False),  # out of sight
        ("executor", "niki", False),
    ],
)
def test_who_reads_a_ledger(org, reader, owner, allowed):
    economy.adjust(actor=org["niki"], user_id=org[owner].id, credits=3, reason="Seed")
    if allowed:
        person = ledger_owner_for(org[reader], org[owner].id)
        assert person.id == org[owner].id
        assert [entry.amount_cr for entry in ledger_of(person)] == [3]
        return
    with pytest.raises(NotFound) as refused_ledger:
        ledger_owner_for(org[reader], org[owner].id)
    with pytest.raises(NotFound) as missing:
        ledger_owner_for(org[reader], "b" * 24)
    assert refused_ledger.value.status == 404
    if people_visible_to(org[reader]).filter(id=org[owner].id).exists():
        assert refused_ledger.value.message == "No such ledger."  # a person they see anyway: nothing leaks
    else:
        assert refused_ledger.value.message == missing.value.message  # out of sight: exactly like nobody


def test_own_ledger_without_a_user(org):
    assert ledger_owner_for(org["asset"], None).id == org["asset"].id
    assert ledger_owner_for(org["asset"], "").id == org["asset"].id


# Invalid amounts of every kind -----------------------------------------------------------------------------


def short(value):
    text = repr(value)
    return text if len(text) <= 20 else f"{text[:12]}...({len(text)} chars)"


BAD_CREDITS = [
    -1,
    "-1",
    10_001,
    "10001",
    "abc",
    "1.5",
    1.5,
    "1e3",
    "NaN",
    "Infinity",
    "-Infinity",
    True,
    False,
    "9" * 5000,
    "  ",
    [],
    "0x10",
    "1_000",
    "+5",
    "\u0661\u0662",
    "\uff11",
]
BAD_PAY = [
    "-0.01",
    -5,
    "100000.01",
    "abc",
    "NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "1.005",
    "1.001",
    True,
    False,
    "9" * 5000,
    "1e30",
    "1e100000",
    "-1e100000",
    float("nan"),
    float("inf"),
    "12,50",
    "  ",
    [],
    "1_000.00",
    "+5",
    "\u0661\u0662.50",
    "5.",
    ".5",
    2.5,
]
BAD_HOURS = ["0", 0, "-1", "744.01", "abc", "NaN", "Infinity", "1.001", True, "1e30", "1e100000"]


@pytest.mark.parametrize("value", BAD_CREDITS, ids=short)
def test_approve_refuses_malformed_credits(org, value):
    ticket = submitted(org["shadow"], org["asset"], credits=1, pay="3.00")
    refused(Invalid, services.approve_reward, actor=org["marshal"], ticket_id=ticket.id, credits=value, pay="3.00")


@pytest.mark.parametrize("value", [*BAD_PAY, "", None], ids=short)
def test_approve_refuses_malformed_pay(org, value):
    ticket = submitted(org["shadow"], org["asset"], credits=1, pay="3.00")
    refused(Invalid, services.approve_reward, actor=org["marshal"], ticket_id=ticket.id, credits=1, pay=value)


@pytest.mark.parametrize("value", BAD_CREDITS, ids=short)
def test_submit_refuses_malformed_credits(org, value):
    ticket = started(org["shadow"], org["asset"])
    error = refused(
        Invalid,
        services.submit_for_review,
        actor=org["asset"],
        ticket_id=ticket.id,
        reward_credits=value,
        reward_pay="3.00",
    )
    assert "reward_credits" in error.field_errors


@pytest.mark.parametrize("value", BAD_PAY, ids=short)
def test_submit_refuses_malformed_pay(org, value):
    ticket = started(org["shadow"], org["asset"])
    error = refused(
        Invalid, services.submit_for_review, actor=org["asset"], ticket_id=ticket.id, reward_credits=1, reward_pay=value
    )
    assert "reward_pay" in error.field_errors


@pytest.mark.parametrize("value", BAD_HOURS, ids=short)
def test_submit_refuses_malformed_hours(org, value):
    ticket = started(org["shadow"], org["asset"])
    error = refused(Invalid, services.submit_for_review, actor=org["asset"], ticket_id=ticket.id, hours_worked=value)
    assert "hours_worked" in error.field_errors


def test_the_largest_amounts_allowed_are_accepted(org):
    ticket = submitted(org["shadow"], org["asset"], credits=10_000, pay="100000.00")
    assert (ticket.reward_credits, ticket.reward_pay) == (10_000, D("100000.00"))
    refused(
        Invalid, services.approve_reward, actor=org["marshal"], ticket_id=ticket.id, credits=10_001, pay="100000.00"
    )

"""The JSON API's ledger, adjustments, people and notifications, rank by rank; and Niki, invisible in every
answer of every route to everyone else. Every test ends with the ledger invariant."""

import pytest

from accounts.models import Notification, User
from accounts.services import notify
from directorate.db import now
from economy.models import Transaction
from economy.periods import week_of
from economy.services import adjust, run_payroll
from tests.api_support import assert_error
from tests.invariants import database_state, traces_of_niki
from tickets import services

MISSING_ID = "0123456789abcdef01234567"


# The ledger -----------------------------------------------------------------------------------------------------


def test_own_ledger_and_a_subordinates_for_those_who_may_adjust(org, as_member):
    adjust(actor=org["marshal"], user_id=org["asset"].id, credits=3, pay="4.25", reason="Overtime")
    own = as_member(org["asset"]).get("/api/transactions").json()
    assert own["owner"]["id"] == org["asset"].id and (own["credits"], own["balance"]) == (3, "4.25")
    [entry] = own["items"]
    assert (entry["type"], entry["amount_cr"], entry["amount_pay"], entry["reason"]) == (
        "manual_adj",
        3,
        "4.25",
        "Overtime",
    )
    assert entry["approved_by"]["id"] == org["marshal"].id and entry["related_ticket"] is None
    for viewer in ("marshal", "executor", "niki"):
        seen = as_member(org[viewer]).get("/api/transactions", user=org["asset"].id).json()
        assert seen["owner"]["id"] == org["asset"].id and len(seen["items"]) == 1, viewer
    assert (
        as_member(org["asset"]).get("/api/transactions", user=org["asset"].id).json()["owner"]["id"] == org["asset"].id
    )


def test_payroll_entries_carry_their_type_and_week(org, as_member):
    adjust(actor=org["marshal"], user_id=org["asset"].id, credits=100, reason="Standing")
    week = week_of(now().date())
    run_payroll(period=week.name, moment=week.end)

    items = as_member(org["asset"]).get("/api/transactions").json()["items"]

    kinds = {item["type"]: item for item in items}
    assert set(kinds) == {"salary", "decay", "manual_adj"}
    assert (kinds["salary"]["amount_pay"], kinds["salary"]["period"]) == ("120.00", week.name)
    assert (kinds["decay"]["amount_cr"], kinds["decay"]["period"]) == (-2, week.name)
    assert kinds["decay"]["approved_by"]["id"] == org["nyx"].id and kinds["manual_adj"]["period"] == ""


# Whose ledger a reader may not read: a peer, a superior, a subordinate's without the authority, someone out of
# sight, Niki.
UNREADABLE_LEDGERS = [
    ("asset", "asset_2"),
    ("asset", "shadow"),
    ("shadow", "asset"),
    ("marshal", "asset_3"),
    ("marshal", "executor"),
    ("asset", "niki"),
]


@pytest.mark.parametrize("viewer, owner", UNREADABLE_LEDGERS)
def test_other_ledgers_are_not_found_like_nobody(org, as_member, viewer, owner):
    client = as_member(org[viewer])
    hidden = client.get("/api/transactions", user=org[owner].id)
    missing = client.get("/api/transactions", user=MISSING_ID)
    assert assert_error(hidden, 404, "not_found") == assert_error(missing, 404, "not_found")


def test_the_ledger_pages_by_cursor(org, as_member):
    for number in range(53):
        adjust(actor=org["marshal"], user_id=org["asset"].id, credits=1, reason=f"Tick {number}")
    client = as_member(org["asset"])
    first = client.get("/api/transactions").json()
    second = client.get("/api/transactions", after=first["next_cursor"]).json()
    assert len(first["items"]) == 50 and len(second["items"]) == 3 and second["next_cursor"] is None
    assert len({entry["id"] for entry in first["items"] + second["items"]}) == 53
    assert_error(client.get("/api/transactions", after="garbage"), 400, "invalid", field="after")


def test_a_ticket_the_viewer_may_not_see_is_not_named_in_a_ledger(org, as_member):
    ticket = services.create_ticket(
        actor=org["shadow"],
        assignee_id=org["asset"].id,
        title="Quiet job",
        category="Order",
        sub_category="Routine Directive",
        visibility="private",
    )
    services.start_work(actor=org["asset"], ticket_id=ticket.id)
    services.submit_for_review(actor=org["asset"], ticket_id=ticket.id, reward_credits="2", reward_pay="1.00")
    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits="2", pay="1.00")
    own = as_member(org["asset"]).get("/api/transactions").json()
    assert {entry["related_ticket"]["title"] for entry in own["items"]} == {"Quiet job"}
    executors_view = as_member(org["executor"]).get("/api/transactions", user=org["asset"].id)
    assert executors_view.status_code == 200
    assert {entry["related_ticket"] for entry in executors_view.json()["items"]} == {None}
    assert "Quiet job" not in executors_view.content.decode()


# Adjustments ----------------------------------------------------------------------------------------------------


def test_a_marshal_adjusts_a_subordinate(org, as_member):
    response = as_member(org["marshal"]).patch(
        f"/api/users/{org['asset'].id}/adjust", {"credits": -2, "pay": "5.00", "reason": "Late report"}
    )
    assert response.status_code == 200, response.content
    entry = response.json()
    assert (entry["type"], entry["amount_cr"], entry["amount_pay"]) == ("manual_adj", -2, "5.00")
    asset = User.objects.get(id=org["asset"].id)
    assert (asset.credits, asset.balance) == (-2, 5)
    again = as_member(org["marshal"]).patch(
        f"/api/users/{org['asset'].id}/adjust", {"credits": "1", "pay": "-5.00", "reason": "Fine"}
    )
    assert again.status_code == 200
    assert as_member(org["asset"]).get("/api/me").json()["balance"] == "0.00"


@pytest.mark.parametrize(
    "actor, target, status",
    [
        ("asset", "asset_2", 403),  # a peer: visible, not adjustable
        ("shadow", "asset", 403),  # below marshal
        ("marshal", "executor", 403),  # a superior
        ("marshal", "marshal", 403),  # oneself
        ("marshal", "asset_3", 404),  # another branch: out of sight
        ("executor", "asset_3", 200),
        ("niki", "executor_2", 200),
        ("asset", "niki", 404),
    ],
)
def test_adjust_as_each_rank(org, as_member, actor, target, status):
    before = database_state()
    response = as_member(org[actor]).patch(f"/api/users/{org[target].id}/adjust", {"credits": 1, "reason": "Because"})
    if status == 200:
        assert response.status_code == 200, response.content
    else:
        assert_error(response, status)
        assert database_state() == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"credits": 1}, "reason"),
        ({"credits": 1, "reason": "  "}, "reason"),
        ({"credits": 1, "reason": "r" * 501}, "reason"),
        ({"credits": 1.5, "reason": "x"}, "credits"),
        ({"credits": "ten", "reason": "x"}, "credits"),
        ({"pay": 2.5, "reason": "x"}, "pay"),
        ({"pay": "2.555", "reason": "x"}, "pay"),
        ({"pay": "-1.00", "reason": "x"}, "pay"),  # more than the balance
        ({"pay": "1,00", "reason": "x"}, "pay"),
    ],
)
def test_malformed_adjustments_are_400_and_write_nothing(org, as_member, body, field):
    before = database_state()
    response = as_member(org["marshal"]).patch(f"/api/users/{org['asset'].id}/adjust", body)
    assert_error(response, 400, "invalid", field=field)
    assert database_state() == before


def test_an_adjustment_of_nothing_is_400(org, as_member):
    assert_error(as_member(org["marshal"]).patch(f"/api/users/{org['asset'].id}/adjust", {"reason": "x"}), 400)


# People ---------------------------------------------------------------------------------------------------------


def test_me(org, as_member):
    me = as_member(org["asset"]).get("/api/me").json()
    assert me == {
        "id": org["asset"].id,
        "username": "asset.one",
        "name": org["asset"].display_name,
        "rank": "asset",
        "service_number": org["asset"].service_number,
        "credits": 0,
        "balance": "0.00",
        "superior": {
            "id": org["shadow"].id,
            "name": org["shadow"].display_name,
            "rank": "shadow",
            "username": "shadow.one",
        },
        "unread_notifications": 0,
    }


def test_the_directory_is_the_chain_of_command(org, as_member):
    seen = as_member(org["asset"]).get("/api/users").json()
    assert {person["username"] for person in seen["items"]} == {
        "asset.one",
        "asset.two",
        "shadow.one",
        "marshal.one",
        "executor.one",
        "nyx",
    }
    assert seen["has_more"] is False and seen["page"] == 1
    assert as_member(org["asset"]).get("/api/users", q="marshal").json()["items"][0]["username"] == "marshal.one"
    person = as_member(org["asset"]).get(f"/api/users/{org['marshal'].id}")
    assert person.status_code == 200 and person.json()["rank"] == "marshal"
    hidden = as_member(org["asset"]).get(f"/api/users/{org['asset_3'].id}")
    assert assert_error(hidden, 404) == assert_error(as_member(org["asset"]).get(f"/api/users/{MISSING_ID}"), 404)
    assert_error(as_member(org["asset"]).get("/api/users", page=0), 400, field="page")


# Notifications --------------------------------------------------------------------------------------------------


def test_notifications_read_and_read_all(org, as_member):
    for number in range(27):
        notify(recipients=[org["asset"]], message=f"Note {number}")
    notify(recipients=[org["asset_2"]], message="Not yours")
    client = as_member(org["asset"])
    first = client.get("/api/notifications").json()
    assert first["unread"] == 27 and len(first["items"]) == 25 and first["next_cursor"]
    second = client.get("/api/notifications", after=first["next_cursor"]).json()
    assert len(second["items"]) == 2 and second["next_cursor"] is None
    newest = first["items"][0]
    assert client.post(f"/api/notifications/{newest['id']}/read").json() == {"id": newest["id"], "read": True}
    assert client.get("/api/me").json()["unread_notifications"] == 26
    others = Notification.objects.get(user_id=org["asset_2"].id)
    assert assert_error(client.post(f"/api/notifications/{others.id}/read"), 404) == assert_error(
        client.post(f"/api/notifications/{MISSING_ID}/read"), 404
    )
    assert Notification.objects.get(id=others.id).read is False
    assert client.post("/api/notifications/read-all").json() == {"marked_read": 26}
    assert client.get("/api/notifications").json()["unread"] == 0


# Niki -----------------------------------------------------------------------------------------------------------


def test_niki_is_invisible_in_every_answer(org, as_member, api):
    """Niki directs, comments, reviews, approves and adjusts; no one else's answers carry a trace of Niki."""
    niki, nyx = org["niki"], org["nyx"]
    as_niki = as_member(niki)
    # A directive from Niki to each member, commented and watched by Niki's hand.
    tickets = {}
    for name in ("executor", "marshal", "shadow", "asset"):
        created = as_niki.post(
            "/api/tickets",
            {
                "title": f"Directive for {name}",
                "category": "Order",
                "sub_category": "Special Operation",
                "assignee_id": org[name].id,
            },
        )
        assert created.status_code == 201
        tickets[name] = created.json()["id"]
        assert as_niki.post(f"/api/tickets/{tickets[name]}/comment", {"body_md": "Proceed."}).status_code == 201
    # An award above Nyx's authority: a directive from Nyx to an executor, reviewed by Niki.
    escalated = services.create_ticket(
        actor=nyx, assignee_id=org["executor"].id, title="Above Nyx", category="Order", sub_category="Routine Directive"
    )
    services.start_work(actor=org["executor"], ticket_id=escalated.id)
    services.submit_for_review(actor=org["executor"], ticket_id=escalated.id, reward_credits="1", reward_pay="50.00")
    services.approve_reward(actor=nyx, ticket_id=escalated.id, credits="1", pay="50.00")  # Nyx authored it: up
    escalated_ticket = as_member(org["executor"]).get(f"/api/tickets/{escalated.id}").json()
    assert escalated_ticket["reviewer"] == {"name": "The Directorate"}
    assert as_niki.patch(f"/api/tickets/{escalated.id}/approve", {"credits": 1, "pay": "50.00"}).status_code == 200
    assert as_niki.patch(f"/api/users/{org['asset'].id}/adjust", {"credits": 5, "reason": "Noted."}).status_code == 200

    for name in ("executor", "marshal", "shadow", "asset", "asset_3"):
        client = as_member(org[name])
        answers = [
            client.get("/api/me"),
            client.get("/api/users"),
            client.get("/api/users", q="niki"),
            client.get("/api/users", q="7360"),
            client.get(f"/api/users/{niki.id}"),
            client.get("/api/tickets"),
            client.get("/api/transactions"),
            client.get("/api/notifications"),
            client.get("/api/transactions", user=niki.id),
            client.patch(f"/api/users/{niki.id}/adjust", {"credits": 1, "reason": "x"}),
        ]
        answers += [client.get(f"/api/tickets/{ticket_id}") for ticket_id in [*tickets.values(), escalated.id]]
        for answer in answers:
            assert answer.status_code in (200, 404), answer.content
            assert traces_of_niki(answer.content.decode(), niki) == [], (name, answer.content)
        for item in client.get("/api/tickets").json()["items"]:
            if item["title"].startswith("Directive for"):
                assert item["author"] == {"name": "The Directorate"}
    detail = as_member(org["asset"]).get(f"/api/tickets/{tickets['asset']}").json()
    assert detail["comments"][0]["author"] == {"name": "The Directorate"}
    ledger = as_member(org["executor"]).get("/api/transactions").json()
    assert {entry["approved_by"]["name"] for entry in ledger["items"]} == {"The Directorate"}
    assert all(set(entry["approved_by"]) == {"name"} for entry in ledger["items"])
    assert Transaction.objects.filter(approved_by=niki).count() == 3
    # The check can fail: Niki's own answers carry Niki.
    assert "Niki's id" in traces_of_niki(as_niki.get("/api/me").content.decode(), niki)


# Reversals (rules section 18) -------------------------------------------------------------------------------


def test_reversing_through_the_api(org, as_member):
    entry = adjust(actor=org["marshal"], user_id=org["asset"].id, credits=3, pay="4.25", reason="Overtime")
    path = f"/api/transactions/{entry.id}/reverse"
    assert_error(as_member(org["asset"]).post(path, {"reason": "Mine"}), 403)  # one's own account
    assert_error(as_member(org["marshal_2"]).post(path, {"reason": "No"}), 404)
    assert_error(as_member(org["marshal"]).post(path, {"reason": ""}), 400, field="reason")
    assert_error(as_member(org["marshal"]).post(f"/api/transactions/{MISSING_ID}/reverse", {"reason": "x"}), 404)
    response = as_member(org["marshal"]).post(path, {"reason": "Wrong member"})
    assert response.status_code == 201, response.content
    [reversal] = response.json()
    assert (reversal["type"], reversal["amount_cr"], reversal["amount_pay"], reversal["reverses"]) == (
        "reversal",
        -3,
        "-4.25",
        entry.id,
    )
    assert reversal["approved_by"]["id"] == org["marshal"].id and reversal["reason"] == "Wrong member"
    assert (User.objects.get(id=org["asset"].id).credits, User.objects.get(id=org["asset"].id).balance) == (0, 0)
    assert_error(as_member(org["marshal"]).post(path, {"reason": "Again"}), 409)
    items = as_member(org["asset"]).get("/api/transactions").json()["items"]
    assert [item["type"] for item in items] == ["reversal", "manual_adj"]


def test_niki_reversals_show_as_the_directorate(org, as_member):
    entry = adjust(actor=org["marshal"], user_id=org["asset"].id, credits=3, pay="0", reason="Overtime")
    response = as_member(org["niki"]).post(f"/api/transactions/{entry.id}/reverse", {"reason": "Override"})
    assert response.status_code == 201
    items = as_member(org["asset"]).get("/api/transactions").json()["items"]
    assert items[0]["approved_by"] == {"name": "The Directorate"}

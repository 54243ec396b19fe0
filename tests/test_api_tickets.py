"""The JSON API's tickets, rank by rank: the whole reward cycle through the API, every decision route,
404 for what you may not see (identical to what does not exist), and the 4xx for every malformed request.

Every test ends with the ledger invariant. Setup that is not under test calls the services directly.
"""

from functools import partial

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from economy.models import Transaction
from tests import factories
from tests.api_support import assert_error
from tests.invariants import database_state
from tickets import services

new_ticket = partial(factories.new_ticket, **factories.ROUTINE)
submitted = partial(factories.submitted, credits="1", pay="3.00", **factories.ROUTINE)

MISSING_ID = "0123456789abcdef01234567"


def directive(author, assignee, **fields):
    """The body of `POST /api/tickets` from `author` to `assignee`."""
    return {
        "title": "Sweep sector 7",
        "category": "Order",
        "sub_category": "Routine Directive",
        "assignee_id": assignee.id,
        **fields,
    }


# The whole cycle --------------------------------------------------------------------------------------------


def test_the_whole_reward_cycle_through_the_api(org, as_member):
    asset, marshal = as_member(org["asset"]), as_member(org["marshal"])

    created = asset.post(
        "/api/tickets", directive(org["asset"], org["asset"], title="Report: sector 7 swept", body_md="Swept *twice*.")
    )
    assert created.status_code == 201, created.content
    ticket = created.json()
    assert ticket["status"] == "open" and ticket["title"] == "Report: sector 7 swept"
    assert (
        ticket["author"]
        == ticket["assignee"]
        == {
            "id": org["asset"].id,
            "name": org["asset"].display_name,
            "rank": "asset",
            "username": "asset.one",
        }
    )
    assert ticket["reviewer"] is None and ticket["reward_pay"] == "0.00" and ticket["target_rank"] == "asset"
    path = f"/api/tickets/{ticket['id']}"

    started = asset.patch(f"{path}/start")
    assert started.status_code == 200 and started.json()["status"] == "in_progress"

    submitted_ = asset.patch(f"{path}/submit", {"reward_credits": 1, "reward_pay": "9.50"})
    assert submitted_.status_code == 200, submitted_.content
    body = submitted_.json()
    assert body["status"] == "awaiting_review" and body["reviewer"]["id"] == org["marshal"].id
    assert (body["reward_credits"], body["reward_pay"]) == (1, "9.50")
    assert body["proposed_by"]["id"] == org["asset"].id

    queue = marshal.get("/api/tickets", scope="queue").json()
    assert [item["id"] for item in queue["items"]] == [ticket["id"]] and queue["next_cursor"] is None

    approved = marshal.patch(f"{path}/approve", {"credits": "1", "pay": "9.50", "note": "Good work."})
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "closed" and approved.json()["closed_at"]

    ledger = asset.get("/api/transactions").json()
    assert (ledger["credits"], ledger["balance"]) == (1, "9.50")
    assert sorted((e["type"], e["amount_cr"], e["amount_pay"]) for e in ledger["items"]) == [
        ("credit_award", 1, "0.00"),
        ("payment", 0, "9.50"),
    ]
    assert {e["approved_by"]["id"] for e in ledger["items"]} == {org["marshal"].id}
    assert {e["related_ticket"]["id"] for e in ledger["items"]} == {ticket["id"]}

    detail = asset.get(path).json()
    assert [(step["decision"], step["credits"], step["pay"], step["note"]) for step in detail["approval_log"]] == [
        ("approved", 1, "9.50", "Good work."),
    ]
    # Approving again pays nothing more.
    assert_error(marshal.patch(f"{path}/approve", {"credits": "1", "pay": "9.50"}), 409, "conflict")
    assert Transaction.objects.count() == 2


def test_hours_worked_give_the_default_proposal(org, as_member):
    ticket = new_ticket(org["shadow"], org["shadow"])
    services.start_work(actor=org["shadow"], ticket_id=ticket.id)
    body = as_member(org["shadow"]).patch(f"/api/tickets/{ticket.id}/submit", {"hours_worked": "2.5"}).json()
    assert (body["reward_credits"], body["reward_pay"], body["hours_worked"]) == (2, "11.25", "2.50")


def test_an_abnormal_award_escalates_then_closes(org, as_member):
    ticket = submitted(org["asset"], org["asset"], credits="150", pay="1.00")
    path = f"/api/tickets/{ticket.id}"
    recommended = as_member(org["marshal"]).patch(f"{path}/approve", {"credits": 150, "pay": "1.00"})
    assert recommended.status_code == 200
    assert recommended.json()["status"] == "awaiting_review"
    assert recommended.json()["reviewer"]["id"] == org["executor"].id
    closed = as_member(org["executor"]).patch(f"{path}/approve", {"credits": 150, "pay": "1.00"})
    assert closed.json()["status"] == "closed"
    decisions = [step["decision"] for step in as_member(org["asset"]).get(path).json()["approval_log"]]
    assert decisions == ["recommended", "approved"]
    assert User.objects.get(id=org["asset"].id).credits == 150


def test_an_approval_answers_the_ticket_as_stored(org, as_member):
    """The answer is built from the ticket the service changed, not read again: it must equal a fresh read,
    whether the approval closed the ticket or moved it up (a new reviewer, new amounts, a new proposer)."""
    moved_up = submitted(org["asset"], org["asset"], credits="1", pay="1.00")
    closes = submitted(org["asset"], org["asset"], credits="1", pay="1.00")
    marshal = as_member(org["marshal"])
    for ticket, amounts in ((moved_up, {"credits": 150, "pay": "2.00"}), (closes, {"credits": 2, "pay": "4.50"})):
        answer = marshal.patch(f"/api/tickets/{ticket.id}/approve", amounts)
        assert answer.status_code == 200, answer.content
        stored = as_member(org["asset"]).get(f"/api/tickets/{ticket.id}").json()
        assert answer.json() == {
            name: value for name, value in stored.items() if name not in ("comments", "watchers", "approval_log")
        }
    assert (stored["status"], stored["reward_credits"], stored["reward_pay"]) == ("closed", 2, "4.50")


@pytest.mark.skipif(
    connections["default"].vendor != "sqlite", reason="counts SQL statements; MongoDB records live events after"
)
def test_an_approval_reads_and_writes_only_what_its_guarantees_need(org, as_member):
    """A paid close through the API, once the day's totals exist, in its statements: who asks (the member, and
    whether their session ended), the ticket with its people; then, in one unit holding the write
    lock: the ticket's guarded close, its watchers, the log step, the ledger entries, the wallet and its read
    back (balance and rank), the two daily ledger totals and the member's, whether it was ever escalated and the
    review total, the notification and the unread count, the live events' number and rows."""
    first, second = (submitted(org["asset"], org["asset"]) for _ in range(2))
    marshal = as_member(org["marshal"])
    assert marshal.patch(f"/api/tickets/{first.id}/approve", {"credits": 1, "pay": "3.00"}).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        answer = marshal.patch(f"/api/tickets/{second.id}/approve", {"credits": 1, "pay": "3.00"})
    assert answer.status_code == 200, answer.content
    statements = [query["sql"].split()[0] for query in queries.captured_queries]
    reads_and_writes = [verb for verb in statements if verb in ("SELECT", "INSERT", "UPDATE", "DELETE")]
    assert (reads_and_writes.count("SELECT"), len(reads_and_writes)) == (7, 18), statements


def test_escalate_and_send_back(org, as_member):
    ticket = submitted(org["asset"], org["asset"])
    path = f"/api/tickets/{ticket.id}"
    marshal, executor = as_member(org["marshal"]), as_member(org["executor"])
    escalated = marshal.patch(f"{path}/escalate", {"note": "Your call."})
    assert escalated.status_code == 200 and escalated.json()["reviewer"]["id"] == org["executor"].id
    assert_error(marshal.patch(f"{path}/send-back", {"comment": "Redo"}), 409)  # no longer the reviewer
    assert_error(executor.patch(f"{path}/send-back", {}), 400, "invalid", field="comment")
    assert_error(executor.patch(f"{path}/send-back", {"comment": "   "}), 400, "invalid", field="comment")
    back = executor.patch(f"{path}/send-back", {"comment": "Add the photographs."})
    assert back.status_code == 200 and back.json()["status"] == "in_progress" and back.json()["reviewer"] is None
    detail = as_member(org["asset"]).get(path).json()
    assert [step["decision"] for step in detail["approval_log"]] == ["escalated", "sent_back"]
    assert detail["comments"][-1]["body_md"] == "Add the photographs."
    assert detail["comments"][-1]["author"]["id"] == org["executor"].id


def test_close_without_reward_by_the_directorate(org, as_member):
    niki = as_member(org["niki"])
    ticket = niki.post("/api/tickets", directive(org["niki"], org["niki"], title="Own errand")).json()
    assert_error(as_member(org["asset"]).patch(f"/api/tickets/{ticket['id']}/close", {}), 404)
    closed = niki.patch(f"/api/tickets/{ticket['id']}/close", {"note": "Done."})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert_error(niki.patch(f"/api/tickets/{ticket['id']}/close", {}), 409, "conflict")


def test_the_assignee_who_earns_rewards_may_not_close_without_one(org, as_member):
    ticket = new_ticket(org["asset"], org["asset"])
    assert_error(as_member(org["asset"]).patch(f"/api/tickets/{ticket.id}/close", {}), 403, "forbidden")


def test_promotion_through_the_api(org, as_member):
    ticket = new_ticket(
        org["shadow"],
        org["marshal"],
        category="Personnel",
        sub_category="Promotion Request",
        subject_id=org["asset"].id,
    )
    assert_error(as_member(org["shadow"]).patch(f"/api/tickets/{ticket.id}/promote", {}), 403, "forbidden")
    promoted = as_member(org["marshal"]).patch(f"/api/tickets/{ticket.id}/promote", {"note": "Earned."})
    assert promoted.status_code == 200, promoted.content
    assert promoted.json() == {
        "id": org["asset"].id,
        "name": org["asset"].display_name,
        "rank": "shadow",
        "username": "asset.one",
    }
    assert_error(as_member(org["marshal"]).patch(f"/api/tickets/{ticket.id}/promote", {}), 409)


def test_a_demotion_request_is_denied_or_approved_through_the_api(org, as_member):
    def demotion():
        return new_ticket(
            org["marshal"],
            org["executor"],
            category="Personnel",
            sub_category="Demotion Request",
            subject_id=org["shadow"].id,
        )

    denied = demotion()
    shown = as_member(org["marshal"]).get(f"/api/tickets/{denied.id}").json()
    assert (shown["status"], shown["reviewer"]["id"]) == ("awaiting_review", org["marshal"].id)
    assert_error(as_member(org["marshal"]).patch(f"/api/tickets/{denied.id}/deny", {"reason": ""}), 400, field="reason")
    answer = as_member(org["marshal"]).patch(f"/api/tickets/{denied.id}/deny", {"reason": "Not this time."})
    assert answer.status_code == 200 and answer.json()["status"] == "closed"
    assert User.objects.get(id=org["shadow"].id).rank == "shadow"
    approved = demotion()
    demoted = as_member(org["marshal"]).patch(f"/api/tickets/{approved.id}/promote", {})
    assert demoted.status_code == 200 and demoted.json()["rank"] == "asset"


def test_comments_and_watchers(org, as_member):
    ticket = new_ticket(org["marshal"], org["shadow"])
    path = f"/api/tickets/{ticket.id}"
    shadow, marshal = as_member(org["shadow"]), as_member(org["marshal"])
    comment = shadow.post(f"{path}/comment", {"body_md": "On it."})
    assert comment.status_code == 201
    assert comment.json()["author"]["id"] == org["shadow"].id and comment.json()["body_md"] == "On it."
    assert_error(shadow.post(f"{path}/comment", {"body_md": ""}), 400, "invalid", field="body_md")
    assert_error(shadow.post(f"{path}/comment", {"body_md": "x" * 10_001}), 400, "invalid", field="body_md")

    added = marshal.post(f"{path}/watchers", {"user_id": org["asset"].id})
    assert added.status_code == 201 and added.json()["id"] == org["asset"].id
    assert_error(marshal.post(f"{path}/watchers", {"user_id": org["asset"].id}), 409, "conflict")
    assert as_member(org["asset"]).get(path).json()["watchers"][0]["id"] == org["asset"].id
    removed = as_member(org["asset"]).delete(f"{path}/watchers/{org['asset'].id}")
    assert removed.status_code == 204 and removed.content == b""
    assert_error(as_member(org["asset"]).get(path), 404)  # no longer watching, not in the asset's sight

    services.start_work(actor=org["shadow"], ticket_id=ticket.id)
    services.submit_for_review(actor=org["shadow"], ticket_id=ticket.id, reward_credits="1", reward_pay="1.00")
    assert marshal.patch(f"{path}/approve", {"credits": 1, "pay": "1.00"}).json()["status"] == "closed"
    assert_error(shadow.post(f"{path}/comment", {"body_md": "Late."}), 409, "conflict")


# Lists ----------------------------------------------------------------------------------------------------------


def test_list_filters_and_cursor(org, as_member):
    marshal = as_member(org["marshal"])
    for number in range(27):
        new_ticket(org["marshal"], org["shadow"], title=f"Patrol {number}")
    new_ticket(org["marshal"], org["asset"], title="Inventory", category="Logistics", sub_category="Transport")
    first = marshal.get("/api/tickets").json()
    assert len(first["items"]) == 25 and first["next_cursor"]
    second = marshal.get("/api/tickets", after=first["next_cursor"]).json()
    assert len(second["items"]) == 3 and second["next_cursor"] is None
    assert len({item["id"] for item in first["items"] + second["items"]}) == 28

    def titles(**query):
        return sorted(item["title"] for item in marshal.get("/api/tickets", **query).json()["items"])

    assert titles(category="Logistics") == ["Inventory"]
    assert titles(assignee=org["asset"].id) == ["Inventory"]
    assert titles(q="patrol 2") == [
        "Patrol 2",
        "Patrol 20",
        "Patrol 21",
        "Patrol 22",
        "Patrol 23",
        "Patrol 24",
        "Patrol 25",
        "Patrol 26",
    ]
    assert titles(status="closed") == []
    assert titles(scope="mine") == []
    assert len(as_member(org["shadow"]).get("/api/tickets", scope="mine").json()["items"]) == 25
    assert as_member(org["asset_3"]).get("/api/tickets").json() == {"items": [], "next_cursor": None}
    # The page's "assigned to (name)" filter, on the API too.
    asset_name = org["asset"].display_name
    assert titles(who=asset_name.upper()) == ["Inventory"]
    assert titles(who=f"  {asset_name}  ") == ["Inventory"]


def test_page_and_api_read_list_filters_the_same_way():
    """One reading of a list's filters (TicketQuery): the API refuses what the page drops."""
    from pydantic import ValidationError

    from tickets.schemas import TicketQuery

    malformed = {
        "scope": "nonsense",
        "status": "done",
        "category": "Gossip",
        "assignee": "not-an-id",
        "who": "  Kade  ",
        "q": " " + "x" * 500,
    }
    with pytest.raises(ValidationError) as refused:
        TicketQuery.model_validate(malformed)
    assert {problem["loc"][0] for problem in refused.value.errors()} == {"scope", "status", "category", "assignee", "q"}
    filters = TicketQuery.lenient(malformed).filters()
    assert (filters.scope, filters.status, filters.category, filters.assignee_id) == ("all", "", "", "")
    assert (filters.assignee_name, filters.text) == ("Kade", "x" * 100)
    valid = {
        "scope": "queue",
        "status": "awaiting_review",
        "category": "Intel",
        "assignee": "a" * 24,
        "who": "Kade",
        "q": "sector",
    }
    assert TicketQuery.lenient(valid).filters() == TicketQuery.model_validate(valid).filters()


@pytest.mark.parametrize(
    "query, field",
    [
        ({"scope": "everything"}, "scope"),
        ({"status": "done"}, "status"),
        ({"category": "Gossip"}, "category"),
        ({"assignee": "not-an-id"}, "assignee"),
        ({"q": "x" * 101}, "q"),
        ({"who": "x" * 101}, "who"),
        ({"after": "not-a-cursor"}, "after"),
        ({"after": "MjAyNi0wMS0wMXxzaG9ydA"}, "after"),  # a cursor that decodes, to a short id
    ],
)
def test_malformed_list_queries_are_400(org, as_member, query, field):
    assert_error(as_member(org["marshal"]).get("/api/tickets", **query), 400, "invalid", field=field)


# Who may see and act -----------------------------------------------------------------------------------------------


def test_what_you_may_not_see_is_exactly_like_what_does_not_exist(org, as_member):
    ticket = new_ticket(org["marshal_2"], org["shadow_2"])
    outsider = as_member(org["marshal"])
    for method, suffix, body in [
        ("get", "", None),
        ("patch", "/start", None),
        ("patch", "/submit", {"reward_pay": "1.00"}),
        ("patch", "/approve", {"credits": 1, "pay": "1.00"}),
        ("patch", "/escalate", {}),
        ("patch", "/send-back", {"comment": "x"}),
        ("patch", "/close", {}),
        ("patch", "/promote", {}),
        ("post", "/comment", {"body_md": "x"}),
        ("post", "/watchers", {}),
    ]:
        hidden = outsider.request(method, f"/api/tickets/{ticket.id}{suffix}", body)
        missing = outsider.request(method, f"/api/tickets/{MISSING_ID}{suffix}", body)
        malformed = outsider.request(method, f"/api/tickets/not-an-id{suffix}", body)
        assert hidden.status_code == missing.status_code == malformed.status_code == 404, (method, suffix)
        assert (
            hidden.json()
            == missing.json()
            == malformed.json()
            == {
                "detail": "No such ticket.",
                "code": "not_found",
                "errors": {},
            }
        )
    assert_error(outsider.delete(f"/api/tickets/{ticket.id}/watchers/{org['marshal'].id}"), 404)


def test_a_private_ticket_is_seen_only_by_its_parties(org, as_member):
    ticket = new_ticket(org["shadow"], org["asset"], visibility="private")
    assert as_member(org["asset"]).get(f"/api/tickets/{ticket.id}").status_code == 200
    assert_error(as_member(org["marshal"]).get(f"/api/tickets/{ticket.id}"), 404)
    assert as_member(org["niki"]).get(f"/api/tickets/{ticket.id}").status_code == 200


@pytest.mark.parametrize(
    "author, assignee, status",
    [
        ("asset", "shadow", 201),  # upward, to the direct superior
        ("asset", "asset", 201),  # to self
        ("asset", "marshal", 403),  # two levels up: visible, not addressable
        ("asset", "asset_2", 403),  # a peer
        ("asset", "asset_3", 404),  # out of sight
        ("marshal", "asset", 201),  # a directive downward
        ("executor", "marshal_2", 201),
        ("niki", "asset_3", 201),
    ],
)
def test_create_as_each_rank(org, as_member, author, assignee, status):
    response = as_member(org[author]).post("/api/tickets", directive(org[author], org[assignee]))
    if status == 201:
        assert response.status_code == 201, response.content
    else:
        before = database_state()
        assert_error(response, status)
        assert database_state() == before


def test_only_the_reviewer_decides(org, as_member):
    ticket = submitted(org["asset"], org["asset"])
    path = f"/api/tickets/{ticket.id}/approve"
    assert_error(as_member(org["asset"]).patch(path, {"credits": 1, "pay": "3.00"}), 403, "forbidden")
    assert_error(as_member(org["shadow"]).patch(path, {"credits": 1, "pay": "3.00"}), 403, "forbidden")
    assert_error(as_member(org["executor"]).patch(path, {"credits": 1, "pay": "3.00"}), 403, "forbidden")
    assert_error(as_member(org["marshal_2"]).patch(path, {"credits": 1, "pay": "3.00"}), 404)
    assert_error(as_member(org["asset"]).patch(f"/api/tickets/{ticket.id}/start"), 409, "conflict")
    assert Transaction.objects.count() == 0


# Malformed requests ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"title": ""}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"title": 5}, "title"),
        ({"category": "Gossip"}, "category"),
        ({"sub_category": "Leave"}, "sub_category"),
        ({"visibility": "public"}, "visibility"),
        ({"body_md": "b" * 20_001}, "body_md"),
        ({"watcher_ids": "not-a-list"}, "watcher_ids"),
        ({"category": "Personnel", "sub_category": "Promotion Request"}, "subject_id"),
        ({"assignee_id": None}, "assignee_id"),
    ],
)
def test_malformed_tickets_are_400_and_write_nothing(org, as_member, changes, field):
    before = database_state()
    response = as_member(org["asset"]).post("/api/tickets", {**directive(org["asset"], org["shadow"]), **changes})
    assert_error(response, 400, "invalid", field=field)
    assert database_state() == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"credits": 1.5, "pay": "3.00"}, "credits"),
        ({"credits": True, "pay": "3.00"}, "credits"),
        ({"credits": "1e2", "pay": "3.00"}, "credits"),
        ({"credits": -1, "pay": "3.00"}, "credits"),
        ({"credits": 10**20, "pay": "3.00"}, "credits"),
        ({"credits": 1, "pay": 3.0}, "pay"),  # money is never a float
        ({"credits": 1, "pay": "3.001"}, "pay"),
        ({"credits": 1, "pay": "1e3"}, "pay"),
        ({"credits": 1, "pay": "NaN"}, "pay"),
        ({"credits": 1, "pay": "-3.00"}, "pay"),
        ({"credits": 1, "pay": "100000.01"}, "pay"),
        ({"credits": 1, "pay": "٣.00"}, "pay"),
        ({"credits": 1}, "pay"),
        ({"pay": "3.00"}, "credits"),
        ({"credits": 1, "pay": "3.00", "note": "n" * 501}, "note"),
    ],
)
def test_malformed_approvals_are_400_and_pay_nothing(org, as_member, body, field):
    ticket = submitted(org["asset"], org["asset"])
    before = database_state()
    assert_error(
        as_member(org["marshal"]).patch(f"/api/tickets/{ticket.id}/approve", body), 400, "invalid", field=field
    )
    assert database_state() == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "hours_worked"),
        ({"reward_pay": 2}, "reward_pay"),
        ({"reward_pay": "2.00", "reward_credits": "many"}, "reward_credits"),
        ({"hours_worked": "0"}, "hours_worked"),
        ({"hours_worked": "745"}, "hours_worked"),
    ],
)
def test_malformed_submissions_are_400(org, as_member, body, field):
    ticket = new_ticket(org["asset"], org["asset"])
    services.start_work(actor=org["asset"], ticket_id=ticket.id)
    assert_error(as_member(org["asset"]).patch(f"/api/tickets/{ticket.id}/submit", body), 400, "invalid", field=field)


def test_bodies_that_are_not_objects_are_400(org, as_member):
    marshal = as_member(org["marshal"])
    for raw in ["", "null", "[]", '"text"', "{", "{'single': 'quotes'}"]:
        assert_error(marshal.request("post", "/api/tickets", raw=raw), 400, "invalid")


def test_wrong_method_and_unknown_routes_answer_in_the_error_shape(org, as_member):
    marshal = as_member(org["marshal"])
    assert_error(marshal.request("put", "/api/tickets", raw="{}"), 405, "method_not_allowed")
    assert_error(marshal.get("/api/tickets/x/y/z"), 404, "not_found")
    assert_error(marshal.get("/api/nothing-here"), 404, "not_found")


def test_text_that_utf8_cannot_hold_is_400(org, as_member):
    """JSON may escape a lone surrogate ("\\ud800"); no database can store it: refused before any write."""
    before = database_state()
    body = '{"title": "\\ud800", "category": "Order", "sub_category": "Routine Directive", "assignee_id": "ID"}'
    raw = body.replace("ID", org["shadow"].id)
    assert_error(as_member(org["marshal"]).request("post", "/api/tickets", raw=raw), 400, "invalid")
    assert database_state() == before

"""Controller Niki's hidden view and command route: overrides work, each is audited, and CSRF applies."""

import json
import re
from decimal import Decimal
from functools import partial

import pytest
from django.test import Client

from accounts.models import RankChange, User
from accounts.ranks import Rank
from economy.models import Transaction
from nyx.models import AuditEntry
from tests import factories
from tests.invariants import assert_ledger_invariant, database_state
from tickets import services
from tickets.models import ApprovalStep, Ticket

submitted = partial(factories.submitted, title="Night watch", **factories.SPECIAL_OPERATION)

COMMAND = "/niki/command"
HOME = "/niki/"


def command(client, payload):
    response = client.post(COMMAND, json.dumps(payload), content_type="application/json")
    return response.status_code, response.json()


@pytest.fixture
def niki_client(client, org):
    client.force_login(org["niki"])
    return client


def test_approve_past_escalation_closes_and_pays_whoever_the_reviewer(niki_client, org):
    ticket = submitted(org["shadow"], credits="150", pay="9.00")  # abnormal: awaits the marshal's recommendation
    assert ticket.reviewer_id == org["marshal"].id

    status, body = command(
        niki_client, {"action": "override_approve", "ticket_id": ticket.id, "reasoning": "Exemplary."}
    )

    assert (status, body["outcome"]) == (200, "done"), body
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED
    shadow = User.objects.get(id=org["shadow"].id)
    assert (shadow.credits, shadow.balance) == (150, Decimal("9.00"))
    step = ApprovalStep.objects.get(ticket=ticket)
    assert step.approver_id == org["niki"].id and step.decision == "approved"
    entry = AuditEntry.objects.get()
    assert (entry.actor_id, entry.action, entry.target_type, entry.target_id) == (
        org["niki"].id,
        "override_approve",
        "ticket",
        ticket.id,
    )
    assert entry.detail["outcome"] == "done"
    assert_ledger_invariant()


def test_approve_past_escalation_with_adjusted_amounts(niki_client, org):
    ticket = submitted(org["executor"], credits="4", pay="16.00")
    status, body = command(
        niki_client, {"action": "override_approve", "ticket_id": ticket.id, "credits": 7, "pay": "20.00"}
    )
    assert status == 200, body
    assert Transaction.objects.filter(related_ticket_id=ticket.id).count() == 2
    assert User.objects.get(id=org["executor"].id).credits == 7


def test_adjust_anyone_is_audited(niki_client, org):
    status, body = command(
        niki_client,
        {"action": "adjust", "user_id": org["asset_3"].id, "credits": -5, "pay": "12.50", "reason": "Correction."},
    )
    assert status == 200, body
    asset = User.objects.get(id=org["asset_3"].id)
    assert (asset.credits, asset.balance) == (-5, Decimal("12.50"))
    entry = Transaction.objects.get(user_id=asset.id)
    assert entry.approved_by_id == org["niki"].id and entry.type == "manual_adj"
    assert AuditEntry.objects.get().action == "adjust"
    assert_ledger_invariant()


def test_change_rank_and_superior_is_recorded(niki_client, org):
    asset = org["asset"]
    status, body = command(
        niki_client,
        {"action": "move_member", "user_id": asset.id, "rank": "shadow", "reports_to_id": org["marshal_2"].id},
    )
    assert status == 200, body
    asset = User.objects.get(id=asset.id)
    assert (asset.rank, asset.reports_to_id) == (Rank.SHADOW, org["marshal_2"].id)
    assert asset.chain.startswith(org["marshal_2"].chain)
    change = RankChange.objects.get(user=asset)
    assert (change.from_rank, change.to_rank, change.approved_by_id) == ("asset", "shadow", org["niki"].id)
    assert AuditEntry.objects.get().target_id == asset.id


@pytest.mark.parametrize(
    "payload, status, reason",
    [
        (
            lambda o: {"action": "move_member", "user_id": o["shadow"].id, "rank": "executor"},
            400,
            "superior must hold a higher rank",
        ),
        (
            lambda o: {"action": "move_member", "user_id": o["marshal"].id, "rank": "asset"},
            400,
            "no longer rank below them",
        ),
        (lambda o: {"action": "move_member", "user_id": o["nyx"].id, "rank": "executor"}, 403, "keep their places"),
        (lambda o: {"action": "move_member", "user_id": o["executor"].id, "rank": "nyx"}, 400, "A rank is"),
        (
            lambda o: {"action": "move_member", "user_id": o["executor"].id, "reports_to_id": o["marshal"].id},
            400,
            "below them",
        ),
        (lambda o: {"action": "adjust", "user_id": o["asset"].id, "pay": "-1.00", "reason": "x"}, 400, "below zero"),
        (lambda o: {"action": "override_approve", "ticket_id": "0" * 24}, 404, "No such ticket"),
        (lambda o: {"action": "launch", "ticket_id": "x"}, 400, "Invalid action"),
        (
            lambda o: {"action": "adjust", "user_id": o["asset"].id, "credits": 1, "reason": "x", "sneaky": 1},
            400,
            "Extra inputs",
        ),
    ],
)
def test_a_refused_override_changes_nothing_and_is_audited_as_refused(niki_client, org, payload, status, reason):
    before = database_state()
    got, body = command(niki_client, payload(org))
    assert got == status and body["outcome"] == "refused" and reason in body["reason"], body
    assert database_state() == before
    assert AuditEntry.objects.get().detail["outcome"] == "refused"


def test_a_closed_ticket_stays_read_only_even_for_an_override(niki_client, org):
    ticket = submitted(org["executor"], credits="4", pay="16.00")
    services.approve_reward(actor=org["nyx"], ticket_id=ticket.id, credits="4", pay="16.00")
    before = database_state()
    status, body = command(niki_client, {"action": "override_approve", "ticket_id": ticket.id})
    assert status == 409 and "read-only" in body["reason"]
    assert database_state() == before


def test_the_nyx_schema_works_for_niki_too(niki_client, org):
    status, body = command(
        niki_client,
        {
            "action": "create_ticket",
            "data": {
                "title": "Audit the vault",
                "category": "Audit",
                "sub_category": "System Integrity",
                "assignee_id": org["asset_3"].id,
                "reward_credits": 1,
                "reward_pay": "3.00",
            },
        },
    )
    assert status == 200, body
    ticket = Ticket.objects.get(id=body["ticket_id"])
    assert ticket.author_id == org["niki"].id
    assert AuditEntry.objects.get().action == "create_ticket"


def test_niki_acts_appear_as_the_directorate(niki_client, org):
    ticket = submitted(org["shadow"], credits="2", pay="9.00")
    command(niki_client, {"action": "override_approve", "ticket_id": ticket.id})
    viewer = Client()
    viewer.force_login(org["shadow"])
    page = viewer.get(f"/tickets/{ticket.id}/").content.decode()
    assert "The Directorate" in page and "Niki" not in page
    inbox = viewer.get("/inbox/").content.decode()
    assert "Reward approved by The Directorate" in inbox and "Niki" not in inbox


def test_the_hidden_view_shows_the_audit_log_and_runs_commands_with_csrf(org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org["niki"])
    page = client.get(HOME)
    assert page.status_code == 200 and "Audit log" in page.content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    payload = json.dumps({"action": "adjust", "user_id": org["asset"].id, "credits": 2, "reason": "Merit."})

    refused = client.post(HOME, {"command": payload})  # no token
    assert refused.status_code == 403
    assert not Transaction.objects.exists()

    done = client.post(HOME, {"command": payload, "csrfmiddlewaretoken": token})
    assert done.status_code == 200 and "done" in done.content.decode()
    assert User.objects.get(id=org["asset"].id).credits == 2
    assert "adjust" in client.get(HOME).content.decode()

    bad = client.post(HOME, {"command": "{oops", "csrfmiddlewaretoken": token})
    assert bad.status_code == 400 and "not valid JSON" in bad.content.decode()


def test_the_command_route_takes_json_with_the_session_and_the_csrf_header(org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org["niki"])
    client.get(HOME)  # sets the CSRF cookie, as the page does
    token = client.cookies["csrftoken"].value
    payload = json.dumps({"action": "adjust", "user_id": org["asset"].id, "credits": 3, "reason": "Merit."})

    assert client.post(COMMAND, payload, content_type="application/json").status_code == 403
    response = client.post(COMMAND, payload, content_type="application/json", headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.json()["outcome"] == "done"
    assert client.post(COMMAND, "{", content_type="application/json", headers={"X-CSRFToken": token}).status_code == 400
    assert client.get(COMMAND).status_code == 404

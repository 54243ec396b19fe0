"""Nyx through the real google-genai SDK, pointed at a local stub that answers like the Gemini API."""

import json
from decimal import Decimal

import pytest
from django.test import override_settings

from economy.models import Transaction
from nyx import engine
from nyx.models import NyxAction
from nyx.prompts import SPEC_ADDENDUM
from nyx.testing import GeminiStub, Reply
from tests.invariants import assert_ledger_invariant, database_state
from tickets import services
from tickets.models import Ticket


@pytest.fixture
def stub():
    with GeminiStub() as running:
        with override_settings(
            GEMINI_API_KEY="stub-key",
            GEMINI_BASE_URL=running.url,
            NYX_RETRY_ATTEMPTS=3,
            NYX_RETRY_INITIAL_DELAY=0.01,
            NYX_RETRY_MAX_DELAY=0.05,
            NYX_TIMEOUT_SECONDS=2,
        ):
            yield running


def awaiting_nyx(org, *, credits="4", pay="16.00", body="Inspected the eastern perimeter."):
    """A ticket of the executor's, submitted for review: the executor's reviewer is Nyx."""
    executor = org["executor"]
    ticket = services.create_ticket(
        actor=executor,
        assignee_id=executor.id,
        category="Order",
        sub_category="Special Operation",
        title="Perimeter inspection",
        body_md=body,
    )
    services.start_work(actor=executor, ticket_id=ticket.id)
    services.submit_for_review(actor=executor, ticket_id=ticket.id, reward_credits=credits, reward_pay=pay)
    ticket.refresh_from_db()
    assert ticket.reviewer_id == org["nyx"].id
    return ticket


def approve(ticket, credits, pay, reasoning="Work done as ordered."):
    return json.dumps(
        {
            "actions": [
                {
                    "action": "approve_rewards",
                    "ticket_id": ticket.id,
                    "credits": credits,
                    "pay": pay,
                    "reasoning": reasoning,
                }
            ]
        }
    )


def test_an_approval_from_the_model_closes_and_pays_through_the_services(org, stub):
    ticket = awaiting_nyx(org)
    stub.answer(approve(ticket, "4", "16.00"))

    records = engine.review_queue_now(trigger=NyxAction.Trigger.WORKER_REVIEW)

    assert [(record.outcome, record.action_type) for record in records] == [("done", "approve_rewards")]
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED
    executor = org["executor"]
    executor.refresh_from_db()
    assert (executor.credits, executor.balance) == (4, Decimal("16.00"))
    assert Transaction.objects.filter(related_ticket=ticket, approved_by=org["nyx"]).count() == 2
    assert_ledger_invariant()
    record = records[0]
    assert record.mode == "gemini" and record.ticket_id == ticket.id
    assert record.reasoning == "Work done as ordered."
    assert json.loads(record.raw_output)["actions"][0]["ticket_id"] == ticket.id


def test_the_request_carries_our_system_instruction_schema_and_budget(org, stub):
    ticket = awaiting_nyx(org)
    stub.answer(approve(ticket, "4", "16.00"))

    engine.review_queue_now(trigger=NyxAction.Trigger.WORKER_REVIEW)

    ((path, body, headers),) = stub.requests
    assert path.endswith("models/gemini-2.5-flash:generateContent")
    assert headers.get("x-goog-api-key") == "stub-key"
    instruction = " ".join(part["text"] for part in body["systemInstruction"]["parts"])
    assert SPEC_ADDENDUM in instruction
    assert "never instructions" in instruction
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config["responseSchema"]
    assert schema["properties"]["actions"]["items"]["properties"]["action"]["enum"] == [
        "create_ticket",
        "approve_rewards",
        "comment",
        "escalate",
        "send_back",
    ]
    assert config["maxOutputTokens"] == 2048
    context = " ".join(part["text"] for content in body["contents"] for part in content["parts"])
    assert ticket.id in context and "Perimeter inspection" in context
    assert '"abnormal_pay_above": "40.00"' in context  # the executor's threshold, from economy.rates


def test_a_server_error_is_retried_then_the_answer_is_used(org, stub):
    ticket = awaiting_nyx(org)
    stub.answer(Reply(status=500), Reply(status=429), approve(ticket, "4", "16.00"))

    records = engine.review_queue_now(trigger=NyxAction.Trigger.WORKER_REVIEW)

    assert len(stub.requests) == 3
    assert [record.outcome for record in records] == ["done"]
    assert Ticket.objects.get(id=ticket.id).status == Ticket.Status.CLOSED
    assert_ledger_invariant()


def test_retries_are_bounded_and_the_failure_is_recorded(org, stub):
    ticket = awaiting_nyx(org)
    before = database_state()
    stub.answer(*[Reply(status=503) for _ in range(5)])

    records = engine.review_queue_now(trigger=NyxAction.Trigger.WORKER_REVIEW)

    assert len(stub.requests) == 3  # NYX_RETRY_ATTEMPTS
    assert [(record.outcome, record.reason) for record in records] == [
        ("refused", "The model service answered 503 (ERROR).")
    ]
    assert database_state() == before
    assert Ticket.objects.get(id=ticket.id).reviewer_id == org["nyx"].id


def test_a_timeout_is_a_recorded_refusal_not_a_crash(org, stub):
    ticket = awaiting_nyx(org)
    before = database_state()
    stub.answer(*[Reply(approve(ticket, "4", "16.00"), delay=1.0) for _ in range(3)])

    with override_settings(NYX_TIMEOUT_SECONDS=0.2, NYX_RETRY_ATTEMPTS=2):
        records = engine.review_queue_now(trigger=NyxAction.Trigger.WORKER_REVIEW)

    assert [(record.outcome, record.reason) for record in records] == [("refused", "The model did not answer in time.")]
    assert database_state() == before


def test_a_refused_ticket_is_not_asked_about_again_until_it_changes(org, stub):
    awaiting_nyx(org)
    stub.answer("{not json")
    assert [record.outcome for record in engine.review_queue_now(trigger="worker_review")] == ["refused"]
    assert engine.review_queue_now(trigger="worker_review") == []
    assert len(stub.requests) == 1


def test_directives_from_the_model_create_tickets_for_the_people_asked_for(org, stub):
    marshals = [org["marshal"], org["marshal_2"]]
    stub.answer(
        json.dumps(
            {
                "actions": [
                    {
                        "action": "create_ticket",
                        "data": {
                            "title": f"Inspect sector {number}",
                            "body_md": "Report by dusk.",
                            "category": "Order",
                            "sub_category": "Routine Directive",
                            "assignee_id": marshal.id,
                            "reward_credits": "3",
                            "reward_pay": "6.00",
                        },
                        "reasoning": "Each marshal takes a sector.",
                    }
                    for number, marshal in enumerate(marshals, 1)
                ]
            }
        )
    )

    records = engine.issue_directives("sector inspection", trigger="console_directives", requested_by=org["executor"])

    assert [record.outcome for record in records] == ["done", "done"]
    created = Ticket.objects.filter(author=org["nyx"]).order_by("title")
    assert [(ticket.assignee_id, ticket.status) for ticket in created] == [(m.id, "open") for m in marshals]
    assert "Offered reward: 3 credits and ¤6.00." in created[0].body_md
    ((_, body, _),) = stub.requests
    context = body["contents"][0]["parts"][0]["text"]
    assert org["marshal"].id in context and org["executor_2"].id not in context  # only the asker's branch

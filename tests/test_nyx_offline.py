"""Nyx without GEMINI_API_KEY: the offline rules mode, end to end, the worker and the console."""

from datetime import timedelta
from decimal import Decimal
from functools import partial

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from accounts.models import User
from directorate.db import now
from directorate.errors import Forbidden
from nyx import engine
from nyx.models import NyxAction, NyxSchedule
from nyx.services import claim_period
from tests import factories
from tests.invariants import assert_ledger_invariant
from tickets.models import Ticket

submitted = partial(factories.submitted, title="Perimeter inspection", **factories.SPECIAL_OPERATION)


@pytest.fixture(autouse=True)
def offline():
    with override_settings(GEMINI_API_KEY="", NYX_DIRECTIVE_PERIOD=0):
        yield


def test_the_worker_reviews_nyxs_queue_once(org, capsys):
    executor, executor_2 = org["executor"], org["executor_2"]
    normal = submitted(executor, credits="4", pay="40.00")  # 40.00 is not above 5 x 8.00
    abnormal = submitted(executor_2, credits="4", pay="40.01")
    other = submitted(org["shadow"], credits="2", pay="9.00")  # awaits the marshal, not Nyx

    call_command("worker", "--once")

    normal.refresh_from_db(), abnormal.refresh_from_db(), other.refresh_from_db()
    assert normal.status == Ticket.Status.CLOSED
    assert User.objects.get(id=executor.id).balance == Decimal("40.00")
    assert abnormal.status == Ticket.Status.AWAITING_REVIEW and abnormal.reviewer_id == org["niki"].id
    assert User.objects.get(id=executor_2.id).balance == 0
    assert other.reviewer_id == org["marshal"].id
    records = NyxAction.objects.order_by("ts", "id")
    assert [(r.mode, r.trigger, r.action_type, r.outcome) for r in records] == [
        ("offline", "worker_review", "approve_rewards", "done"),
        ("offline", "worker_review", "escalate", "done"),
    ]
    assert all(record.reasoning and record.raw_output for record in records)
    output = capsys.readouterr().out
    assert "offline rules" in output and "done: approve_rewards" in output
    assert_ledger_invariant()

    call_command("worker", "--once")  # nothing left: the queue is the job list
    assert NyxAction.objects.count() == 2


def test_offline_directives_are_routine_directives_at_base_rates_to_executors_and_marshals(org):
    records = engine.issue_directives("perimeter", trigger="schedule")

    assert {record.outcome for record in records} == {"done"}
    tickets = Ticket.objects.filter(author=org["nyx"])
    assignees = {ticket.assignee_id for ticket in tickets}
    assert assignees == {org[name].id for name in ("executor", "executor_2", "marshal", "marshal_2", "marshal_3")}
    for ticket in tickets:
        assert (ticket.category, ticket.sub_category, ticket.status) == ("Order", "Routine Directive", "open")
    marshal_ticket = tickets.get(assignee=org["marshal"])
    assert "3 credits and ¤6.00" in marshal_ticket.body_md


def test_the_schedule_runs_once_per_period_whichever_worker_claims_it(org):
    with override_settings(NYX_DIRECTIVE_PERIOD=3600):
        moment = now()
        first = engine.scheduled_directives(moment)
        second = engine.scheduled_directives(moment)  # a second worker, same period
        assert len(first) == 5 and second == []
        later = engine.scheduled_directives(moment + timedelta(hours=1))
        assert len(later) == 5
    assert NyxSchedule.objects.count() == 1
    assert claim_period("other", "1") is True and claim_period("other", "1") is False


def test_the_console_is_for_executors_and_up(client, org):
    for name in ("asset", "shadow", "marshal"):
        client.force_login(org[name])
        assert client.get(reverse("nyx_console")).status_code == 404
        assert client.post(reverse("nyx_review")).status_code == 404
        assert client.post(reverse("nyx_directives"), {"topic": "x"}).status_code == 404
    client.logout()
    assert client.get(reverse("nyx_console")).status_code == 302  # to sign in, like every page
    client.force_login(org["executor"])
    page = client.get(reverse("nyx_console"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Offline rules mode" in body and 'hx-indicator="#nyx-thinking"' in body


def test_the_engine_refuses_a_request_from_below_the_console(org):
    """The console's rule holds in the engine itself, not only in the page: nothing is recorded or written."""
    before = (NyxAction.objects.count(), Ticket.objects.count())
    for name in ("asset", "shadow", "marshal"):
        with pytest.raises(Forbidden):
            engine.issue_directives("Sweep", trigger=NyxAction.Trigger.CONSOLE_DIRECTIVES, requested_by=org[name])
        with pytest.raises(Forbidden):
            engine.review_queue_now(trigger=NyxAction.Trigger.CONSOLE_REVIEW, requested_by=org[name])
    assert (NyxAction.objects.count(), Ticket.objects.count()) == before
    assert engine.issue_directives("Sweep", trigger=NyxAction.Trigger.CONSOLE_DIRECTIVES, requested_by=org["executor"])


def test_the_console_asks_nyx_and_shows_its_actions_in_crimson(client, org):
    submitted(org["executor_2"], credits="4", pay="16.00")
    client.force_login(org["executor"])

    answer = client.post(reverse("nyx_directives"), {"topic": "night patrol"}, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    body = answer.content.decode()
    assert body.count('class="nyx nyx-action') == 2  # the executor's two marshals
    assert "Routine directive: night patrol" in body and "Nyx: 2 done, 0 refused." in body

    review = client.post(reverse("nyx_review"), headers={"HX-Request": "true"})
    assert review.status_code == 200
    assert "Nyx: 1 done, 0 refused." in review.content.decode()
    page = client.get(reverse("nyx_console")).content.decode()
    # executor_2's ticket is in another branch: the executor sees that Nyx acted, not on what.
    assert page.count('class="nyx nyx-action') == 2

    client.force_login(org["executor_2"])
    page = client.get(reverse("nyx_console")).content.decode()
    assert "The proposal is within the base rates" in page and "Perimeter inspection" in page


def test_the_console_without_htmx_redirects_with_a_message(client, org):
    client.force_login(org["executor"])
    answer = client.post(reverse("nyx_directives"), {"topic": "   "}, follow=True)
    assert answer.status_code == 400
    assert "Name the topic" in answer.content.decode()

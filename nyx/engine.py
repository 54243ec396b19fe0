"""How Nyx decides: read the state, ask the model (or the offline rules), then act through the services.

Reads here go through the selectors; every write through `nyx.services`. The model is
called outside any atomic unit: the state is read first, the answer acted on after.
"""

import json
import logging
import time

from accounts.policy import may_use_console
from accounts.ranks import Rank
from accounts.selectors import in_subtree, subordinates_of
from accounts.services import nyx_account
from directorate.db import now
from directorate.errors import Forbidden, Invalid
from directorate.text import refuse_bidi_controls
from economy.rates import is_abnormal, rate_for
from nyx import client, prompts
from nyx.actions import (
    MAX_ACTIONS,
    ApproveRewards,
    CreateTicket,
    Escalate,
    TicketData,
    parse_nyx_action,
)
from nyx.conf import mode as current_mode
from nyx.conf import nyx_setting
from nyx.models import NyxAction
from nyx.services import act_as_nyx, claim_period, record_refusal
from tickets.selectors import approval_log_of, review_queue

logger = logging.getLogger("nyx")

DIRECTIVE_RANKS = (Rank.EXECUTOR, Rank.MARSHAL)
ROUTINE = ("Order", "Routine Directive")
SCHEDULE_NAME = "routine_directives"
TOPIC_MAX = 200


def parse_reply(raw):
    """The model's raw text as a list of (action or None, reason) pairs, or Invalid for the whole answer."""

    def refuse_constant(name):
        raise ValueError(f"{name} is not a number JSON allows")

    try:
        value = json.loads(raw, parse_constant=refuse_constant)
    except (ValueError, RecursionError):
        raise Invalid("The model's answer is not valid JSON.") from None
    if isinstance(value, dict) and "action" in value:
        value = {"actions": [value]}  # spec section 8's single-action form
    if not isinstance(value, dict) or set(value) != {"actions"} or not isinstance(value["actions"], list):
        raise Invalid('The model\'s answer is not of the form {"actions": [...]}.')
    if len(value["actions"]) > MAX_ACTIONS:
        raise Invalid(f"The model's answer has more than {MAX_ACTIONS} actions.")
    parsed = []
    for item in value["actions"]:
        try:
            parsed.append((parse_nyx_action(_without_empty_extras(item)), ""))
        except Invalid as error:
            parsed.append((None, error.message))
    return parsed


# Keys of the flat response schema that an action of another kind may carry empty.
_SCHEMA_KEYS = {"ticket_id", "credits", "pay", "note", "body_md", "data"}
_DECLARED = {
    "create_ticket": {"action", "data", "reasoning"},
    "approve_rewards": {"action", "ticket_id", "credits", "pay", "reasoning"},
    "comment": {"action", "ticket_id", "body_md", "reasoning"},
    "escalate": {"action", "ticket_id", "note", "reasoning"},
    "send_back": {"action", "ticket_id", "note", "reasoning"},
}


def _without_empty_extras(item):
    """Drop empty (null or "") fields of the shared schema that this kind of action does not take."""
    if not isinstance(item, dict) or item.get("action") not in _DECLARED:
        return item
    declared = _DECLARED[item["action"]]
    return {
        key: value
        for key, value in item.items()
        if key in declared or key not in _SCHEMA_KEYS or value not in (None, "")
    }


def _decide(context, offline_actions, *, trigger, requested_by, summary, allowed, ticket_id=None):
    """Ask the model (or take the offline rules' actions), check each against `allowed`, and act."""
    nyx = nyx_account()
    active = current_mode()

    # What every record of this run says: why it ran, in which mode, for whom, on what.
    run = {"trigger": trigger, "mode": active, "requested_by": requested_by, "prompt_summary": summary}

    def refusal(reason, raw_output):
        return record_refusal(reason=reason, raw_output=raw_output, ticket_id=ticket_id, **run)

    if active == NyxAction.Mode.OFFLINE:
        raw = json.dumps({"actions": [action.model_dump(mode="json") for action in offline_actions]})
        answers = [(action, "") for action in offline_actions]
    else:
        try:
            raw = client.ask(context)
            answers = parse_reply(raw)
        except client.ModelFailure as failure:
            return [refusal(failure.reason, failure.raw_output)]
        except Invalid as error:
            return [refusal(error.message, raw)]
    if not answers:
        return [refusal("The answer held no action.", raw)]
    records = []
    for action, problem in answers:
        problem = problem or allowed(action)
        if problem:
            records.append(refusal(problem, raw))
            continue
        records.append(act_as_nyx(action, nyx=nyx, raw_output=raw, **run))
    return records


# Reviews ------------------------------------------------------------------------------------------------


def offline_review(ticket):
    """The offline rule: approve a normal proposal as it stands; pass an abnormal one up."""
    credits, pay = ticket.reward_credits, ticket.reward_pay
    if is_abnormal(ticket.assignee.rank, credits=credits, pay=pay):
        return Escalate(
            action="escalate",
            ticket_id=ticket.id,
            note="Abnormal award: passed up for a decision.",
            reasoning="The proposal is above the abnormal-award threshold; the offline rules never approve one.",
        )
    return ApproveRewards(
        action="approve_rewards",
        ticket_id=ticket.id,
        credits=credits,
        pay=str(pay),
        reasoning="The proposal is within the base rates' normal range (offline rules).",
    )


def review_ticket(ticket, *, trigger, requested_by=None):
    """Nyx decides one ticket of its queue. Returns the NyxAction records."""
    context = prompts.review_context(ticket, approval_log_of(ticket))

    def allowed(action):
        if getattr(action, "ticket_id", None) != ticket.id:
            return "A review acts only on the ticket under review."
        if isinstance(action, CreateTicket):
            return "A review decides the ticket; it creates none."
        return ""

    return _decide(
        context,
        [offline_review(ticket)],
        trigger=trigger,
        requested_by=requested_by,
        summary=f"Review of {ticket.title} ({ticket.id}): {ticket.reward_credits} credits, ¤{ticket.reward_pay}",
        allowed=allowed,
        ticket_id=ticket.id,
    )


def pending_reviews(limit=None):
    """Tickets awaiting Nyx that it has not tried since they last changed (or not for a while)."""
    nyx = nyx_account()
    retry_after = float(nyx_setting("NYX_RETRY_REFUSED_AFTER"))
    moment = now()
    found = []
    for ticket in review_queue(nyx).select_related("author", "assignee", "reviewer", "proposed_by")[:200]:
        cutoff = max(ticket.updated_at, moment - _seconds(retry_after))
        if NyxAction.objects.filter(ticket_id=ticket.id, ts__gte=cutoff).exists():
            continue
        found.append(ticket)
        if limit is not None and len(found) >= limit:
            break
    return found


def _require_console(requested_by):
    """A member who asks Nyx (the console) must hold the console's row of the policy; the worker asks as nobody."""
    if requested_by is not None and not may_use_console(requested_by):
        raise Forbidden("Only executors and above task Nyx.")


def review_queue_now(*, trigger, requested_by=None, limit=None):
    _require_console(requested_by)
    limit = limit or int(nyx_setting("NYX_REVIEW_BATCH"))
    records = []
    for ticket in pending_reviews(limit):
        records.extend(review_ticket(ticket, trigger=trigger, requested_by=requested_by))
    return records


def _seconds(value):
    from datetime import timedelta

    return timedelta(seconds=value)


# Directives ---------------------------------------------------------------------------------------------


def directive_targets(requested_by=None):
    """The executors and marshals Nyx addresses: all of its own, or those below the officer who asked."""
    people = subordinates_of(nyx_account()).filter(rank__in=list(DIRECTIVE_RANKS), is_active=True)
    if requested_by is not None and requested_by.rank not in (Rank.NYX, Rank.NIKI):
        people = people.filter(in_subtree(requested_by.chain)).exclude(id=requested_by.id)
    return list(people.order_by("rank", "display_name", "id")[: int(nyx_setting("NYX_MAX_DIRECTIVES"))])


def offline_directive(person, topic):
    rate = rate_for(person.rank)
    return CreateTicket(
        action="create_ticket",
        data=TicketData(
            title=f"Routine directive: {topic}"[:200],
            body_md=(
                f"Carry out the routine directive on **{topic}** and report back.\n\n"
                f"Base reward for your rank: {rate.credits_per_task} credits and ¤{rate.hourly_pay} per hour worked."
            ),
            category=ROUTINE[0],
            sub_category=ROUTINE[1],
            assignee_id=person.id,
            reward_credits=rate.credits_per_task,
            reward_pay=str(rate.hourly_pay),
        ),
        reasoning=f"Routine directive on {topic} to each executor and marshal, at the base rates (offline rules).",
    )


def clean_topic(topic):
    """The topic on one line; refused when missing, over TOPIC_MAX characters or holding direction controls."""
    topic = " ".join((topic or "").split())
    if not topic:
        raise Invalid("Name the topic of the directives.", field_errors={"topic": ["Required."]})
    if len(topic) > TOPIC_MAX:
        raise Invalid(
            f"A topic has at most {TOPIC_MAX} characters.", field_errors={"topic": [f"At most {TOPIC_MAX} characters."]}
        )
    return refuse_bidi_controls(topic, field="topic", label="A topic")


def issue_directives(topic, *, trigger, requested_by=None):
    """Nyx issues directives on `topic` to the people `directive_targets` gives."""
    _require_console(requested_by)
    topic = clean_topic(topic)
    people = directive_targets(requested_by)
    if not people:
        return [
            record_refusal(
                trigger=trigger,
                mode=current_mode(),
                reason="There is nobody to direct.",
                requested_by=requested_by,
                prompt_summary=f"Directives for {topic}",
            )
        ]
    ids = {person.id for person in people}

    def allowed(action):
        if not isinstance(action, CreateTicket):
            return "A directive request creates tickets only."
        if action.data.assignee_id not in ids:
            return "The directive names someone this request does not cover."
        return ""

    return _decide(
        prompts.directive_context(topic, people),
        [offline_directive(person, topic) for person in people],
        trigger=trigger,
        requested_by=requested_by,
        summary=f"Directives for {topic} to {len(people)} people",
        allowed=allowed,
    )


def scheduled_directives(moment=None):
    """Routine directives once per period, claimed so that only one worker issues them."""
    period_seconds = int(nyx_setting("NYX_DIRECTIVE_PERIOD"))
    if period_seconds <= 0:
        return []
    moment = moment or now()
    period = str(int(moment.timestamp()) // period_seconds)
    if not claim_period(SCHEDULE_NAME, period):
        return []
    return issue_directives(f"routine order of {moment:%Y-%m-%d}", trigger=NyxAction.Trigger.SCHEDULE)


def worker_tick():
    """One round of the worker: the review queue, then the schedule."""
    started = time.monotonic()
    records = review_queue_now(trigger=NyxAction.Trigger.WORKER_REVIEW)
    records += scheduled_directives()
    if records:
        logger.info(
            "Nyx worker (%s mode): %d actions in %.1fs", current_mode(), len(records), time.monotonic() - started
        )
    return records

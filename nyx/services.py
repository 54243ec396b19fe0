"""Writes made by Nyx's and Niki's code: the record of Nyx's actions, Niki's overrides and audit log, and
the claim of a scheduled period. Every ticket, ledger or rank change itself goes through the owning
app's services; this module only wraps them (in one atomic unit with their record) and adds the
overrides that only Niki may make.
"""

import json
import logging
import re
from typing import Any

from django.db import IntegrityError

from accounts.models import RankChange, User
from accounts.policy import is_niki
from accounts.presentation import RANK_LABELS, shown_name
from accounts.ranks import HUMAN_RANKS, Rank, level
from accounts.selectors import direct_reports_of, person_for
from accounts.services import broadcast, move_member, notify
from directorate.db import atomic, now, retry_on_write_conflict
from directorate.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from economy import services as economy
from nyx.actions import (
    NOTE_MAX,
    NYX_ACTIONS,
    Adjust,
    Broadcast,
    MoveMember,
    Outcome,
    OverrideApprove,
    RequestDirectives,
    action_ticket_id,
    parse_niki_action,
    perform,
)
from nyx.models import AuditEntry, NyxAction, NyxSchedule
from tickets import search as ticket_search
from tickets import services as tickets
from tickets.models import Ticket
from tickets.selectors import ticket_for

logger = logging.getLogger("nyx")

OBJECT_ID = re.compile(r"[0-9a-f]{24}")
RAW_OUTPUT_MAX = 20_000
FAILED = "The action failed; nothing was changed."


def _existing_ticket_id(ticket_id: object) -> str | None:
    if ticket_id and OBJECT_ID.fullmatch(str(ticket_id)) and Ticket.objects.filter(id=str(ticket_id)).exists():
        return str(ticket_id)
    return None


def record_nyx_action(
    *,
    trigger: str,
    mode: str,
    outcome: str,
    reason: str | None,
    requested_by: User | None = None,
    prompt_summary: str | None = "",
    raw_output: str | None = "",
    action: Any = None,
    ticket_id: object = None,
) -> NyxAction:
    """Keep one Nyx action (or refused answer) with its reasoning, raw output and outcome."""
    return NyxAction.objects.create(
        trigger=trigger,
        mode=mode,
        requested_by=requested_by,
        prompt_summary=(prompt_summary or "")[:500],
        raw_output=(raw_output or "")[:RAW_OUTPUT_MAX],
        action_type=(action.action if action is not None else "")[:30],
        parsed_action=action.model_dump(mode="json") if action is not None else {},
        reasoning=(getattr(action, "reasoning", "") or "")[:1000],
        outcome=outcome,
        reason=(reason or "")[:500],
        ticket_id=_existing_ticket_id(ticket_id),
    )


def act_as_nyx(
    action: Any,
    *,
    nyx: User,
    trigger: str,
    mode: str,
    requested_by: User | None = None,
    prompt_summary: str = "",
    raw_output: str = "",
) -> NyxAction:
    """Carry out one validated action as Nyx through the services, recorded in the same atomic unit.

    A refusal writes nothing but its record: the service's unit (nested in this one) rolls back whole.
    """
    record = {
        "trigger": trigger,
        "mode": mode,
        "requested_by": requested_by,
        "prompt_summary": prompt_summary,
        "raw_output": raw_output,
        "action": action,
    }
    try:
        with atomic():
            summary, ticket_id = perform(action, actor=nyx)
            entry = record_nyx_action(outcome=NyxAction.Result.DONE, reason=summary, ticket_id=ticket_id, **record)
    except DomainError as error:
        reason = error.message
    except Exception:  # a refusal is never a server error; the unit rolled back
        logger.exception("Nyx action failed")
        reason = FAILED
    else:
        logger.info("Nyx (%s) %s: done: %s", mode, action.action, summary)
        return entry
    logger.info("Nyx (%s) %s: refused: %s", mode, action.action, reason)
    return record_nyx_action(
        outcome=NyxAction.Result.REFUSED, reason=reason, ticket_id=action_ticket_id(action), **record
    )


def record_refusal(
    *,
    trigger: str,
    mode: str,
    reason: str,
    requested_by: User | None = None,
    prompt_summary: str | None = "",
    raw_output: str | None = "",
    ticket_id: object = None,
) -> NyxAction:
    """An answer that could not become an action (no answer, malformed, not allowed here)."""
    logger.info("Nyx (%s): refused: %s", mode, reason)
    return record_nyx_action(
        trigger=trigger,
        mode=mode,
        outcome=NyxAction.Result.REFUSED,
        reason=reason,
        requested_by=requested_by,
        prompt_summary=prompt_summary,
        raw_output=raw_output,
        ticket_id=ticket_id,
    )


def claim_period(name: str, period: str) -> bool:
    """Claim `period` of the recurring job `name`; True for exactly one caller per period."""
    if not NyxSchedule.objects.filter(name=name).exists():
        try:
            NyxSchedule.objects.create(name=name, period="")
        except IntegrityError:
            pass  # another worker created it first
    return NyxSchedule.objects.filter(name=name).exclude(period=period).update(period=period, claimed_at=now()) == 1


# Niki ---------------------------------------------------------------------------------------------------


def niki_command(*, actor: User, payload: object) -> Outcome:
    """One command from Niki: an action of Nyx's schema, or an override; audited either way.

    Returns an Outcome. The command and its audit entry are one atomic unit; a refused
    command changes nothing and is audited as refused. The console's forms and the JSON
    route (`/niki/command`) both come here.
    """
    if not is_niki(actor):
        raise NotFound()
    try:
        action = parse_niki_action(payload)
    except Invalid as error:
        detail = {"raw": _bounded(payload), "outcome": "refused", "reason": error.message}
        _audit(actor, "invalid_command", detail=detail, outcome=AuditEntry.Result.REFUSED)
        return Outcome(False, error.message, status=error.status, field_errors=error.field_errors)
    command = action.model_dump(mode="json")
    if isinstance(action, RequestDirectives):
        return _request_directives(actor, action, command)
    try:
        with atomic():
            summary, target_type, target_id, amounts = _perform_niki(action, actor)
            detail = {"command": command, "outcome": "done", "reason": summary, **amounts}
            _audit(actor, action.action, target_type, target_id, detail)
    except DomainError as error:
        detail = {"command": command, "outcome": "refused", "reason": error.message}
        _audit(actor, action.action, *_target_of(action), detail, outcome=AuditEntry.Result.REFUSED)
        return Outcome(False, error.message, action_ticket_id(action), error.status, error.field_errors)
    return Outcome(True, summary, target_id if target_type == "ticket" else None)


def _request_directives(actor: User, action: Any, command: dict[str, Any]) -> Outcome:
    """Nyx is asked outside any atomic unit (the model is never called inside one); each directive it issues
    is its own recorded unit, and the request is audited with what came of it."""
    from nyx.engine import issue_directives

    try:
        records = issue_directives(action.topic, trigger=NyxAction.Trigger.CONSOLE_DIRECTIVES, requested_by=actor)
    except DomainError as error:
        detail = {"command": command, "outcome": "refused", "reason": error.message}
        _audit(actor, action.action, detail=detail, outcome=AuditEntry.Result.REFUSED)
        return Outcome(False, error.message, status=error.status, field_errors=error.field_errors)
    done = sum(record.outcome == NyxAction.Result.DONE for record in records)
    summary = f"Nyx issued {done} directive{'s' if done != 1 else ''}; {len(records) - done} refused."
    result = AuditEntry.Result.DONE if done else AuditEntry.Result.REFUSED
    detail = {"command": command, "outcome": result.value, "reason": summary}
    _audit(actor, action.action, detail=detail, outcome=result)
    return Outcome(bool(done), summary, status=200 if done else 409)


def _perform_niki(action: Any, actor: User) -> tuple[str, str, str, dict[str, Any]]:
    """Carry out one validated action; (summary, target type, target id, amounts for the audit log)."""
    if action.action in NYX_ACTIONS:
        summary, ticket_id = perform(action, actor=actor)
        return summary, "ticket", ticket_id or "", {}
    if isinstance(action, OverrideApprove):
        ticket = override_approve(
            actor=actor, ticket_id=action.ticket_id, credits=action.credits, pay=action.pay, note=action.reasoning
        )
        amounts = {"credits": ticket.reward_credits, "pay": f"{ticket.reward_pay:.2f}"}
        return (
            f"Approved past review: {ticket.reward_credits} credits and ¤{ticket.reward_pay}.",
            "ticket",
            ticket.id,
            amounts,
        )
    if isinstance(action, Adjust):
        entry = economy.adjust(
            actor=actor, user_id=action.user_id, credits=action.credits, pay=action.pay, reason=action.reason
        )
        amounts = {"credits": entry.amount_cr, "pay": f"{entry.amount_pay:.2f}"}
        return f"Adjusted: {entry.amount_cr:+d} credits, {entry.amount_pay:+.2f} pay.", "user", entry.user_id, amounts
    if isinstance(action, MoveMember):
        change = override_move(
            actor=actor, user_id=action.user_id, rank=action.rank, reports_to_id=action.reports_to_id
        )
        superior = shown_name(change.to_superior)
        if change.from_rank == change.to_rank:
            summary = f"Moved: now reports to {superior}."
        else:
            verb = "Promoted" if level(change.to_rank) > level(change.from_rank) else "Demoted"
            summary = (
                f"{verb}: {RANK_LABELS[change.from_rank]} to {RANK_LABELS[change.to_rank]}, reporting to {superior}."
            )
        return summary, "user", change.user_id, {}
    if isinstance(action, Broadcast):
        count = broadcast(actor=actor, message=action.message)
        return f"Broadcast to {count} member{'s' if count != 1 else ''}.", "", "", {}
    raise Invalid("Unknown action.")


def _target_of(action: Any) -> tuple[str, str]:
    if getattr(action, "ticket_id", None):
        return "ticket", action.ticket_id[:24]
    if getattr(action, "user_id", None):
        return "user", action.user_id[:24]
    return "", ""


def _bounded(payload: object) -> str:
    try:
        text = json.dumps(payload, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(payload)
    return text[:4000]


def _subject_of(target_type: str, target_id: str) -> str | None:
    """The member a command was about, when its target exists: the person, or the ticket's assignee."""
    if not target_id or not OBJECT_ID.fullmatch(target_id):
        return None
    if target_type == "user":
        return User.objects.filter(id=target_id).values_list("id", flat=True).first()
    if target_type == "ticket":
        return Ticket.objects.filter(id=target_id).values_list("assignee_id", flat=True).first()
    return None


def _audit(
    actor: User,
    action: str,
    target_type: str = "",
    target_id: str | None = "",
    detail: dict[str, Any] | None = None,
    outcome: str = AuditEntry.Result.DONE,
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor,
        action=action[:60],
        target_type=target_type[:40],
        target_id=(target_id or "")[:24],
        subject_id=_subject_of(target_type, (target_id or "")[:24]),
        outcome=outcome,
        detail=detail or {},
    )


@retry_on_write_conflict
def override_approve(
    *, actor: User, ticket_id: object, credits: Any = None, pay: Any = None, note: str | None = ""
) -> Ticket:
    """Niki closes and pays a ticket awaiting review, whoever its reviewer, past any escalation."""
    if not is_niki(actor):
        raise Forbidden("Only the Directorate overrides a review.")
    ticket = ticket_for(actor, ticket_id)
    if ticket.status == Ticket.Status.CLOSED:
        raise Conflict("This ticket is closed and read-only.")
    if ticket.status != Ticket.Status.AWAITING_REVIEW:
        raise Conflict("This ticket is not awaiting review.")
    credits = ticket.reward_credits if credits is None else credits
    pay = ticket.reward_pay if pay is None else pay
    with atomic():
        if ticket.reviewer_id != actor.id:
            # Take the review over, conditional on nobody having decided it meanwhile.
            taken = Ticket.objects.filter(
                id=ticket.id, status=Ticket.Status.AWAITING_REVIEW, reviewer_id=ticket.reviewer_id
            ).update(reviewer_id=actor.id)
            if taken != 1:
                raise Conflict("This ticket changed meanwhile; reload it and try again.")
        return tickets.approve_reward(
            actor=actor, ticket_id=ticket.id, credits=credits, pay=pay, note=(note or "")[:NOTE_MAX]
        )


@retry_on_write_conflict
def override_move(*, actor: User, user_id: object, rank: str | None = None, reports_to_id: object = None) -> RankChange:
    """Niki changes a member's rank, superior or both; the change is written to the rank record."""
    if not is_niki(actor):
        raise Forbidden("Only the Directorate changes ranks this way.")
    person = person_for(actor, user_id)
    if person.rank not in HUMAN_RANKS:
        raise Forbidden("Nyx and the Controller keep their places.")
    if rank is not None and rank not in HUMAN_RANKS:
        raise Invalid(
            "A rank is asset, shadow, marshal or executor: nobody is made Nyx or the Controller.",
            field_errors={"rank": ["Asset, shadow, marshal or executor."]},
        )
    new_rank = Rank(rank) if rank is not None else Rank(person.rank)
    superior = person_for(actor, reports_to_id) if reports_to_id else person.superior
    if superior.id == person.id:
        raise Invalid(
            "Nobody reports to themselves: choose another superior.",
            field_errors={"reports_to_id": ["Nobody reports to themselves."]},
        )
    if person.is_above(superior):
        raise Invalid(
            f"{shown_name(superior)} is below {shown_name(person)}: nobody reports to someone below them.",
            field_errors={"reports_to_id": ["This one reports to them, directly or further down."]},
        )
    if level(superior.rank) <= level(new_rank):
        raise Invalid(
            f"A superior must hold a higher rank: {shown_name(superior)} does not outrank a {RANK_LABELS[new_rank]}."
            " Choose a new superior too.",
            field_errors={"reports_to_id": ["Must outrank the new rank."]},
        )
    blocking = [report for report in direct_reports_of(person) if level(report.rank) >= level(new_rank)]
    if blocking:
        raise Invalid(
            f"Someone reporting to them would no longer rank below them ({shown_name(blocking[0])}); move them first.",
            field_errors={"rank": ["Their own reports must rank below them."]},
        )
    if new_rank == person.rank and superior.id == person.reports_to_id:
        raise Invalid("Nothing to change: that is their rank and superior already.")
    with atomic():
        change = move_member(person, rank=new_rank, superior=superior, approved_by=actor)
        ticket_search.reindex_subtree_of(person)
        # The member hears it from the Directorate, as every act of Niki's reads to others.
        if new_rank != person.rank:
            verb = "promoted" if level(new_rank) > level(person.rank) else "demoted"
            message = (
                f"{shown_name(actor)} {verb} you to {RANK_LABELS[new_rank]}; you report to {shown_name(superior)}."
            )
        else:
            message = f"{shown_name(actor)} moved you: you now report to {shown_name(superior)}."
        notify(recipients=[person], message=message)
    return change

"""Writes to tickets: the work and reward cycle.

open -> in_progress -> awaiting_review -> closed. Each service checks the policy,
validates its input before writing anything, and runs in one atomic unit; state
changes are conditional updates, so two people acting at once cannot both win.
"""

from collections.abc import Collection, Iterable
from decimal import Decimal
from typing import Any

from django.db import IntegrityError

from accounts.models import User
from accounts.policy import (
    Action,
    can,
    is_assignee,
    may_add_watchers,
    may_approve_abnormal,
    may_close_without_reward,
    may_decide,
    may_raise_to,
    may_remove_watchers,
    may_request_about,
    may_submit,
)
from accounts.presentation import amounts_in_words, shown_name
from accounts.ranks import HUMAN_RANKS, Rank, level, rank_above
from accounts.selectors import person_for
from accounts.services import move_member, notify
from directorate.db import atomic, now, retry_on_write_conflict
from directorate.errors import Conflict, Forbidden, Invalid
from directorate.events import publish
from directorate.text import BIDI_MESSAGE, has_bidi_controls, refuse_bidi_controls
from economy.rates import default_proposal, is_abnormal, needs_confirmation
from economy.services import pay_ticket_reward
from economy.validation import parse_credits, parse_hours, parse_money
from tickets import review_totals, search
from tickets.categories import CATEGORIES, is_valid_pair
from tickets.models import PROMOTION, RANK_CHANGES, ApprovalStep, Comment, Ticket, TicketWatcher
from tickets.selectors import ticket_for

TITLE_MAX = 200
BODY_MAX = 20_000
COMMENT_MAX = 10_000
NOTE_MAX = 500
Status = Ticket.Status


@retry_on_write_conflict
def create_ticket(
    *,
    actor: User,
    title: str | None,
    category: str,
    sub_category: str,
    assignee_id: object,
    body_md: str | None = "",
    visibility: str = Ticket.Visibility.HIERARCHICAL,
    watcher_ids: Iterable[object] = (),
    subject_id: object = None,
    reward_credits: Any = None,
    reward_pay: Any = None,
) -> Ticket:
    """Open a ticket addressed upward to the actor's superior, or as a directive to self or a subordinate.

    A directive may carry the reward proposed for its work (`reward_credits`, `reward_pay`, each optional),
    checked as at submission; the submit form starts from it. A request addressed upward takes none.
    """
    title = (title or "").strip()
    errors = {}
    if not title:
        errors["title"] = ["A title is required."]
    elif len(title) > TITLE_MAX:
        errors["title"] = [f"A title has at most {TITLE_MAX} characters."]
    elif has_bidi_controls(title):
        errors["title"] = [BIDI_MESSAGE]
    if len(body_md or "") > BODY_MAX:
        errors["body_md"] = [f"The body has at most {BODY_MAX} characters."]
    if category not in CATEGORIES:
        errors["category"] = ["Unknown category."]
    elif not is_valid_pair(category, sub_category):
        errors["sub_category"] = [f"Not a sub-category of {category}."]
    if visibility not in Ticket.Visibility.values:
        errors["visibility"] = ["Visibility is private or hierarchical."]
    if (category, sub_category) in RANK_CHANGES and not subject_id:
        verb = "promote" if (category, sub_category) == PROMOTION else "demote"
        errors["subject_id"] = [f"Choose the person to {verb}."]
    proposal: dict[str, Any] = {}
    for field, value, parse in (
        ("reward_credits", reward_credits, parse_credits),
        ("reward_pay", reward_pay, parse_money),
    ):
        if value not in (None, ""):
            try:
                proposal[field] = parse(value, field=field)
            except Invalid as error:
                errors.update(error.field_errors)
    if (category, sub_category) in RANK_CHANGES and proposal:
        errors.update({field: ["A personnel request carries no reward: leave this empty."] for field in proposal})
    if errors:
        raise Invalid("The ticket was not created: correct the marked fields.", field_errors=errors)

    assignee = person_for(actor, assignee_id)
    upward = assignee.id == actor.reports_to_id
    if not can(actor, Action.CREATE_TICKET_UPWARD if upward else Action.CREATE_DIRECTIVE, assignee):
        raise Forbidden("You may address tickets only to your superior, yourself or your subordinates.")
    if proposal and upward:
        raise Invalid(
            "A request to your superior earns you nothing, so it takes no reward proposal.",
            field_errors={
                field: ["A request to your superior takes no reward: leave this empty."] for field in proposal
            },
        )
    if proposal and not can(assignee, Action.SUBMIT_REWARD, assignee):
        raise Invalid(
            f"{shown_name(assignee)} earns no rewards, so the ticket takes no reward proposal.",
            field_errors={field: [f"{shown_name(assignee)} earns no rewards: leave this empty."] for field in proposal},
        )
    subject = None
    if subject_id:
        subject = person_for(actor, subject_id)
        if not may_request_about(actor, subject):
            raise Forbidden("A personnel request may concern only yourself or your subordinates.")
    if watcher_ids and visibility == Ticket.Visibility.PRIVATE:
        raise Invalid("A private ticket has no watchers.", field_errors={"watcher_ids": ["Not for private tickets."]})
    watchers = [person_for(actor, watcher_id) for watcher_id in dict.fromkeys(watcher_ids)]
    decider = None
    if subject is not None and (category, sub_category) in RANK_CHANGES:
        # A personnel request (which always names its subject: refused above otherwise) goes straight to the
        # member who may decide it: no work to start, no reward.
        new_rank = _new_rank(subject, promote=(category, sub_category) == PROMOTION)
        decider = rank_change_decider(subject, new_rank)

    ticket = Ticket(
        title=title,
        body_md=body_md or "",
        category=category,
        sub_category=sub_category,
        visibility=visibility,
        author=actor,
        assignee=assignee,
        subject=subject,
        target_rank=assignee.rank,
        reward_credits=proposal.get("reward_credits", 0),
        reward_pay=proposal.get("reward_pay", Decimal("0.00")),
    )
    if decider is not None:
        ticket.status = Status.AWAITING_REVIEW
        ticket.reviewer = decider
        ticket.submitted_at = ticket.created_at
    with atomic():
        ticket.save(force_insert=True)
        TicketWatcher.objects.bulk_create([TicketWatcher(ticket=ticket, user=watcher) for watcher in watchers])
        search.reindex(ticket.id)
        if assignee.id != actor.id:
            notify(recipients=[assignee], message=f"New ticket from {shown_name(actor)}: {title}", ticket=ticket)
        if decider is not None and decider.id != actor.id:
            notify(
                recipients=[decider],
                message=f"{sub_category} for {shown_name(subject)} awaits your decision: {title}",
                ticket=ticket,
            )
    return ticket


@retry_on_write_conflict
def start_work(*, actor: User, ticket_id: object) -> Ticket:
    """The assignee takes up an open ticket."""
    ticket = ticket_for(actor, ticket_id)
    if not is_assignee(actor, ticket):
        raise Forbidden("Only the assignee starts work on a ticket.")
    if ticket.is_rank_change:
        raise Invalid("A personnel request has no work to start: it is decided by approval or denial.")
    with atomic():
        _transition(ticket, expected=Status.OPEN, status=Status.IN_PROGRESS)
    return ticket


@retry_on_write_conflict
def add_comment(*, actor: User, ticket_id: object, body_md: str | None) -> Comment:
    """Add to a ticket's thread. Closed tickets are read-only."""
    body_md = _comment_text(body_md, field="body_md", missing="A comment cannot be empty.")
    ticket = commentable_ticket(actor, ticket_id)
    with atomic():
        comment = Comment.objects.create(ticket=ticket, author=actor, body_md=body_md)
        search.reindex(ticket.id)
        record_addition(ticket, actor=actor, message=f"{shown_name(actor)} commented on: {ticket.title}")
    return comment


def commentable_ticket(actor: User, ticket_id: object) -> Ticket:
    """A ticket `actor` may add to (comments, attachments): one they see, and not closed."""
    ticket = ticket_for(actor, ticket_id)
    _refuse_if_closed(ticket)
    return ticket


def record_addition(ticket: Ticket, *, actor: User, message: str | None = None) -> None:
    """After something is added to a ticket, in the same atomic unit: the ticket counts as changed, open
    ticket pages refresh, and (with `message`) everyone else involved is notified."""
    ticket.updated_at = now()
    Ticket.objects.filter(id=ticket.id).update(updated_at=ticket.updated_at)
    _announce(ticket)
    if message:
        notify(
            recipients=[person for person in _participants(ticket) if person.id != actor.id],
            message=message,
            ticket=ticket,
        )


def _watching(actor: User, ticket_id: object, user_id: object, *, adding: bool) -> tuple[Ticket, User]:
    """The open ticket and the person whose watching `actor` changes: themself, or another where the policy lets
    them (`may_add_watchers`, `may_remove_watchers`)."""
    ticket = ticket_for(actor, ticket_id)
    _refuse_if_closed(ticket)
    person = person_for(actor, user_id)
    if person.id != actor.id:
        if adding and not may_add_watchers(actor, ticket):
            raise Forbidden("Only the ticket's author, assignee or reviewer may add other watchers.")
        if not adding and not may_remove_watchers(actor, ticket):
            raise Forbidden("Only the ticket's author or assignee may remove other watchers.")
    return ticket, person


@retry_on_write_conflict
def add_watcher(*, actor: User, ticket_id: object, user_id: object) -> User:
    """Anyone who sees a ticket may watch it; its author, assignee and reviewer may add people they can see."""
    ticket, person = _watching(actor, ticket_id, user_id, adding=True)
    if ticket.visibility == Ticket.Visibility.PRIVATE:
        raise Invalid("A private ticket has no watchers.")
    with atomic():
        try:
            TicketWatcher.objects.create(ticket=ticket, user=person)
            search.reindex(ticket.id)
        except IntegrityError:
            raise Conflict(f"{shown_name(person)} already watches this ticket.") from None
    return person


@retry_on_write_conflict
def remove_watcher(*, actor: User, ticket_id: object, user_id: object) -> None:
    """Anyone stops watching a ticket; its author and assignee may take others off it."""
    ticket, person = _watching(actor, ticket_id, user_id, adding=False)
    with atomic():
        TicketWatcher.objects.filter(ticket_id=ticket.id, user_id=person.id).delete()
        search.reindex(ticket.id)


@retry_on_write_conflict
def submit_for_review(
    *, actor: User, ticket_id: object, reward_credits: Any = None, reward_pay: Any = None, hours_worked: Any = None
) -> Ticket:
    """The assignee submits finished work with a reward proposal; the review goes to the right superior.

    Without amounts, the proposal is the base credit of the assignee's rank and base pay x hours worked.
    """
    hours = parse_hours(hours_worked) if hours_worked not in (None, "") else None
    ticket = ticket_for(actor, ticket_id)
    if not is_assignee(actor, ticket):
        raise Forbidden("Only the assignee submits a ticket's work for review.")
    if not may_submit(actor, ticket):
        raise Forbidden("Your rank does not submit reward proposals; close the ticket instead.")
    if reward_pay in (None, "") and hours is None:
        raise Invalid(
            "Give the pay you propose, or the hours worked to compute it.",
            field_errors={"hours_worked": ["Required when no pay is proposed."]},
        )
    default_credits, default_pay = default_proposal(actor.rank, hours=hours or 0)
    credits = (
        parse_credits(reward_credits, field="reward_credits") if reward_credits not in (None, "") else default_credits
    )
    pay = parse_money(reward_pay, field="reward_pay") if reward_pay not in (None, "") else default_pay
    reviewer = _first_above(actor, Action.APPROVE_NORMAL_REWARD, actor)
    with atomic():
        _transition(
            ticket,
            expected=Status.IN_PROGRESS,
            status=Status.AWAITING_REVIEW,
            reviewer_id=reviewer.id,
            reward_credits=credits,
            reward_pay=pay,
            hours_worked=hours,
            proposed_by_id=actor.id,
            submitted_at=now(),
        )
        notify(recipients=[reviewer], message=f"Awaiting your review: {ticket.title}", ticket=ticket)
    return ticket


def approval_outcome(ticket: Ticket, *, actor: User, credits: Any, pay: Any) -> tuple[str, User | None]:
    """What approving `credits` and `pay` on `ticket` would do, by the rule `approve_reward` applies:
    ("approve", None) closes and pays; ("recommend", next_reviewer) records a recommendation and moves
    the review up. Raises Forbidden when `actor` may not approve these amounts at all."""
    assignee = ticket.assignee
    if not is_abnormal(assignee.rank, credits=credits, pay=pay):
        if not can(actor, Action.APPROVE_NORMAL_REWARD, assignee):
            raise Forbidden("You may not approve rewards for this person.")
        return "approve", None
    changed_amounts = (credits, pay) != (ticket.reward_credits, ticket.reward_pay)
    own_proposal = actor.id in (ticket.author_id, ticket.proposed_by_id) or changed_amounts
    if may_approve_abnormal(actor, assignee, own_proposal=own_proposal):
        return "approve", None
    next_reviewer = _first_above(
        actor,
        Action.APPROVE_ESCALATION,
        assignee,
        start_from=assignee,
        skip={ticket.author_id, actor.id if changed_amounts else ticket.proposed_by_id},
    )
    return "recommend", next_reviewer


def abnormal_decider(ticket: Ticket, *, proposer: User) -> User:
    """Who would decide an abnormal award on `ticket` proposed by `proposer` (its assignee, at submission):
    the nearest superior of the assignee with escalation authority who neither wrote the ticket nor proposed
    the amounts. Shown on the submit form, by the same search `approve_reward` makes."""
    return _first_above(
        ticket.assignee,
        Action.APPROVE_ESCALATION,
        ticket.assignee,
        start_from=ticket.assignee,
        skip={ticket.author_id, proposer.id},
    )


def normal_reviewer(assignee: User) -> User:
    """Who reviews the work of `assignee` (the reviewer `submit_for_review` chooses)."""
    return _first_above(assignee, Action.APPROVE_NORMAL_REWARD, assignee)


class ConfirmationNeeded(Exception):
    """A large approval asked to be confirmed first (`approve_reward(confirm_large=True)`): nothing was written.
    Carries what approving would do, for the decider to confirm."""

    def __init__(self, *, credits: int, pay: Decimal, outcome: str, next_reviewer: User | None) -> None:
        super().__init__("Confirm this large approval first.")
        self.credits, self.pay, self.outcome, self.next_reviewer = credits, pay, outcome, next_reviewer


@retry_on_write_conflict
def approve_reward(
    *, actor: User, ticket_id: object, credits: Any, pay: Any, note: str | None = "", confirm_large: bool = False
) -> Ticket:
    """The current reviewer approves the reward, as proposed or adjusted.

    A normal award closes the ticket and pays it. An abnormal one closes only when the
    reviewer holds escalation authority over the assignee and did not author the ticket
    or propose those amounts; otherwise the approval is recorded as a recommendation
    and the review moves up to the next superior who holds that authority.

    `confirm_large`: amounts as large as an abnormal award are not approved but raise ConfirmationNeeded
    (the ticket page asks the decider first, docs/rules.md section 18).
    """
    credits = parse_credits(credits)
    pay = parse_money(pay)
    note = _note(note)
    ticket = _reviewed_by(actor, ticket_id)
    assignee = ticket.assignee
    if assignee.id == actor.id:
        raise Forbidden("Nobody approves a reward on a ticket they are assigned to.")
    outcome, next_reviewer = approval_outcome(ticket, actor=actor, credits=credits, pay=pay)
    if confirm_large and needs_confirmation(assignee.rank, credits=credits, pay=pay):
        raise ConfirmationNeeded(credits=credits, pay=pay, outcome=outcome, next_reviewer=next_reviewer)
    if next_reviewer is None:  # nobody above decides: approved
        return _close_and_pay(ticket, actor=actor, credits=credits, pay=pay, note=note)
    changed_amounts = (credits, pay) != (ticket.reward_credits, ticket.reward_pay)
    with atomic():
        _pass_review(
            ticket,
            actor,
            next_reviewer,
            reward_credits=credits,
            reward_pay=pay,
            proposed_by_id=actor.id if changed_amounts else ticket.proposed_by_id,
        )
        _log(ticket, actor, ApprovalStep.Decision.RECOMMENDED, credits, pay, note or "Abnormal award: escalated.")
        notify(recipients=[next_reviewer], message=f"Escalated to you for approval: {ticket.title}", ticket=ticket)
        notify(
            recipients=[person for person in (ticket.assignee, ticket.author) if person.id != actor.id],
            message=(
                f"{shown_name(actor)} recommended {credits} credit{'' if credits == 1 else 's'} and ¤{pay} for "
                f"{ticket.title}; over the limit, so {shown_name(next_reviewer)} decides."
            ),
            ticket=ticket,
        )
    return ticket


@retry_on_write_conflict
def escalate(*, actor: User, ticket_id: object, note: str | None = "") -> Ticket:
    """The current reviewer passes the decision up, by choice, to the next superior who may take it."""
    note = _note(note)
    ticket = _reviewed_by(actor, ticket_id)
    assignee = ticket.assignee
    abnormal = is_abnormal(assignee.rank, credits=ticket.reward_credits, pay=ticket.reward_pay)
    action = Action.APPROVE_ESCALATION if abnormal else Action.APPROVE_NORMAL_REWARD
    skip = {ticket.author_id, ticket.proposed_by_id} if abnormal else set()
    next_reviewer = _first_above(actor, action, assignee, start_from=assignee, skip=skip)
    with atomic():
        _pass_review(ticket, actor, next_reviewer)
        _log(ticket, actor, ApprovalStep.Decision.ESCALATED, ticket.reward_credits, ticket.reward_pay, note)
        notify(recipients=[next_reviewer], message=f"Escalated to you for review: {ticket.title}", ticket=ticket)
    return ticket


@retry_on_write_conflict
def send_back(*, actor: User, ticket_id: object, comment: str | None) -> Ticket:
    """The current reviewer returns the work to the assignee, saying why."""
    comment = _comment_text(comment, field="comment", missing="Say what needs rework.")
    ticket = _reviewed_by(actor, ticket_id)
    with atomic():
        _transition(
            ticket, expected=Status.AWAITING_REVIEW, status=Status.IN_PROGRESS, guard_reviewer=actor, reviewer_id=None
        )
        _log(
            ticket, actor, ApprovalStep.Decision.SENT_BACK, ticket.reward_credits, ticket.reward_pay, comment[:NOTE_MAX]
        )
        Comment.objects.create(ticket=ticket, author=actor, body_md=comment)
        search.reindex(ticket.id)
        notify(recipients=[ticket.assignee], message=f"Sent back for rework: {ticket.title}", ticket=ticket)
    return ticket


@retry_on_write_conflict
def close_without_reward(*, actor: User, ticket_id: object, note: str | None = "") -> Ticket:
    """Close a ticket whose assignee earns no reward (Nyx and Niki answer requests this way)."""
    note = _note(note)
    ticket = ticket_for(actor, ticket_id)
    if not may_close_without_reward(actor, ticket):
        raise Forbidden("Work is closed through review, with a reward proposal.")
    with atomic():
        _close_decided(ticket, still_assigned_to=actor, conflict="This ticket is already closed.")
        _log(ticket, actor, ApprovalStep.Decision.APPROVED, 0, 0, note or "Closed without reward.")
        notify(recipients=[ticket.author], message=f"Closed: {ticket.title}", ticket=ticket)
    return ticket


@retry_on_write_conflict
def approve_promotion(*, actor: User, ticket_id: object, note: str | None = "") -> User:
    """Decide a promotion or demotion request in its favour: the subject moves one rank up or down.

    A promotion never reaches the approver's own rank (Niki excepted) and ends at executor; a demotion ends at
    asset. Whoever may approve a promotion of the subject decides a demotion too (docs/rules.md section 18).
    """
    note = _note(note)
    ticket = ticket_for(actor, ticket_id)
    _refuse_if_closed(ticket)
    if not ticket.is_rank_change or ticket.subject_id is None:
        raise Invalid("This is not a promotion or demotion request.")
    promote = (ticket.category, ticket.sub_category) == PROMOTION
    subject = User.objects.get(id=ticket.subject_id)
    if not Ticket.objects.filter(id=ticket.id).exclude(status=Status.CLOSED).exists():
        # Approved meanwhile: the subject just read may already carry the new rank, so judge nothing on it.
        raise Conflict("This ticket has already been decided.")
    _require_rank_authority(actor, subject, promote=promote)
    new_rank = _new_rank(subject, promote=promote, error=Forbidden)
    if promote and not may_raise_to(actor, new_rank):
        raise Forbidden("A promotion never reaches the approver's own rank.")
    superior = subject.superior
    if level(superior.rank) <= level(new_rank):
        # The old superior no longer outranks them: they move up to the nearest who does.
        superior = next(person for person in _chain_above(subject) if level(person.rank) > level(new_rank))
    # A demoted member's direct reports who would no longer rank below them move up to the member's superior.
    displaced = [] if promote else list(User.objects.filter(reports_to_id=subject.id, rank__in=_ranks_from(new_rank)))
    with atomic():
        _close_decided(ticket)
        for report in displaced:
            move_member(report, rank=report.rank, superior=superior, approved_by=actor, ticket=ticket)
        if displaced:
            subject.refresh_from_db()
        move_member(subject, rank=new_rank, superior=superior, approved_by=actor, ticket=ticket)
        search.reindex_subtree_of(subject)
        verb = "promoted" if promote else "demoted"
        said = note or f"{verb.capitalize()} to {Rank(new_rank).label}."
        _log(ticket, actor, ApprovalStep.Decision.APPROVED, 0, 0, said)
        notify(
            recipients=[person for person in (subject, ticket.author, ticket.assignee) if person.id != actor.id],
            message=f"{shown_name(subject)} is {verb} to {Rank(new_rank).label}.",
            ticket=ticket,
        )
    subject.refresh_from_db()
    return subject


approve_rank_change = approve_promotion


@retry_on_write_conflict
def deny_rank_change(*, actor: User, ticket_id: object, reason: str | None) -> Ticket:
    """Decide a promotion or demotion request against it, with a reason: the ticket closes, no rank changes."""
    reason = _comment_text(reason, field="reason", missing="Say why the request is denied.")[:NOTE_MAX]
    ticket = ticket_for(actor, ticket_id)
    _refuse_if_closed(ticket)
    if not ticket.is_rank_change or ticket.subject_id is None:
        raise Invalid("This is not a promotion or demotion request.")
    subject = User.objects.get(id=ticket.subject_id)
    if ticket.reviewer_id != actor.id:
        _require_rank_authority(actor, subject, promote=(ticket.category, ticket.sub_category) == PROMOTION)
    with atomic():
        _close_decided(ticket)
        _log(ticket, actor, ApprovalStep.Decision.DENIED, 0, 0, reason)
        notify(
            recipients=[person for person in (ticket.author, ticket.assignee) if person.id != actor.id],
            message=f"{ticket.sub_category} denied by {shown_name(actor)}: {ticket.title}. {reason}",
            ticket=ticket,
        )
    return ticket


def is_rank_change(ticket: Ticket) -> bool:
    return (ticket.category, ticket.sub_category) in RANK_CHANGES


def rank_change_decider(subject: User, new_rank: str) -> User:
    """The nearest superior of `subject` who may move them to `new_rank` (docs/rules.md section 18).

    Never Nyx: no output of the model may change a rank, so a request Nyx would decide goes to the Directorate.
    """
    for person in _chain_above(subject):
        if person.rank == Rank.NYX or not person.is_active or not can(person, Action.APPROVE_PROMOTION, subject):
            continue
        if person.rank == Rank.NIKI or level(new_rank) < level(person.rank):
            return person
    raise Conflict("No one above can take this decision.")  # unreachable while Niki heads every chain


def _require_rank_authority(actor: User, subject: User, *, promote: bool) -> None:
    if not can(actor, Action.APPROVE_PROMOTION, subject):
        noun = "promotions" if promote else "demotions"
        raise Forbidden(f"You may not decide {noun} for this person.")


def _new_rank(subject: User, *, promote: bool, error: type[Exception] = Invalid) -> str:
    """The rank a personnel request would give `subject`, or `error` when there is none."""
    if subject.rank not in HUMAN_RANKS:
        raise error("Nyx and the Directorate hold no rank that a request can change.")
    if promote:
        new_rank = rank_above(subject.rank)
        if new_rank not in HUMAN_RANKS:
            # Nyx is the one system account and Niki the one Controller: nobody is promoted into either.
            raise error("Promotions end at executor.")
        return new_rank
    if subject.rank == Rank.ASSET:
        raise error("An asset has no lower rank to be demoted to.")
    return HUMAN_RANKS[HUMAN_RANKS.index(subject.rank) - 1]


def _ranks_from(rank: str) -> list[Rank]:
    return [candidate for candidate in Rank if level(candidate) >= level(rank)]


def _close_decided(
    ticket: Ticket, *, still_assigned_to: User | None = None, conflict: str = "This ticket has already been decided."
) -> None:
    """Close `ticket` unless someone closed it meanwhile (with `still_assigned_to`: only while it is theirs), count
    it in the review totals, and tell everyone involved."""
    rows = Ticket.objects.filter(id=ticket.id).exclude(status=Status.CLOSED)
    if still_assigned_to is not None:
        rows = rows.filter(assignee_id=still_assigned_to.id)
    moment = now()
    if rows.update(status=Status.CLOSED, closed_at=moment, updated_at=moment, reviewer_id=None) != 1:
        raise Conflict(conflict)
    review_totals.record_close(ticket, closed_at=moment)
    ticket.status = Status.CLOSED
    ticket.closed_at = ticket.updated_at = moment
    _announce(ticket)


def _refuse_rank_change(ticket: Ticket) -> None:
    if ticket.is_rank_change:
        raise Invalid("A personnel request is decided with Approve or Deny, not as a reward.")


# Internals ------------------------------------------------------------------------------------------------


def _transition(
    ticket: Ticket, *, expected: str, status: str, guard_reviewer: User | None = None, **changes: Any
) -> None:
    """Move `ticket` from `expected` to `status` only if nobody changed it meanwhile
    (and, with `guard_reviewer`, only while that person is still its reviewer)."""
    guard = Ticket.objects.filter(id=ticket.id, status=expected)
    if guard_reviewer is not None:
        guard = guard.filter(reviewer_id=guard_reviewer.id)
    moment = now()
    if guard.update(status=status, updated_at=moment, **changes) != 1:
        raise Conflict("This ticket changed meanwhile; reload it and try again.")
    if "reviewer_id" in changes:
        search.reindex(ticket.id)  # the index knows who may see the ticket
    ticket.status = status
    ticket.updated_at = moment
    for name, value in changes.items():
        setattr(ticket, name, value)
    _announce(ticket)


def _announce(ticket: Ticket) -> None:
    """Tell everyone involved that the ticket changed, so open ticket pages refresh. `updated_at` lets a page
    that already shows this change (its own action's answer) skip the redraw."""
    publish(
        _participant_ids(ticket),
        "ticket_updated",
        {"ticket_id": ticket.id, "status": ticket.status, "updated_at": ticket.updated_at.isoformat()},
    )


def _close_and_pay(ticket: Ticket, *, actor: User, credits: int, pay: Decimal, note: str) -> Ticket:
    with atomic():
        moment = now()
        _transition(
            ticket,
            expected=Status.AWAITING_REVIEW,
            status=Status.CLOSED,
            guard_reviewer=actor,
            reward_credits=credits,
            reward_pay=pay,
            closed_at=moment,
        )
        _log(ticket, actor, ApprovalStep.Decision.APPROVED, credits, pay, note)
        try:
            wallet = pay_ticket_reward(ticket=ticket, credits=credits, pay=pay, approved_by=actor)
        except IntegrityError:
            raise Conflict("This ticket has already been paid.") from None
        review_totals.record_close(ticket, closed_at=moment, assignee_rank=wallet.rank)
        notify(
            recipients=[ticket.assignee],
            message=f"Reward approved by {shown_name(actor)}: {amounts_in_words(credits, pay)} for {ticket.title}",
            ticket=ticket,
        )
    return ticket


def _reviewed_by(actor: User, ticket_id: object) -> Ticket:
    """The ticket whose reward `actor` reviews now (a personnel request is decided otherwise)."""
    ticket = ticket_for(actor, ticket_id)
    _require_reviewer(ticket, actor)
    _refuse_rank_change(ticket)
    return ticket


def _pass_review(ticket: Ticket, actor: User, next_reviewer: User, **changes: Any) -> None:
    """Hand the review of `ticket` from `actor` to `next_reviewer`: only while it still awaits `actor`."""
    _transition(
        ticket,
        expected=Status.AWAITING_REVIEW,
        status=Status.AWAITING_REVIEW,
        guard_reviewer=actor,
        reviewer_id=next_reviewer.id,
        **changes,
    )


def _log(ticket: Ticket, actor: User, decision: str, credits: int, pay: Decimal | int, note: str) -> None:
    ApprovalStep.objects.create(ticket=ticket, approver=actor, decision=decision, credits=credits, pay=pay, note=note)


def _chain_above(person: User) -> list[User]:
    """Everyone above `person`, nearest first, Niki included (Niki may act anywhere)."""
    ids = person.superior_ids
    found = {superior.id: superior for superior in User.objects.filter(id__in=ids)}
    return [found[superior_id] for superior_id in reversed(ids) if superior_id in found]


def _first_above(
    actor: User, action: Action, target: User, *, start_from: User | None = None, skip: Collection[str | None] = ()
) -> User:
    """The nearest superior of `start_from` (default `actor`) above `actor` who may do `action` on `target`."""
    chain = _chain_above(start_from or actor)
    if start_from is not None and actor.id in {person.id for person in chain}:
        chain = chain[[person.id for person in chain].index(actor.id) + 1 :]
    for person in chain:
        if person.id not in skip and person.is_active and can(person, action, target):
            return person
    raise Conflict("No one above can take this decision.")  # unreachable while Niki heads every chain


def _require_reviewer(ticket: Ticket, actor: User) -> None:
    _refuse_if_closed(ticket)
    if ticket.status != Status.AWAITING_REVIEW:
        raise Conflict("This ticket is not awaiting review.")
    if not may_decide(actor, ticket):
        if ApprovalStep.objects.filter(ticket_id=ticket.id, approver_id=actor.id).exists():
            # A former reviewer whose own decision (or a retry of it) moved the ticket on: a late request,
            # refused like every other "changed meanwhile" (docs/rules.md: "two reviewers at once ... 409").
            raise Conflict("This ticket changed meanwhile; reload it and try again.")
        raise Forbidden("Only the current reviewer may decide this ticket.")


def _refuse_if_closed(ticket: Ticket) -> None:
    if ticket.status == Status.CLOSED:
        raise Conflict("This ticket is closed and read-only.")


def _participants(ticket: Ticket) -> list[User]:
    people = [ticket.author, ticket.assignee, ticket.reviewer]
    if ticket.visibility == Ticket.Visibility.HIERARCHICAL:
        people += list(User.objects.filter(watched_links__ticket_id=ticket.id))
    return [person for person in people if person is not None]


def _participant_ids(ticket: Ticket) -> list[str]:
    """The ids of `_participants(ticket)`, without reading their rows."""
    ids = [ticket.author_id, ticket.assignee_id, ticket.reviewer_id]
    if ticket.visibility == Ticket.Visibility.HIERARCHICAL:
        ids += TicketWatcher.objects.filter(ticket_id=ticket.id).values_list("user_id", flat=True)
    return [person_id for person_id in ids if person_id is not None]


def _comment_text(text: str | None, *, field: str, missing: str) -> str:
    text = (text or "").strip()
    if not text:
        raise Invalid(missing, field_errors={field: [missing]})
    if len(text) > COMMENT_MAX:
        raise Invalid(f"A comment has at most {COMMENT_MAX} characters.", field_errors={field: ["Too long."]})
    return text


def _note(note: str | None) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise Invalid(f"A note has at most {NOTE_MAX} characters.", field_errors={"note": ["Too long."]})
    return refuse_bidi_controls(note, field="note", label="A note")

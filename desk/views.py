"""Pages that compose several apps: the dashboard, one ticket's page (with its attachments) and the ledger.

Each stays thin like every view (docs/architecture.md): it parses, calls the apps' selectors and services,
and renders. The apps below never import this module.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import policy
from accounts import selectors as people
from accounts.policy import Action, may_at_all
from accounts.presentation import shown_name
from attachments import services as attachment_services
from attachments.forms import AttachmentForm, CommentForm
from attachments.selectors import attachments_of
from desk import selectors
from directorate.errors import DomainError, Invalid, NotFound
from directorate.spreadsheet import csv_download, safe_text, utc_time
from economy import selectors as ledgers
from economy import services as economy_services
from economy.forms import ReverseForm
from economy.rates import ABNORMAL_CREDITS, abnormal_pay_limit, is_abnormal, rate_for
from tickets import selectors as tickets
from tickets import services as ticket_services
from tickets.forms import (
    ApproveForm,
    DenyForm,
    EscalateForm,
    PromoteForm,
    SendBackForm,
    SubmitForm,
    proposal_form,
    proposal_initial,
)
from tickets.models import Ticket

# The dashboard -------------------------------------------------------------------------------------------


# What the dashboard's lists show, read as rows of these columns (no ticket bodies, no whole member rows) and
# built by the tags of desk/templatetags/dashboard.py.
DASHBOARD_TICKET_COLUMNS = ("id", "title", "category", "sub_category", "status")
DASHBOARD_ASSIGNEE_COLUMNS = ("assignee__display_name", "assignee__rank", "assignee__hidden")
DASHBOARD_QUEUE_COLUMNS = ("reward_credits", "reward_pay", "submitted_at")
DASHBOARD_PERSON_COLUMNS = ("id", "rank", "display_name")


def dashboard(request):
    user = request.user
    with_assignee = (*DASHBOARD_TICKET_COLUMNS, *DASHBOARD_ASSIGNEE_COLUMNS)
    return render(
        request,
        "accounts/dashboard.html",
        {
            "superior": people.visible_superior_of(user),
            # Sorted here: they are few and read whole, and compiling an ORDER BY cost as much as the read.
            "direct_reports": sorted(
                people.direct_reports_of(user).values(*DASHBOARD_PERSON_COLUMNS), key=itemgetter("rank", "display_name")
            ),
            "my_work": list(tickets.assigned_to(user).values(*DASHBOARD_TICKET_COLUMNS)[:10]),
            "written": list(tickets.written_by(user).values(*with_assignee)[:10]),
            "review_queue": list(tickets.review_queue(user).values(*with_assignee, *DASHBOARD_QUEUE_COLUMNS)[:10]),
            "recent_rewards": ledgers.recent_rewards(user),
            "may_broadcast": may_at_all(user, Action.BROADCAST),
        },
    )


# One ticket's page, its actions and its uploads --------------------------------------------------------------


def ticket_detail(request, ticket_id):
    ticket = tickets.ticket_for(request.user, ticket_id, to_show=True)
    return render(request, "tickets/detail.html", ticket_context(request.user, ticket))


def ticket_context(user, ticket, forms=None, confirm=None):
    """Everything the ticket page shows `user`. `forms`: bound action forms carrying refused input and its
    errors; `confirm`: a large approval waiting to be confirmed (its amounts and outcome)."""
    forms = forms or {}
    assignee = ticket.assignee
    watchers = tickets.watchers_of(ticket)
    is_reviewer = policy.may_decide(user, ticket)
    rank_change = ticket.is_rank_change
    comments = tickets.comments_of(ticket)
    context = {
        "ticket": ticket,
        "comments": comments,
        "attachments": attachments_of(ticket, comments),
        "attachment_form": AttachmentForm(auto_id="attachment-%s"),
        "comment_form": CommentForm(auto_id="comment-%s"),
        "watchers": watchers,
        "approval_log": tickets.approval_log_of(ticket),
        "is_assignee": policy.is_assignee(user, ticket),
        "is_reviewer": is_reviewer and not rank_change,
        "is_rank_change": rank_change,
        "is_watching": any(watcher.id == user.id for watcher in watchers),
        "may_submit": policy.may_submit(user, ticket),
        "may_promote": policy.may_promote(user, ticket),
        "proposal_abnormal": is_abnormal(assignee.rank, credits=ticket.reward_credits, pay=ticket.reward_pay),
        "abnormal_credits": ABNORMAL_CREDITS,
        "abnormal_pay": abnormal_pay_limit(assignee.rank),
        "confirm": confirm,
    }
    # Each action's form, where the page shows it (the template's conditions).
    if context["may_submit"] and ticket.status == Ticket.Status.IN_PROGRESS:
        context["submit_form"] = forms.get("submit") or SubmitForm(initial=proposal_initial(ticket))
    if context["is_reviewer"]:
        context["approve_form"] = forms.get("approve") or ApproveForm(
            initial={"credits": ticket.reward_credits, "pay": ticket.reward_pay}
        )
        context["escalate_form"] = forms.get("escalate") or EscalateForm()
        context["sendback_form"] = forms.get("send-back") or SendBackForm()
    if context["may_promote"]:
        context["promote_form"] = forms.get("promote") or PromoteForm()
        context["deny_form"] = forms.get("deny") or DenyForm()
    working = ticket.status in (Ticket.Status.OPEN, Ticket.Status.IN_PROGRESS)
    if ticket.assignee_id == user.id and working and context["may_submit"] and not rank_change:
        # What this work can earn, and who decides: the same searches the services make.
        rate = rate_for(assignee.rank)
        context["earning"] = {
            "credits": rate.credits_per_task,
            "hourly": rate.hourly_pay,
            "reviewer": ticket_services.normal_reviewer(assignee),
            "abnormal_decider": ticket_services.abnormal_decider(ticket, proposer=user),
        }
        if ticket.status == Ticket.Status.OPEN:
            # The proposal the member will submit, shown with the brief; it is sent after Start work.
            context["proposal_form"] = proposal_form(ticket)
    if is_reviewer and not rank_change:
        outcome, next_reviewer = _outcome_or_none(ticket, user, ticket.reward_credits, ticket.reward_pay)
        context["approve_outcome"] = outcome
        context["approve_next"] = next_reviewer
    return context


def _outcome_or_none(ticket, user, credits, pay):
    try:
        return ticket_services.approval_outcome(ticket, actor=user, credits=credits, pay=pay)
    except DomainError:
        return None, None


def _approved_message(ticket):
    if ticket.status == Ticket.Status.CLOSED:
        return (
            f"Approved: {ticket.reward_credits} credit{pluralize(ticket.reward_credits)} and "
            f"\u00a4{ticket.reward_pay} paid to {shown_name(ticket.assignee)}."
        )
    return f"Recommended and escalated: over the limit, so {shown_name(ticket.reviewer)} makes the final decision."


@dataclass(frozen=True)
class TicketAction:
    """One action a person takes on a ticket.

    `service` is called with the actor, the ticket and `posted`: each of its keywords read from a posted field
    (`{keyword: field}`). `said` is what to say after: a sentence, or a function of the service's result.
    `form`, where there is one, shows a refusal at its fields (a service's keyword named back to its field).
    `for_self` reads a member to watch from `user_id`, the actor themself when none is posted. `confirms_large`:
    large amounts are first asked to be confirmed (`confirm_large`), unless `confirmed` is posted as "yes"."""

    service: Callable[..., Any]
    said: str | Callable[[Any], str]
    posted: dict[str, str] = field(default_factory=dict)
    form: type[forms.Form] | None = None
    for_self: bool = False
    confirms_large: bool = False

    def perform(self, user, ticket_id, data):
        values = {keyword: data.get(name) for keyword, name in self.posted.items()}
        if self.for_self:
            values["user_id"] = data.get("user_id") or user.id
        if self.confirms_large:
            values["confirm_large"] = data.get("confirmed") != "yes"
        return self.service(actor=user, ticket_id=ticket_id, **values)

    def message(self, result):
        return self.said if isinstance(self.said, str) else self.said(result)

    def field_for(self, keyword):
        return self.posted.get(keyword, keyword)


def _submitted_message(ticket):
    return f"Submitted for review by {shown_name(ticket.reviewer)}."


def _escalated_message(ticket):
    return f"Escalated to {shown_name(ticket.reviewer)}."


def _promoted_message(subject):
    return f"Approved: {subject.display_name} is now a {subject.rank}."


NOTE = {"note": "note"}
PROPOSAL = {name: name for name in ("reward_credits", "reward_pay", "hours_worked")}
DECISION = {"credits": "credits", "pay": "pay", "note": "note"}

TICKET_ACTIONS = {
    "start": TicketAction(ticket_services.start_work, "Work started."),
    "submit": TicketAction(ticket_services.submit_for_review, _submitted_message, PROPOSAL, SubmitForm),
    "approve": TicketAction(
        ticket_services.approve_reward, _approved_message, DECISION, ApproveForm, confirms_large=True
    ),
    "escalate": TicketAction(ticket_services.escalate, _escalated_message, NOTE, EscalateForm),
    "send-back": TicketAction(ticket_services.send_back, "Sent back for rework.", {"comment": "note"}, SendBackForm),
    "close": TicketAction(ticket_services.close_without_reward, "Ticket closed.", NOTE),
    "promote": TicketAction(ticket_services.approve_promotion, _promoted_message, NOTE, PromoteForm),
    "deny": TicketAction(
        ticket_services.deny_rank_change, "Request denied; no rank changed.", {"reason": "note"}, DenyForm
    ),
    "comment": TicketAction(ticket_services.add_comment, "Comment added.", {"body_md": "body_md"}),
    "watch": TicketAction(ticket_services.add_watcher, "Watching.", for_self=True),
    "unwatch": TicketAction(ticket_services.remove_watcher, "No longer watching.", for_self=True),
}


@require_POST
def ticket_action(request, ticket_id, action):
    """Run one ticket action for the signed-in member, then show the ticket again.

    Refused input comes back at its fields (400), with what was typed; a large approval first asks to be
    confirmed (docs/rules.md section 13)."""
    if action not in TICKET_ACTIONS:
        raise Http404("No such action.")
    chosen = TICKET_ACTIONS[action]
    try:
        result = chosen.perform(request.user, ticket_id, request.POST)
    except ticket_services.ConfirmationNeeded as pending:
        confirm = {
            "credits": pending.credits,
            "pay": pending.pay,
            "note": request.POST.get("note", ""),
            "outcome": pending.outcome,
            "next": pending.next_reviewer,
        }
        ticket = tickets.ticket_for(request.user, ticket_id, to_show=True)
        form = ApproveForm(request.POST)
        response = _ticket_response(request, ticket_context(request.user, ticket, {"approve": form}, confirm), 200)
        response["X-Decision-Pending"] = "confirm"
        return response
    except Invalid as error:
        if chosen.form is None:
            raise
        form = chosen.form(request.POST)
        form.is_valid()
        for keyword, field_messages in error.field_errors.items():
            name = chosen.field_for(keyword)
            for message in field_messages:
                form.add_error(name if name in form.fields else None, message)
        if not error.field_errors:
            form.add_error(None, error.message)
        ticket = tickets.ticket_for(request.user, ticket_id, to_show=True)
        return _ticket_response(request, ticket_context(request.user, ticket, {action: form}), 400)
    said = chosen.message(result)
    messages.success(request, said)
    try:
        # The decided ticket as the service left it (every field it changed is set), or read again.
        decided = result if isinstance(result, Ticket) and result.id == ticket_id else None
        ticket = tickets.ticket_for(request.user, ticket_id, known=decided, to_show=True)
    except NotFound:
        # The decision took the ticket out of the actor's sight (a private ticket moved up): back to the list.
        if request.htmx:
            return HttpResponseClientRedirect(reverse("tickets"))
        return redirect("tickets")
    if request.htmx:
        list(messages.get_messages(request))  # the swapped panel itself says what happened
        context = ticket_context(request.user, ticket)
        context["result_message"] = said
        return render(request, "tickets/detail.html#ticket", context)
    return redirect(reverse("ticket", kwargs={"ticket_id": ticket_id}))


def _ticket_response(request, context, status):
    template = "tickets/detail.html#ticket" if request.htmx else "tickets/detail.html"
    return render(request, template, context, status=status)


# Uploads, each with its form (its fields' ids prefixed by the key: "attachment-file", "comment-body_md").
UPLOADS = {
    "attachment": TicketAction(
        attachment_services.attach_to_ticket, "File attached.", {"upload": "file"}, AttachmentForm
    ),
    "comment": TicketAction(
        attachment_services.comment_with_attachment,
        "Comment added.",
        {"body_md": "body_md", "upload": "file"},
        CommentForm,
    ),
}


@require_POST
def attachment_upload(request, ticket_id):
    return _upload(request, ticket_id, "attachment")


@require_POST
def attachment_comment(request, ticket_id):
    return _upload(request, ticket_id, "comment")


def _upload(request, ticket_id, kind):
    upload = UPLOADS[kind]
    form = upload.form(request.POST, request.FILES, auto_id=f"{kind}-%s")
    if form.is_valid():
        try:
            upload.perform(request.user, ticket_id, form.cleaned_data)
        except Invalid as error:
            form.add_error(next((name for name in error.field_errors if name in form.fields), None), error.message)
        else:
            messages.success(request, upload.said)
            if request.htmx:
                list(messages.get_messages(request))  # the redrawn panel shows the result
                return _ticket_page(request, ticket_id)
            return redirect("ticket", ticket_id=ticket_id)
    return _ticket_page(request, ticket_id, status=400, **{f"{kind}_form": form})


def _ticket_page(request, ticket_id, status=200, **bound_forms):
    ticket = tickets.ticket_for(request.user, ticket_id, to_show=True)
    return _ticket_response(request, {**ticket_context(request.user, ticket), **bound_forms}, status)


# The ledger: a person's entries, naming only the tickets the reader sees -----------------------------------

LEDGER_PAGE_SIZE = 25


def ledger(request, reverse_form=None, status=200):
    owner_id = request.GET.get("user") or getattr(reverse_form, "owner_id", None)
    owner = ledgers.ledger_owner_for(request.user, owner_id)
    page, visible = selectors.ledger_page(request.user, owner, request.GET.get("after"), size=LEDGER_PAGE_SIZE)
    is_own = owner.id == request.user.id
    context = {
        "owner": owner,
        "page": page,
        "is_own": is_own,
        "owner_query": "" if is_own else urlencode({"user": owner.id}),
        # A subordinate's entry may be for a ticket the reader may not see: it is not named then.
        "visible_tickets": visible,
        "reversible": ledgers.reversible_ids(request.user, owner, page.items),
        "reverse_form": reverse_form,
    }
    template = "economy/ledger.html#entries" if request.htmx and reverse_form is None else "economy/ledger.html"
    return render(request, template, context, status=status)


@require_POST
def reverse_entry(request, entry_id):
    """Reverse one ledger entry (an award with its pair, or an adjustment), with a reason; back to that ledger.
    A refused reason is shown at the entry's own form (400)."""
    entry = economy_services.reversible_entry(request.user, entry_id)
    try:
        economy_services.reverse_entry(actor=request.user, entry_id=entry.id, reason=request.POST.get("reason", ""))
    except Invalid as error:
        form = ReverseForm(request.POST, entry_id=entry.id)
        form.is_valid()
        for message in error.field_errors.get("reason", []) or [error.message]:
            form.add_error("reason", message)
        form.entry_id, form.owner_id = entry.id, entry.user_id
        return ledger(request, reverse_form=form, status=400)
    messages.success(request, "Reversed: the opposite entries are at the top of the ledger.")
    return redirect(f"{reverse('ledger')}?user={entry.user_id}")


LEDGER_CSV_HEADER = ["time (UTC)", "type", "credits", "pay", "ticket id", "ticket title", "approved by", "reason"]


def ledger_csv(request):
    """The ledger the page shows (same owner, same refusals), as a CSV download of every entry."""
    owner = ledgers.ledger_owner_for(request.user, request.GET.get("user"))
    rows = (
        ledger_csv_row(entry, ticket_visible)
        for entry, ticket_visible in selectors.ledger_for_export(request.user, owner)
    )
    return csv_download(itertools.chain([LEDGER_CSV_HEADER], rows), filename=f"ledger-{owner.username}.csv")


def ledger_csv_row(entry, ticket_visible):
    ticket = entry.related_ticket if ticket_visible else None
    return [
        utc_time(entry.ts),
        safe_text(entry.type),
        entry.amount_cr,
        entry.amount_pay,
        safe_text(ticket.id if ticket else ""),
        safe_text(ticket.title if ticket else ""),
        safe_text(shown_name(entry.approved_by)),
        safe_text(entry.reason),
    ]

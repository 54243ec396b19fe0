"""Pages that compose several apps: the dashboard, one ticket's page (with its attachments) and the ledger.

Each stays thin like every view (docs/architecture.md): it parses, calls the apps' selectors and services,
and renders. The apps below never import this module.
"""

import itertools
from datetime import UTC

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
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
from directorate.errors import Invalid, NotFound
from directorate.spreadsheet import csv_download, safe_text
from economy import selectors as ledgers
from economy.rates import ABNORMAL_CREDITS, abnormal_pay_limit, is_abnormal
from tickets import selectors as tickets
from tickets import services as ticket_services

# The dashboard -------------------------------------------------------------------------------------------


def dashboard(request):
    user = request.user
    return render(
        request,
        "accounts/dashboard.html",
        {
            "superior": people.visible_superior_of(user),
            "direct_reports": people.direct_reports_of(user).order_by("rank", "display_name"),
            "my_work": tickets.assigned_to(user)[:10],
            "review_queue": list(tickets.review_queue(user).select_related("assignee")[:10]),
            "recent_rewards": ledgers.recent_rewards(user),
            "may_broadcast": may_at_all(user, Action.BROADCAST),
        },
    )


# One ticket's page, its actions and its uploads --------------------------------------------------------------


def ticket_detail(request, ticket_id):
    ticket = tickets.ticket_for(request.user, ticket_id)
    return render(request, "tickets/detail.html", ticket_context(request.user, ticket))


def ticket_context(user, ticket):
    assignee = ticket.assignee
    watchers = tickets.watchers_of(ticket)
    comments = tickets.comments_of(ticket)
    return {
        "ticket": ticket,
        "comments": comments,
        "attachments": attachments_of(ticket, comments),
        "attachment_form": AttachmentForm(auto_id="attachment-%s"),
        "comment_form": CommentForm(auto_id="comment-%s"),
        "watchers": watchers,
        "approval_log": tickets.approval_log_of(ticket),
        "is_assignee": policy.is_assignee(user, ticket),
        "is_reviewer": policy.may_decide(user, ticket),
        "is_watching": any(watcher.id == user.id for watcher in watchers),
        "may_submit": policy.may_submit(user, ticket),
        "may_promote": policy.may_promote(user, ticket),
        "proposal_abnormal": is_abnormal(assignee.rank, credits=ticket.reward_credits, pay=ticket.reward_pay),
        "abnormal_credits": ABNORMAL_CREDITS,
        "abnormal_pay": abnormal_pay_limit(assignee.rank),
    }


# Each action a person takes on a ticket: the service it calls with the posted fields, and what to say after.
TICKET_ACTIONS = {
    "start": (
        lambda user, ticket_id, data: ticket_services.start_work(actor=user, ticket_id=ticket_id),
        "Work started.",
    ),
    "submit": (
        lambda user, ticket_id, data: ticket_services.submit_for_review(
            actor=user,
            ticket_id=ticket_id,
            reward_credits=data.get("reward_credits"),
            reward_pay=data.get("reward_pay"),
            hours_worked=data.get("hours_worked"),
        ),
        "Submitted for review.",
    ),
    "approve": (
        lambda user, ticket_id, data: ticket_services.approve_reward(
            actor=user,
            ticket_id=ticket_id,
            credits=data.get("credits"),
            pay=data.get("pay"),
            note=data.get("note", ""),
        ),
        "Decision recorded.",
    ),
    "escalate": (
        lambda user, ticket_id, data: ticket_services.escalate(
            actor=user, ticket_id=ticket_id, note=data.get("note", "")
        ),
        "Escalated.",
    ),
    "send-back": (
        lambda user, ticket_id, data: ticket_services.send_back(
            actor=user, ticket_id=ticket_id, comment=data.get("note", "")
        ),
        "Sent back for rework.",
    ),
    "close": (
        lambda user, ticket_id, data: ticket_services.close_without_reward(
            actor=user, ticket_id=ticket_id, note=data.get("note", "")
        ),
        "Ticket closed.",
    ),
    "promote": (
        lambda user, ticket_id, data: ticket_services.approve_promotion(
            actor=user, ticket_id=ticket_id, note=data.get("note", "")
        ),
        "Promotion approved.",
    ),
    "comment": (
        lambda user, ticket_id, data: ticket_services.add_comment(
            actor=user, ticket_id=ticket_id, body_md=data.get("body_md", "")
        ),
        "Comment added.",
    ),
    "watch": (
        lambda user, ticket_id, data: ticket_services.add_watcher(
            actor=user, ticket_id=ticket_id, user_id=data.get("user_id") or user.id
        ),
        "Watching.",
    ),
    "unwatch": (
        lambda user, ticket_id, data: ticket_services.remove_watcher(
            actor=user, ticket_id=ticket_id, user_id=data.get("user_id") or user.id
        ),
        "No longer watching.",
    ),
}


@require_POST
def ticket_action(request, ticket_id, action):
    """Run one ticket action for the signed-in member, then show the ticket again."""
    if action not in TICKET_ACTIONS:
        raise Http404("No such action.")
    perform, success = TICKET_ACTIONS[action]
    perform(request.user, ticket_id, request.POST)
    messages.success(request, success)
    try:
        ticket = tickets.ticket_for(request.user, ticket_id)
    except NotFound:
        # The decision took the ticket out of the actor's sight (a private ticket moved up): back to the list.
        if request.htmx:
            return HttpResponseClientRedirect(reverse("tickets"))
        return redirect("tickets")
    if request.htmx:
        list(messages.get_messages(request))  # the swapped panel itself shows the result
        return render(request, "tickets/detail.html#ticket", ticket_context(request.user, ticket))
    return redirect(reverse("ticket", kwargs={"ticket_id": ticket_id}))


@require_POST
def attachment_upload(request, ticket_id):
    form = AttachmentForm(request.POST, request.FILES, auto_id="attachment-%s")
    return _handle(
        request,
        ticket_id,
        form,
        "attachment_form",
        lambda data: attachment_services.attach_to_ticket(
            actor=request.user, ticket_id=ticket_id, upload=data["file"]
        ),
        "File attached.",
    )


@require_POST
def attachment_comment(request, ticket_id):
    form = CommentForm(request.POST, request.FILES, auto_id="comment-%s")
    return _handle(
        request,
        ticket_id,
        form,
        "comment_form",
        lambda data: attachment_services.comment_with_attachment(
            actor=request.user, ticket_id=ticket_id, body_md=data["body_md"], upload=data["file"]
        ),
        "Comment added.",
    )


def _handle(request, ticket_id, form, form_name, perform, success):
    if form.is_valid():
        try:
            perform(form.cleaned_data)
        except Invalid as error:
            form.add_error(next((name for name in error.field_errors if name in form.fields), None), error.message)
        else:
            messages.success(request, success)
            if request.htmx:
                list(messages.get_messages(request))  # the redrawn panel shows the result
                return _ticket_page(request, ticket_id)
            return redirect("ticket", ticket_id=ticket_id)
    return _ticket_page(request, ticket_id, status=400, **{form_name: form})


def _ticket_page(request, ticket_id, status=200, **forms):
    ticket = tickets.ticket_for(request.user, ticket_id)
    context = {**ticket_context(request.user, ticket), **forms}
    template = "tickets/detail.html#ticket" if request.htmx else "tickets/detail.html"
    return render(request, template, context, status=status)




# The ledger: a person's entries, naming only the tickets the reader sees -----------------------------------

LEDGER_PAGE_SIZE = 25


def ledger(request):
    owner = ledgers.ledger_owner_for(request.user, request.GET.get("user"))
    page = Paginator(ledgers.ledger_of(owner), LEDGER_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "owner": owner,
        "page": page,
        "is_own": owner.id == request.user.id,
        # A subordinate's entry may be for a ticket the reader may not see: it is not named then.
        "visible_tickets": selectors.visible_ticket_ids(request.user, page.object_list),
    }
    return render(request, "economy/ledger.html#entries" if request.htmx else "economy/ledger.html", context)


LEDGER_CSV_HEADER = ["time (UTC)", "type", "credits", "pay", "ticket id", "ticket title", "approved by", "reason"]


def ledger_csv(request):
    """The ledger the page shows (same owner, same refusals), as a CSV download of every entry."""
    owner = ledgers.ledger_owner_for(request.user, request.GET.get("user"))
    rows = (ledger_csv_row(entry, ticket_visible) for entry, ticket_visible in selectors.ledger_for_export(
        request.user, owner
    ))
    return csv_download(itertools.chain([LEDGER_CSV_HEADER], rows), filename=f"ledger-{owner.username}.csv")


def ledger_csv_row(entry, ticket_visible):
    ticket = entry.related_ticket if ticket_visible else None
    return [
        entry.ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        safe_text(entry.type),
        entry.amount_cr,
        entry.amount_pay,
        safe_text(ticket.id if ticket else ""),
        safe_text(ticket.title if ticket else ""),
        safe_text(shown_name(entry.approved_by)),
        safe_text(entry.reason),
    ]

import re
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.policy import Action, can
from accounts.selectors import addressable_people, subordinates_of
from attachments.forms import AttachmentForm, CommentForm
from attachments.selectors import attachments_of
from directorate.errors import Invalid, NotFound
from economy.rates import ABNORMAL_CREDITS, abnormal_pay_limit, is_abnormal
from tickets import selectors, services
from tickets.categories import CATEGORIES
from tickets.forms import TicketCreateForm, sub_category_choices
from tickets.models import Ticket

OBJECT_ID = re.compile(r"[0-9a-f]{24}")
CATEGORY_CHOICES = [(name, name) for name in CATEGORIES]


def ticket_list(request):
    filters = selectors.TicketFilters(
        scope=request.GET.get("scope") if request.GET.get("scope") in selectors.SCOPES else "all",
        status=request.GET.get("status") if request.GET.get("status") in Ticket.Status.values else "",
        category=request.GET.get("category") if request.GET.get("category") in CATEGORIES else "",
        assignee_id=request.GET.get("assignee", "") if OBJECT_ID.fullmatch(request.GET.get("assignee", "")) else "",
        assignee_name=request.GET.get("who", "").strip()[:100],
        text=request.GET.get("q", "").strip()[:100],
    )
    page = selectors.list_page(request.user, filters, request.GET.get("after"))
    context = {
        "page": page,
        "filters": filters,
        "scopes": selectors.SCOPES,
        "statuses": Ticket.Status.choices,
        "categories": CATEGORY_CHOICES,
        "filter_query": urlencode(
            {
                "scope": filters.scope,
                "status": filters.status,
                "category": filters.category,
                "assignee": filters.assignee_id,
                "who": filters.assignee_name,
                "q": filters.text,
            }
        ),
    }
    results_only = request.htmx and request.htmx.target == "ticket-results"
    return render(request, "tickets/list.html#results" if results_only else "tickets/list.html", context)


def ticket_create(request):
    addressable = addressable_people(request.user)
    subjects = [request.user, *subordinates_of(request.user).order_by("display_name")]
    form = TicketCreateForm(
        request.POST or None,
        addressable=addressable,
        subjects=subjects,
        initial={"category": request.GET.get("category", "")},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                ticket = services.create_ticket(
                    actor=request.user,
                    title=data["title"],
                    category=data["category"],
                    sub_category=data["sub_category"],
                    assignee_id=data["assignee"],
                    body_md=data["body_md"],
                    visibility=data["visibility"],
                    subject_id=data["subject"] or None,
                )
            except Invalid as error:
                _attach_errors(form, error)
            else:
                messages.success(request, "Ticket created.")
                return redirect("ticket", ticket_id=ticket.id)
        status = 400
    return render(request, "tickets/create.html", {"form": form}, status=status)


@require_GET
def sub_categories(request):
    """The sub-category options of a category, for the create form (HTMX)."""
    return render(
        request,
        "tickets/create.html#sub-category-options",
        {"choices": sub_category_choices(request.GET.get("category"))},
    )


def ticket_detail(request, ticket_id):
    ticket = selectors.ticket_for(request.user, ticket_id)
    return render(request, "tickets/detail.html", ticket_context(request.user, ticket))


def ticket_context(user, ticket):
    assignee = ticket.assignee
    watchers = selectors.watchers_of(ticket)
    is_reviewer = ticket.status == Ticket.Status.AWAITING_REVIEW and ticket.reviewer_id == user.id
    comments = selectors.comments_of(ticket)
    return {
        "ticket": ticket,
        "comments": comments,
        "attachments": attachments_of(ticket, comments),
        "attachment_form": AttachmentForm(auto_id="attachment-%s"),
        "comment_form": CommentForm(auto_id="comment-%s"),
        "watchers": watchers,
        "approval_log": selectors.approval_log_of(ticket),
        "is_assignee": ticket.assignee_id == user.id,
        "is_reviewer": is_reviewer,
        "is_watching": any(watcher.id == user.id for watcher in watchers),
        "may_submit": can(user, Action.SUBMIT_REWARD, user),
        "may_promote": (
            (ticket.category, ticket.sub_category) == services.PROMOTION
            and ticket.subject is not None
            and ticket.status != Ticket.Status.CLOSED
            and can(user, Action.APPROVE_PROMOTION, ticket.subject)
        ),
        "proposal_abnormal": is_abnormal(assignee.rank, credits=ticket.reward_credits, pay=ticket.reward_pay),
        "abnormal_credits": ABNORMAL_CREDITS,
        "abnormal_pay": abnormal_pay_limit(assignee.rank),
    }


# Each action a person takes on a ticket: the service it calls with the posted fields, and what to say after.
TICKET_ACTIONS = {
    "start": (lambda user, ticket_id, data: services.start_work(actor=user, ticket_id=ticket_id), "Work started."),
    "submit": (
        lambda user, ticket_id, data: services.submit_for_review(
            actor=user,
            ticket_id=ticket_id,
            reward_credits=data.get("reward_credits"),
            reward_pay=data.get("reward_pay"),
            hours_worked=data.get("hours_worked"),
        ),
        "Submitted for review.",
    ),
    "approve": (
        lambda user, ticket_id, data: services.approve_reward(
            actor=user,
            ticket_id=ticket_id,
            credits=data.get("credits"),
            pay=data.get("pay"),
            note=data.get("note", ""),
        ),
        "Decision recorded.",
    ),
    "escalate": (
        lambda user, ticket_id, data: services.escalate(actor=user, ticket_id=ticket_id, note=data.get("note", "")),
        "Escalated.",
    ),
    "send-back": (
        lambda user, ticket_id, data: services.send_back(actor=user, ticket_id=ticket_id, comment=data.get("note", "")),
        "Sent back for rework.",
    ),
    "close": (
        lambda user, ticket_id, data: services.close_without_reward(
            actor=user, ticket_id=ticket_id, note=data.get("note", "")
        ),
        "Ticket closed.",
    ),
    "promote": (
        lambda user, ticket_id, data: services.approve_promotion(
            actor=user, ticket_id=ticket_id, note=data.get("note", "")
        ),
        "Promotion approved.",
    ),
    "comment": (
        lambda user, ticket_id, data: services.add_comment(
            actor=user, ticket_id=ticket_id, body_md=data.get("body_md", "")
        ),
        "Comment added.",
    ),
    "watch": (
        lambda user, ticket_id, data: services.add_watcher(
            actor=user, ticket_id=ticket_id, user_id=data.get("user_id") or user.id
        ),
        "Watching.",
    ),
    "unwatch": (
        lambda user, ticket_id, data: services.remove_watcher(
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
        ticket = selectors.ticket_for(request.user, ticket_id)
    except NotFound:
        # The decision took the ticket out of the actor's sight (a private ticket moved up): back to the list.
        if request.htmx:
            return HttpResponseClientRedirect(reverse("tickets"))
        return redirect("tickets")
    if request.htmx:
        list(messages.get_messages(request))  # the swapped panel itself shows the result
        return render(request, "tickets/detail.html#ticket", ticket_context(request.user, ticket))
    return redirect(reverse("ticket", kwargs={"ticket_id": ticket_id}))


def _attach_errors(form, error):
    known = {"title", "category", "sub_category", "visibility", "body_md"}
    renamed = {"subject_id": "subject", "assignee_id": "assignee"}
    for field, field_messages in error.field_errors.items():
        name = renamed.get(field, field)
        for message in field_messages:
            form.add_error(name if name in known | set(renamed.values()) else None, message)
    if not error.field_errors:
        form.add_error(None, error.message)

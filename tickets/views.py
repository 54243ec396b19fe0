from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts.policy import Action, can
from accounts.presentation import shown_name
from accounts.selectors import addressable_people, request_subjects
from directorate.errors import Invalid
from economy.rates import ABNORMAL_CREDITS, abnormal_pay_limit, is_abnormal
from tickets import selectors, services
from tickets.categories import CATEGORIES
from tickets.forms import TicketCreateForm, sub_category_choices
from tickets.models import Ticket
from tickets.schemas import TicketQuery

CATEGORY_CHOICES = [(name, name) for name in CATEGORIES]


def ticket_list(request):
    query = TicketQuery.lenient(request.GET)
    filters = query.filters()
    page = selectors.list_page(request.user, filters, query.after)
    if filters.scope == "queue":
        details = selectors.queue_details(row["id"] for row in page.items)
        queue_rows = [{**row, **details.get(row["id"], {})} for row in page.items]
    else:
        queue_rows = None
    context = {
        "page": page,
        "queue_rows": queue_rows,
        "filters": filters,
        "orders": selectors.ORDERS,
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
                "order": filters.order,
            }
        ),
    }
    results_only = request.htmx and request.htmx.target == "ticket-results"
    return render(request, "tickets/list.html#results" if results_only else "tickets/list.html", context)


def ticket_create(request):
    addressable = addressable_people(request.user)
    earns = can(request.user, Action.SUBMIT_REWARD, request.user)
    reviewer = services.normal_reviewer(request.user) if earns else None
    own_work = Ticket(author=request.user, assignee=request.user)
    decider = services.abnormal_decider(own_work, proposer=request.user) if earns else None
    form = TicketCreateForm(
        request.POST or None,
        addressable=addressable,
        subjects=request_subjects(request.user),
        author=request.user,
        reviewer=shown_name(reviewer) if reviewer else None,
        limit_warning=_limit_warning(request.user.rank, reviewer, decider) if reviewer and decider else "",
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
                    reward_credits=data["reward_credits"],
                    reward_pay=data["reward_pay"],
                )
            except Invalid as error:
                _attach_errors(form, error)
            else:
                messages.success(request, "Ticket created.")
                if is_abnormal(ticket.assignee.rank, credits=ticket.reward_credits, pay=ticket.reward_pay):
                    over = services.abnormal_decider(ticket, proposer=ticket.assignee)
                    messages.warning(
                        request,
                        f"The proposed reward is over the limit: it will be decided by {shown_name(over)}.",
                    )
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


def _limit_warning(rank, reviewer, decider):
    """The abnormal-award warning of the submit form, for the writer's own work."""
    return (
        f"For your own work: up to {ABNORMAL_CREDITS} credits and \u00a4{abnormal_pay_limit(rank)}, decided by "
        f"{shown_name(reviewer)}. Over the limit: will be decided by {shown_name(decider)}."
    )


def _attach_errors(form, error):
    known = {"title", "category", "sub_category", "visibility", "body_md", "reward_credits", "reward_pay"}
    renamed = {"subject_id": "subject", "assignee_id": "assignee"}
    for field, field_messages in error.field_errors.items():
        name = renamed.get(field, field)
        for message in field_messages:
            form.add_error(name if name in known | set(renamed.values()) else None, message)
    if not error.field_errors:
        form.add_error(None, error.message)

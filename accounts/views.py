from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Page, Paginator
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import AdjustForm, ThrottledLoginForm
from accounts.policy import Action, can

DIRECTORY_PAGE_SIZE = 25


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = ThrottledLoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 429 if form.throttled else 400
        return response


@require_POST
def broadcast(request):
    count = services.broadcast(actor=request.user, message=request.POST.get("message", ""))
    messages.success(request, f"Command sent to {count} {'person' if count == 1 else 'people'}.")
    return redirect("dashboard")


def profile(request, person_id=None):
    person = request.user if person_id is None else selectors.person_for(request.user, person_id)
    return render(request, "accounts/profile.html", profile_context(request.user, person))


def profile_context(viewer, person):
    """What a person's page shows `viewer`; the adjustment form comes back with its errors from a refused post."""
    return {
        "person": person,
        "is_me": person.id == viewer.id,
        "superior": selectors.visible_superior_of(person),
        "may_adjust": can(viewer, Action.ADJUST_CREDITS, person),
        "may_read_ledger": can(viewer, Action.VIEW_LEDGER, person),
        "adjust_form": AdjustForm(),
    }


def directory(request):
    query = request.GET.get("q", "").strip()[:80]
    people = selectors.search_people(request.user, query)
    page = Paginator(people, DIRECTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    template = "accounts/directory.html#results" if request.htmx else "accounts/directory.html"
    return render(request, template, {"page": page, "query": query, "page_query": urlencode({"q": query})})


INBOX_PAGE_SIZE = 25


INBOX_SHOWS = {"unread": "Unread", "all": "All"}


def inbox(request):
    show = request.GET.get("show")
    if show not in INBOX_SHOWS:
        show = "unread" if request.user.unread_notifications else "all"
    groups = selectors.inbox_groups(request.user, unread_only=show == "unread")
    page = first_page_read_first(groups, request.GET.get("page"), size=INBOX_PAGE_SIZE)
    context = {"page": page, "show": show, "shows": INBOX_SHOWS, "page_query": urlencode({"show": show})}
    return render(request, "accounts/inbox.html", context)


def first_page_read_first(rows, number, *, size):
    """Page `number` of `rows`, as Django's Paginator gives it; the first page is read before anything is
    counted, and when it has room to spare it is the whole list, counted without a query (an inbox's grouped
    rows rarely fill a page, and counting groups cost as much as reading them)."""
    paginator = Paginator(rows, size)
    if number not in (None, "", "1"):
        return paginator.get_page(number)
    first = list(rows[: size + 1])
    if len(first) <= size:
        paginator.count = len(first)  # a cached property, set before it is computed
    return Page(first[:size], 1, paginator)


def open_notification(request, notification_id):
    """Follow a notification's link: it and the ones identical to it are read from now on."""
    notification = services.mark_alike_read(actor=request.user, notification_id=notification_id)
    if notification.ticket_id:
        return redirect("ticket", notification.ticket_id)
    return redirect("inbox")


def inbox_badge(request):
    return render(request, "includes/inbox_badge.html")


@require_POST
def mark_read(request, notification_id):
    services.mark_alike_read(actor=request.user, notification_id=notification_id)
    if request.htmx:
        return render(request, "includes/inbox_badge.html", {"oob": True})
    return redirect("inbox")


@require_POST
def mark_all_read(request):
    count = services.mark_all_read(actor=request.user)
    messages.success(request, f"{count} notification{'' if count == 1 else 's'} marked read.")
    return redirect("inbox")

"""The Django side of the benchmarks, run as `python -m benchmarks.inside <command>` with a run's environment.

It prints one line of JSON. Commands:
  bench-plan TICKETS APPROVALS   pick who and what run.py requests, sign them in, fill one inbox, count each
                                 page's queries
  load-plan                      tokens and targets for load.py's clients
  check                          the ledger invariant, "no ticket paid twice", the daily ledger totals against the
                                 ledger and the unread counts, as a list of violations
  serve                          read those commands from stdin, one per line, and answer each on one line
"""

import json
import os
import sys
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal
from importlib import import_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.middleware.csrf import CSRF_SECRET_LENGTH  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

from accounts.models import Notification, User  # noqa: E402
from accounts.ranks import Rank  # noqa: E402
from accounts.selectors import in_subtree  # noqa: E402
from accounts.services import mark_all_read, notify, start_token_family  # noqa: E402
from directorate.db import atomic, now  # noqa: E402
from economy.ledger import ledger_day_mismatches  # noqa: E402
from economy.models import Transaction  # noqa: E402
from economy.rates import is_abnormal  # noqa: E402
from tickets import selectors  # noqa: E402
from tickets.models import RANK_CHANGES, Ticket  # noqa: E402
from tickets.review_totals import review_day_mismatches  # noqa: E402

HOST = "127.0.0.1"


def session_for(user):
    """A signed-in session, as the login form would create (no bcrypt check per run)."""
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def token_for(user):
    return start_token_family(user=user)["access_token"]


def normal_awaiting(limit):
    """Tickets awaiting review with normal amounts: each approval closes and pays one."""
    rows = (
        Ticket.objects.filter(status=Ticket.Status.AWAITING_REVIEW, reviewer__rank=Rank.MARSHAL)
        .values_list("id", "reviewer_id", "reward_credits", "reward_pay", "target_rank", "category", "sub_category")
        .order_by("id")[: limit * 2]
    )
    picked = [
        row[:5] for row in rows if not is_abnormal(row[4], credits=row[2], pay=row[3]) and row[5:] not in RANK_CHANGES
    ]
    return picked[:limit]


def fill_inbox(person, ticket_ids, *, notices=400, unread=40):
    """Give `person` an inbox as a year of work leaves it: `notices` notifications about their tickets, through
    the service, the newest `unread` of them unread."""
    tickets = list(Ticket.objects.filter(id__in=ticket_ids))
    for number in range(notices):
        ticket = tickets[number % len(tickets)]
        if number == notices - unread:
            mark_all_read(actor=person)
        with atomic():
            notify(recipients=[person], message=f"Reward approved: 10 credits for {ticket.title}", ticket=ticket)
    person.refresh_from_db()


def csrf_pair():
    """A CSRF secret for a benchmark client: sent as the cookie and, as htmx sends it, as the header."""
    return get_random_string(CSRF_SECRET_LENGTH)


def count_queries(client, method, path, **extra):
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(path, **extra)
    assert response.status_code == 200, (path, response.status_code, response.content[:300])
    return len(queries.captured_queries)


def bench_plan(tickets, approvals):
    busiest = (
        Ticket.objects.filter(status=Ticket.Status.AWAITING_REVIEW, reviewer__rank=Rank.MARSHAL)
        .values("reviewer_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    marshal = User.objects.get(id=busiest["reviewer_id"])
    owner_row = Transaction.objects.values("user_id").annotate(n=Count("id")).order_by("-n").first()
    ledger_owner = User.objects.get(id=owner_row["user_id"])
    # The executor above the busiest marshal: the list and search pages over a large share of all tickets.
    executor = User.objects.get(id=marshal.reports_to_id)
    while executor.rank != Rank.EXECUTOR:
        executor = User.objects.get(id=executor.reports_to_id)
    ticket_ids = list(
        selectors.visible_tickets(marshal)
        .filter(in_subtree(marshal.chain, field="assignee__chain"))
        .order_by("-updated_at")
        .values_list("id", flat=True)[:tickets]
    )
    # The member with the longest ledger also gets a full inbox (nothing is seeded there).
    owned = list(Ticket.objects.filter(assignee_id=ledger_owner.id).values_list("id", flat=True)[:200])
    fill_inbox(ledger_owner, owned or ticket_ids)
    picked = normal_awaiting(2 * approvals + 2)
    tokens, sessions = {}, {}
    plan = []
    for ticket_id, reviewer_id, credits, pay, _ in picked:
        if reviewer_id not in tokens:
            reviewer = User.objects.get(id=reviewer_id)
            tokens[reviewer_id] = token_for(reviewer)
            sessions[reviewer_id] = session_for(reviewer)
        plan.append(
            {
                "id": ticket_id,
                "credits": credits,
                "pay": str(pay),
                "token": tokens[reviewer_id],
                "session": sessions[reviewer_id],
            }
        )
    # The API's approvals and the form's take alternate tickets of the list; one of each is counted here.
    counted, counted_form, plan = plan[0], plan[1], plan[2:]
    api_plan, form_plan = plan[0::2], plan[1::2]

    client = Client(HTTP_HOST=HOST)
    client.force_login(marshal)
    queries = {
        "floor": count_queries(Client(HTTP_HOST=HOST), "get", "/bench/floor/"),  # as measured: no session
        "queue": count_queries(client, "get", "/tickets/?scope=queue"),
        "ticket": count_queries(client, "get", f"/tickets/{ticket_ids[0]}/"),
    }
    queries["list"] = count_queries(client, "get", "/tickets/")
    queries["dashboard"] = count_queries(client, "get", "/")
    queries["search"] = count_queries(client, "get", "/tickets/?q=cut")
    client.force_login(executor)
    queries["list_exec"] = count_queries(client, "get", "/tickets/")
    queries["search_exec"] = count_queries(client, "get", "/tickets/?q=cut")
    client.force_login(ledger_owner)
    queries["ledger"] = count_queries(client, "get", "/ledger/")
    queries["inbox"] = count_queries(client, "get", "/inbox/")
    client.force_login(User.objects.get(id=Ticket.objects.get(id=counted_form["id"]).reviewer_id))
    queries["approve_form"] = count_queries(
        client,
        "post",
        f"/tickets/{counted_form['id']}/approve/",
        data={"credits": counted_form["credits"], "pay": counted_form["pay"]},
        headers={"HX-Request": "true"},
    )
    # The widest viewer's analytics: Nyx (every member), one year by week.
    nyx = User.objects.get(rank=Rank.NYX)
    client.force_login(nyx)
    analytics_path = analytics_year_path()
    queries["analytics"] = count_queries(client, "get", analytics_path)
    queries["approve"] = count_queries(
        Client(HTTP_HOST=HOST),
        "patch",
        f"/api/tickets/{counted['id']}/approve",
        data=json.dumps({"credits": counted["credits"], "pay": counted["pay"]}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {counted['token']}"},
    )
    # The queue page's own query (tickets.selectors.list_page).
    queue_filters = selectors.TicketFilters(scope="queue")
    queue = selectors.list_page(marshal, queue_filters)
    queue_query = (
        selectors.filtered_tickets(marshal, queue_filters)
        .values(*selectors.LIST_ROW_FIELDS)
        .order_by("-updated_at", "-id")[:26]
    )
    return {
        "sessions": {
            "reviewer": session_for(marshal),
            "ledger_owner": session_for(ledger_owner),
            "executor": session_for(executor),
            "nyx": session_for(nyx),
        },
        "analytics_path": analytics_path,
        "queue_length": busiest["n"],
        "queue_page_rows": len(queue.items),
        "ledger_entries": owner_row["n"],
        "ticket_ids": ticket_ids,
        "approvals": api_plan,
        "form_approvals": form_plan,
        "csrf": csrf_pair(),
        "queries": queries,
        "tickets_total": Ticket.objects.count(),
        "members_total": User.objects.count(),
        "queue_sql": str(queue_query.query),
        "queue_plan": queue_query.explain(),
    }


def analytics_year_path():
    """The analytics page over the last year (the longest range it takes: 366 days to today), by week."""
    today = now().date()
    return f"/analytics/?start={today - timedelta(days=365)}&end={today}&interval=week"


def load_plan():
    """Reviewers' tokens with their tickets awaiting review; marshals' tokens with people they may adjust."""
    reviews = defaultdict(list)
    for ticket_id, reviewer_id, credits, pay, _ in normal_awaiting(100_000):
        reviews[reviewer_id].append({"id": ticket_id, "credits": credits, "pay": str(pay)})
    marshals = list(User.objects.filter(rank=Rank.MARSHAL).order_by("username"))
    people = {
        marshal.id: list(
            User.objects.filter(reports_to_id=marshal.id).order_by("username").values_list("id", flat=True)[:20]
        )
        for marshal in marshals
    }
    reviewers = {reviewer_id: token_for(User.objects.get(id=reviewer_id)) for reviewer_id in reviews}
    return {
        "reviews": [{"token": reviewers[reviewer_id], "tickets": tickets} for reviewer_id, tickets in reviews.items()],
        "adjusters": [{"token": token_for(m), "people": people[m.id]} for m in marshals if people[m.id]],
    }


def check():
    """Every violation of the ledger invariant, of "no ticket paid twice" and of the unread counts, as sentences
    (empty: none). Read in one unit, so that server processes still writing meanwhile cannot split a write
    between two of its reads."""
    with atomic():
        return _check()


def _check():
    violations = []
    credits, gained, pay = defaultdict(int), defaultdict(int), defaultdict(lambda: Decimal("0.00"))
    for user_id, amount_cr, amount_pay in Transaction.objects.values_list("user_id", "amount_cr", "amount_pay"):
        credits[user_id] += amount_cr
        gained[user_id] += max(amount_cr, 0)
        pay[user_id] += amount_pay
    unread = Counter(Notification.objects.filter(read=False).values_list("user_id", flat=True))
    members = User.objects.values_list("id", "username", "credits", "balance", "credits_gained", "unread_notifications")
    for user_id, name, wallet_credits, balance, kept_gained, unread_kept in members:
        if wallet_credits != credits[user_id] or balance != pay[user_id]:
            violations.append(
                f"{name}: wallet {wallet_credits} cr / {balance}, ledger {credits[user_id]} cr / {pay[user_id]}"
            )
        if kept_gained != gained[user_id]:
            violations.append(f"{name}: {kept_gained} credits gained kept, {gained[user_id]} in the ledger")
        if unread_kept != unread[user_id]:
            violations.append(f"{name}: unread count {unread_kept}, {unread[user_id]} unread notifications")
    payouts = Counter(Transaction.objects.exclude(related_ticket=None).values_list("related_ticket_id", "type"))
    violations += [f"ticket {t}: {n} x {kind}" for (t, kind), n in payouts.items() if n > 1]
    kinds = defaultdict(set)
    for ticket_id, kind in payouts:
        kinds[ticket_id].add(kind)
    closed = Ticket.objects.filter(status=Ticket.Status.CLOSED).values_list("id", "reward_credits", "reward_pay")
    for ticket_id, reward_credits, reward_pay in closed:
        expected = {
            kind
            for kind, amount in (
                (Transaction.Type.CREDIT_AWARD, reward_credits),
                (Transaction.Type.PAYMENT, reward_pay),
            )
            if amount
        }
        found = kinds.get(ticket_id, set())
        if found != expected:
            violations.append(f"ticket {ticket_id}: closed with {sorted(found)} paid, expected {sorted(expected)}")
    paid_open = set(kinds) - set(Ticket.objects.filter(status=Ticket.Status.CLOSED).values_list("id", flat=True))
    violations += [f"ticket {t}: paid but not closed" for t in sorted(paid_open)]
    violations += [f"daily ledger total {mismatch}" for mismatch in ledger_day_mismatches()]
    violations += [f"daily review total {mismatch}" for mismatch in review_day_mismatches()]
    return {
        "violations": violations,
        "members": User.objects.count(),
        "transactions": Transaction.objects.count(),
        "closed": Ticket.objects.filter(status=Ticket.Status.CLOSED).count(),
    }


def answer(command, *arguments):
    if command == "bench-plan":
        return bench_plan(int(arguments[0]), int(arguments[1]))
    if command == "load-plan":
        return load_plan()
    if command == "check":
        return check()
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        # One command per line on stdin, one JSON answer per line on stdout: saves a Django start per call.
        for line in sys.stdin:
            print(json.dumps(answer(*line.split())), flush=True)
    else:
        print(json.dumps(answer(*sys.argv[1:])))

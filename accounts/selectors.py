"""Reads of people and the hierarchy that depend on who is asking.

Subtrees are one prefix query on the materialised `chain`, so their cost does
not grow with the number of people in them.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Aggregate, Case, Count, Max, Q, QuerySet, Sum, Value, When

from accounts.models import LoginFailure, Notification, User
from accounts.policy import Action, can, directs_subordinates, sees_everyone
from accounts.ranks import Rank, level
from directorate.db import first_of, now
from directorate.errors import NotFound

# What is read of a member shown beside something else (a ticket's people, a comment's author, a file's
# uploader, a watcher): what names them (`accounts.presentation.shown_name`, `accounts.schemas.person_out`) and what
# the policy asks of them (`accounts.policy.can`). Never the password hash, the e-mail address or the wallet.
PERSON_COLUMNS = ("id", "username", "display_name", "rank", "hidden", "is_active", "reports_to", "chain")


def with_people(rows: QuerySet[Any], *relations: str) -> QuerySet[Any]:
    """`rows` with the members they name by `relations` (e.g. "author") read in the same query, each with
    PERSON_COLUMNS only; every column of the rows themselves is read."""
    columns = [field.name for field in rows.model._meta.concrete_fields]
    people = [f"{relation}__{column}" for relation in relations for column in PERSON_COLUMNS]
    return rows.select_related(*relations).only(*columns, *people)


def in_subtree(chain: str, *, field: str = "chain") -> Q:
    """`field` starts with `chain`, written as a range so that both databases read it from the index.

    `chain__startswith` becomes `LIKE '<chain>%' ESCAPE '\\'` on SQLite, which cannot use the `user_chain`
    index (SQLite's LIKE is case-insensitive, the index is not): every subtree query scanned the whole
    member table. Strings that start with `chain` are exactly those from `chain` (inclusive) up to `chain`
    with its last character incremented (exclusive), in the binary order both databases compare in.
    """
    upper = chain[:-1] + chr(ord(chain[-1]) + 1)
    return Q(**{f"{field}__gte": chain, f"{field}__lt": upper})


def outside_subtree(chain: str, *, field: str = "chain") -> Q:
    """`field` does not start with `chain`: the two ranges either side of `in_subtree`'s, read from the index."""
    upper = chain[:-1] + chr(ord(chain[-1]) + 1)
    return Q(**{f"{field}__lt": chain}) | Q(**{f"{field}__gte": upper})


def people_visible_to(viewer: User) -> QuerySet[User]:
    """Everyone `viewer` may see in the directory, per `Action.VIEW_PERSON`."""
    people = User.objects.all()
    if sees_everyone(viewer, Action.VIEW_PERSON):
        return people
    in_chain = in_subtree(viewer.chain) | Q(id__in=viewer.superior_ids)
    if viewer.reports_to_id:
        in_chain |= Q(reports_to_id=viewer.reports_to_id)
    return people.filter(in_chain, hidden=False)


def search_people(viewer: User, text: str = "") -> QuerySet[User]:
    """The people `viewer` may see whose name or service name contains `text` (all of them for none), by name:
    the directory page and the API's people search alike."""
    people = people_visible_to(viewer)
    text = text.strip()
    if text:
        people = people.filter(Q(display_name__icontains=text) | Q(username__icontains=text))
    return people.order_by("display_name", "id")


def person_for(viewer: User, person_id: object) -> User:
    """One person `viewer` may see, or NotFound (also for people who exist but are out of sight)."""
    person = first_of(people_visible_to(viewer).filter(id=str(person_id)))
    if person is None:
        raise NotFound("No such person.")
    return person


def subordinates_of(user: User, *, up_to: Rank | None = None) -> QuerySet[User]:
    """Everyone below `user` in the reporting subtree, optionally only up to a rank."""
    people = User.objects.filter(in_subtree(user.chain)).exclude(id=user.id).filter(hidden=False)
    if up_to is not None:
        people = people.filter(rank__in=[rank for rank in Rank if level(rank) <= level(up_to)])
    return people


def direct_reports_of(user: User) -> QuerySet[User]:
    return User.objects.filter(reports_to_id=user.id, hidden=False)


def superiors_of(user: User) -> list[User]:
    """Everyone above `user` that `user` may see, nearest first."""
    ids = user.superior_ids
    people = {person.id: person for person in User.objects.filter(id__in=ids, hidden=False)}
    return [people[person_id] for person_id in reversed(ids) if person_id in people]


def visible_superior_of(user: User) -> User | None:
    """The direct superior, unless hidden (then the Directorate stands in, shown as None)."""
    superior = user.reports_to
    return None if superior is None or superior.hidden else superior


def login_lockout_seconds(*, username: str, address: str | None, pending: int = 0) -> int:
    """Seconds until a sign-in for this account name and address may be tried again, or 0.

    `pending`: attempts already counted in the rows but not yet judged (the caller's own, see
    `accounts.services.sign_in`); they are allowed on top of the limit.
    """
    throttle = settings.LOGIN_THROTTLE
    window = timedelta(seconds=throttle["window_seconds"])
    since = now() - window
    longest = 0
    for scope, key, limit in (
        (LoginFailure.Scope.ACCOUNT, normalise_login_name(username), throttle["per_account"]),
        (LoginFailure.Scope.ADDRESS, address or "unknown", throttle["per_address"]),
    ):
        recent = LoginFailure.objects.filter(scope=scope, key=key, ts__gte=since).order_by("-ts")
        times = list(recent.values_list("ts", flat=True)[: limit + pending])
        if len(times) >= limit + pending:
            # Locked until the oldest of the last `limit` failures leaves the window.
            longest = max(longest, int((times[-1] + window - now()).total_seconds()) + 1)
    return longest


def normalise_login_name(username: str | None) -> str:
    return (username or "").strip().lower()[:150]


def request_subjects(actor: User) -> list[User]:
    """Whom a personnel request by `actor` may concern (`policy.may_request_about`): themselves first, then their
    subordinates by name."""
    return [actor, *subordinates_of(actor).order_by("display_name")]


def addressable_people(actor: User) -> list[User]:
    """Whom `actor` may address a ticket to: their direct superior (upward), themselves and subordinates."""
    people = []
    superior = visible_superior_of(actor)
    if superior is not None and can(actor, Action.CREATE_TICKET_UPWARD, superior):
        people.append(superior)
    if can(actor, Action.CREATE_DIRECTIVE, actor):
        people.append(actor)
    if directs_subordinates(actor):
        people.extend(subordinates_of(actor).order_by("display_name"))
    return people


def inbox_of(user: User) -> QuerySet[Notification]:
    """A member's notifications, newest first."""
    return Notification.objects.filter(user_id=user.id).order_by("-ts", "-id")


def inbox_groups(user: User, *, unread_only: bool = False) -> QuerySet[Any, Any]:
    """A member's notifications for the inbox page, identical ones (same words, same ticket) as one row,
    the most recent first: each row has `message`, `ticket_id`, `count`, `unread` (how many of them are
    unread), `latest` (the newest one's time) and `newest_id` (its id, the row's handle for reading it).

    `unread_only` keeps the rows with something unread and counts only the unread ones.
    """
    notices = Notification.objects.filter(user_id=user.id)
    if unread_only:
        notices = notices.filter(read=False)
        unread: Aggregate = Count("id")  # all of them; compiling the CASE cost a third of this read
    else:
        unread = Sum(Case(When(read=False, then=Value(1)), default=Value(0)))
    return (
        notices.values("message", "ticket_id")
        .annotate(
            count=Count("id"),
            unread=unread,
            latest=Max("ts"),
            newest_id=Max("id"),
        )
        .order_by("-latest", "-newest_id")
    )


def unread_count(user: User) -> int:
    """How many of `user`'s notifications are unread, as kept on their row (accounts.services)."""
    return user.unread_notifications

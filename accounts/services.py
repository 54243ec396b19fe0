"""Writes to people and sign-in records. Every write goes through here."""

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import HttpRequest

from accounts import tokens
from accounts.models import LoginFailure, Notification, RankChange, RefreshToken, User
from accounts.policy import Action, may_at_all
from accounts.presentation import shown_name
from accounts.ranks import Rank
from accounts.selectors import in_subtree, login_lockout_seconds, normalise_login_name, subordinates_of
from accounts.signals import rank_changed
from directorate.db import atomic, first_of, new_object_id, now, retry_on_write_conflict, unlinkable_object_id
from directorate.errors import Conflict, Forbidden, Invalid, NotFound, Throttled
from directorate.events import close_sockets, publish, publish_each
from directorate.text import refuse_bidi_controls

SERVICE_NUMBER_RANGE = (10000, 99999)  # five digits; Niki alone holds a four-digit number
BROADCAST_MAX = 500


@retry_on_write_conflict
def enlist(
    *,
    username: str,
    display_name: str,
    rank: Rank | str,
    reports_to: User | None,
    password: str | None = None,
    email: str = "",
    hidden: bool = False,
    service_number: int | None = None,
    password_hash: str | None = None,
    member_id: str | None = None,
) -> User:
    """Create a member of the Directorate. Used by bootstrap and seeding; no password means no login.

    `password_hash` (from `make_password`) lets a seed give many members one password without
    hashing it again for each.
    """
    refuse_bidi_controls(display_name, field="display_name", label="A name")
    refuse_bidi_controls(username, field="username", label="A service name")
    user = User(
        id=member_id or new_object_id(),
        username=username,
        display_name=display_name,
        rank=Rank(rank),
        reports_to=reports_to,
        email=email,
        hidden=hidden,
        service_number=service_number or _free_service_number(),
    )
    if password_hash is not None:
        user.password = password_hash
    elif password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as error:
        raise Invalid("The member could not be enlisted.", field_errors=error.message_dict) from error
    with atomic():
        user.save(force_insert=True)
    return user


def issuable_service_number(number: int) -> bool:
    """Whether `number` may be given to a member: five digits that do not hold the Controller's 7360. A search
    for Niki's number then finds no one, and no member's number reads as theirs (docs/rules.md section 1)."""
    low, high = SERVICE_NUMBER_RANGE
    return low <= number <= high and str(NIKI_SERVICE_NUMBER) not in str(number)


def _free_service_number() -> int:
    low, high = SERVICE_NUMBER_RANGE
    while True:
        number = secrets.randbelow(high - low + 1) + low
        if issuable_service_number(number) and not User.objects.filter(service_number=number).exists():
            return number


INCORRECT_SIGN_IN = "Service name or password is incorrect."


def sign_in(*, request: HttpRequest | None, username: str, password: str) -> User:
    """The one sign-in check of the pages and the API: the throttle, then the password. Returns the member.

    The attempt is counted before the password is checked: its two rows (per name, per address) are committed
    first, and only then are the rows in the window counted, so that of any number of simultaneous guesses at
    most the limit see a count within it (each sees at least the rows committed before its own) and are
    judged; the others are refused as throttled, the right password among them. This needs no lock, so it
    holds on SQLite and MongoDB alike and across server processes. A refused attempt takes its rows back (it
    was never judged, so it does not prolong the lockout); a wrong password leaves them as the failure; a
    right one clears the name's failures and its own address row (a success is no failure).
    Raises Throttled (HTTP 429) or Invalid (HTTP 400, the same answer for an unknown name).
    """
    name = normalise_login_name(username)
    address = client_address(request)
    moment = now()
    attempt = [
        LoginFailure(scope=LoginFailure.Scope.ACCOUNT, key=name, ts=moment),
        LoginFailure(scope=LoginFailure.Scope.ADDRESS, key=address, ts=moment),
    ]
    with atomic():
        LoginFailure.objects.bulk_create(attempt)
    if login_lockout_seconds(username=name, address=address, pending=1):
        with atomic():
            LoginFailure.objects.filter(id__in=[row.id for row in attempt]).delete()
        wait = max(1, login_lockout_seconds(username=name, address=address))
        minutes = -(-wait // 60)
        raise Throttled(
            f"Too many failed sign-in attempts. Try again in {minutes} minute{'' if minutes == 1 else 's'}."
        )
    user = authenticate(request, username=username, password=password)
    if user is None:
        forget_expired_login_failures()
        raise Invalid(INCORRECT_SIGN_IN)
    with atomic():
        LoginFailure.objects.filter(id=attempt[1].id).delete()
        LoginFailure.objects.filter(scope=LoginFailure.Scope.ACCOUNT, key=name).delete()
    return user


def client_address(request: HttpRequest | None) -> str:
    """The address the sign-in throttle counts: the connection's own, or behind a reverse proxy the one the proxy
    puts in `TRUSTED_PROXY_ADDRESS_HEADER` (docs/operations.md)."""
    if request is None:
        return "unknown"
    header = settings.TRUSTED_PROXY_ADDRESS_HEADER
    address = request.META.get(header, "") if header else request.META.get("REMOTE_ADDR", "")
    return address.strip()[:150] or "unknown"


def forget_expired_login_failures() -> None:
    cutoff = now() - timedelta(seconds=settings.LOGIN_THROTTLE["window_seconds"])
    LoginFailure.objects.filter(ts__lt=cutoff).delete()


NIKI_SERVICE_NUMBER = 7360
NIKI_USERNAME = "niki"
NYX_USERNAME = "nyx"
NIKI_PASSWORD_MIN_LENGTH = 12


def bootstrap_directorate(*, niki_password: str | None = None) -> str | None:
    """Create Controller Niki and the Nyx system account, once.

    Returns Niki's password when Niki was created now (generated if none was
    given), so the caller can show it once; None when nothing was created.
    Nyx has no password: it signs in nowhere and acts through the services.
    """
    if niki_password is not None and len(niki_password) < NIKI_PASSWORD_MIN_LENGTH:
        raise Invalid(f"Niki's password must be at least {NIKI_PASSWORD_MIN_LENGTH} characters long.")
    created_password = None
    with atomic():
        niki = User.objects.filter(rank=Rank.NIKI).first()
        if niki is None:
            created_password = niki_password or secrets.token_urlsafe(18)
            niki = enlist(
                username=NIKI_USERNAME,
                display_name="Niki",
                rank=Rank.NIKI,
                reports_to=None,
                password=created_password,
                hidden=True,
                service_number=NIKI_SERVICE_NUMBER,
                member_id=unlinkable_object_id(),  # never computable from Nyx's or anyone's id
            )
        if not User.objects.filter(rank=Rank.NYX).exists():
            enlist(username=NYX_USERNAME, display_name="Nyx", rank=Rank.NYX, reports_to=niki)
    return created_password


def nyx_account() -> User:
    return User.objects.get(rank=Rank.NYX)


def notify(*, recipients: Iterable[User | None], message: str, ticket: Any = None) -> list[Notification]:
    """Store a notification for each recipient (spec 2.4). Call inside the writing service's atomic unit."""
    moment = now()
    notifications = [
        Notification(user_id=recipient.id, message=message[:500], ticket=ticket, ts=moment)
        for recipient in {person.id: person for person in recipients if person is not None}.values()
    ]
    Notification.objects.bulk_create(notifications)
    User.objects.filter(id__in=[notification.user_id for notification in notifications]).update(
        unread_notifications=F("unread_notifications") + 1
    )
    publish_each(
        "notification",
        [
            (
                notification.user_id,
                {"id": notification.id, "message": notification.message, "ticket_id": notification.ticket_id},
            )
            for notification in notifications
        ],
    )
    return notifications


@retry_on_write_conflict
def broadcast(*, actor: User, message: str | None) -> int:
    """A command to everyone in the actor's subtree (executor and up), delivered as notifications."""
    message = (message or "").strip()
    if not message:
        raise Invalid("A broadcast needs a message.", field_errors={"message": ["Required."]})
    if len(message) > BROADCAST_MAX:
        raise Invalid(f"A broadcast has at most {BROADCAST_MAX} characters.", field_errors={"message": ["Too long."]})
    refuse_bidi_controls(message, field="message", label="A broadcast")
    if not may_at_all(actor, Action.BROADCAST):
        raise Forbidden("Broadcasts are for executors and above.")
    recipients = list(subordinates_of(actor).only("id"))  # notify needs their ids: a thousand rows read lightly
    with atomic():
        notify(recipients=recipients, message=f"Command from {shown_name(actor)}: {message}")
    return len(recipients)


def move_member(person: User, *, rank: Rank | str, superior: User, approved_by: User, ticket: Any = None) -> RankChange:
    """Change a member's rank and superior, re-rooting the chains of everyone below them, and record the change
    (`RankChange`: from and to, who approved it, the personnel request it decides). Returns the record.

    The only way to change a superior: `User.save` refuses a `reports_to` that disagrees
    with the chain. Callers also call `tickets.search.reindex_subtree_of(person)`: who sees the moved
    members' tickets changed with their chains. Call inside the caller's atomic unit.
    One update per member below, which is bounded by the size of that subtree.
    """
    record = RankChange.objects.create(
        user=person,
        from_rank=person.rank,
        to_rank=rank,
        from_superior=person.reports_to,
        to_superior=superior,
        approved_by=approved_by,
        ticket=ticket,
    )
    old_chain = person.chain
    new_chain = person.chain_below(superior)
    # Conditional on the rank and chain just read: two changes at once cannot both apply.
    moved = User.objects.filter(id=person.id, rank=person.rank, chain=old_chain).update(
        rank=rank, reports_to_id=superior.id, chain=new_chain, updated_at=now()
    )
    if moved != 1:
        raise Conflict(f"{shown_name(person)} changed meanwhile; reload and try again.")
    if rank != person.rank:
        rank_changed.send(sender=User, member_id=person.id, old_rank=str(person.rank), new_rank=str(rank))
        # Their open pages redraw the wallet's rank icon and name and the Standing box.
        publish([person.id], "rank_changed", {"user_id": person.id, "rank": str(rank), "previous_rank": person.rank})
    if new_chain != old_chain:
        for member_id, chain in (
            User.objects.filter(in_subtree(old_chain)).exclude(id=person.id).values_list("id", "chain")
        ):
            User.objects.filter(id=member_id).update(chain=new_chain + chain[len(old_chain) :])
    return record


@retry_on_write_conflict
def mark_read(*, actor: User, notification_id: str) -> None:
    """Mark one of the actor's own notifications read. Anyone else's is "not found"."""
    mine = Notification.objects.filter(id=str(notification_id), user_id=actor.id)
    with atomic():
        newly_read = mine.filter(read=False).update(read=True)
        if not newly_read and not mine.exists():
            raise NotFound("No such notification.")
        _count_as_read(actor, newly_read)


@retry_on_write_conflict
def mark_alike_read(*, actor: User, notification_id: object) -> Notification:
    """Mark read one of the actor's notifications and every one identical to it (same words, same ticket):
    the inbox shows them as one row. Returns the notification; anyone else's is "not found"."""
    notification = first_of(Notification.objects.filter(id=str(notification_id), user_id=actor.id))
    if notification is None:
        raise NotFound("No such notification.")
    with atomic():
        newly_read = Notification.objects.filter(
            user_id=actor.id, read=False, message=notification.message, ticket_id=notification.ticket_id
        ).update(read=True)
        _count_as_read(actor, newly_read)
    return notification


@retry_on_write_conflict
def mark_all_read(*, actor: User) -> int:
    """Mark all the actor's notifications read; returns how many were unread."""
    with atomic():
        newly_read = Notification.objects.filter(user_id=actor.id, read=False).update(read=True)
        _count_as_read(actor, newly_read)
    return newly_read


def _count_as_read(member: User, newly_read: int) -> None:
    """Take `newly_read` notifications off the member's unread count, in the database and on `member`.

    Only the requests whose conditional update turned a notification from unread to read count it, so two
    requests marking the same notification at once take it off once.
    """
    if newly_read:
        User.objects.filter(id=member.id).update(unread_notifications=F("unread_notifications") - newly_read)
        member.refresh_from_db(fields=["unread_notifications"])


# Tokens of the JSON API (accounts/tokens.py) ------------------------------------------------------------------


@retry_on_write_conflict
def start_token_family(*, user: User) -> dict[str, Any]:
    """A fresh pair of tokens for a member who just signed in: a new family and its first refresh token."""
    moment = now()
    family = new_object_id()
    with atomic():
        RefreshToken.objects.filter(user_id=user.id, expires_at__lt=moment).delete()
        refresh = _issue_refresh_token(user_id=user.id, family=family, moment=moment)
    return _token_pair(user_id=user.id, family=family, refresh=refresh, moment=moment)


@retry_on_write_conflict
def rotate_refresh_token(*, token: str) -> dict[str, Any]:
    """Spend a refresh token for a new pair in the same family.

    A token is spent by a conditional update (`used_at` still empty), so of two uses at once only one wins.
    A spent or revoked token presented again means it was copied: the whole family is revoked, and the
    refusal (TokenRefused, HTTP 401) stands for every token of that family from then on.
    """
    stored = _stored_refresh_token(token)
    moment = now()
    with atomic():
        spent = RefreshToken.objects.filter(id=stored.id, used_at=None, revoked_at=None).update(used_at=moment)
        if spent == 1:
            user = tokens.active_member(stored.user_id)  # refused: the spend rolls back with it
            refresh = _issue_refresh_token(user_id=user.id, family=stored.family, moment=moment)
    if spent != 1:
        revoke_token_family(family=stored.family)
        raise tokens.TokenRefused("This refresh token was already used; its session is revoked. Sign in again.")
    return _token_pair(user_id=stored.user_id, family=stored.family, refresh=refresh, moment=moment)


@retry_on_write_conflict
def revoke_token_family(*, family: str) -> int:
    """End a session of the JSON API: every token of the family is refused from now on, and its live sockets
    close."""
    with atomic():
        revoked = RefreshToken.objects.filter(family=family, revoked_at=None).update(revoked_at=now())
        member_id = RefreshToken.objects.filter(family=family).values_list("user_id", flat=True).first()
        if member_id:
            close_sockets(member_id, token_family=family)
    return revoked


def end_browser_session(*, user: User | None, session_key: str | None) -> None:
    """A member signed out of a browser session: that session's live sockets close (in every process)."""
    if user is not None and session_key:
        close_sockets(user.id, session_key=session_key)


def sign_out_token(*, token: str) -> None:
    """Sign-out with a refresh token: revokes its family. A token that is not valid is refused (HTTP 401)."""
    revoke_token_family(family=_stored_refresh_token(token).family)


def _stored_refresh_token(token: str) -> RefreshToken:
    claims = tokens.decode(token, expected_type=tokens.REFRESH)
    stored = first_of(RefreshToken.objects.filter(jti_hash=tokens.jti_hash(claims["jti"])))
    if stored is None or stored.user_id != claims["sub"] or stored.family != claims["fam"]:
        raise tokens.TokenRefused("The token is not valid.")
    return stored


def _issue_refresh_token(*, user_id: str, family: str, moment: datetime) -> str:
    jti = tokens.new_jti()
    RefreshToken.objects.create(
        user_id=user_id,
        family=family,
        jti_hash=tokens.jti_hash(jti),
        issued_at=moment,
        expires_at=moment + tokens.REFRESH_LIFETIME,
    )
    return tokens.encode(user_id=user_id, token_type=tokens.REFRESH, family=family, jti=jti, issued_at=moment)


def _token_pair(*, user_id: str, family: str, refresh: str, moment: datetime) -> dict[str, Any]:
    access = tokens.encode(
        user_id=user_id, token_type=tokens.ACCESS, family=family, jti=tokens.new_jti(), issued_at=moment
    )
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": int(tokens.ACCESS_LIFETIME.total_seconds()),
        "refresh_expires_in": int(tokens.REFRESH_LIFETIME.total_seconds()),
    }

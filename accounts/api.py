"""The JSON API's sign-in, people and notifications (docs/api.md). Reads through selectors, writes through services."""

from ninja import Field, Query, Router, Schema

from accounts import selectors, services
from accounts.schemas import (
    LogoutOut,
    MeOut,
    NotificationsOut,
    PeopleOut,
    PersonOut,
    ReadAllOut,
    ReadOut,
    RefreshIn,
    TokenIn,
    TokenPairOut,
    me_out,
    notification_out,
    person_out,
)
from directorate import keyset
from directorate.schemas import errors

auth_router = Router(tags=["auth"])
people_router = Router(tags=["people"])
notifications_router = Router(tags=["notifications"])

PEOPLE_PAGE_SIZE = 50
NOTIFICATIONS_PAGE_SIZE = 25


# Sign-in ------------------------------------------------------------------------------------------------------


@auth_router.post("/token", auth=None, response={200: TokenPairOut, **errors(400, 429)})
def token(request, payload: TokenIn):
    """Sign in with a service name and password: an access token (15 minutes) and a refresh token (14 days).

    The same check and throttle as the sign-in page: after repeated failures, HTTP 429 even with the right password.
    """
    user = services.sign_in(request=request, username=payload.username, password=payload.password)
    return services.start_token_family(user=user)


@auth_router.post("/refresh", auth=None, response={200: TokenPairOut, **errors(400, 401)})
def refresh(request, payload: RefreshIn):
    """Exchange a refresh token for a new pair. Each refresh token works once: using it again revokes its session."""
    return services.rotate_refresh_token(token=payload.refresh_token)


@auth_router.post("/logout", auth=None, response={200: LogoutOut, **errors(400, 401)})
def logout(request, payload: RefreshIn):
    """End the session of a refresh token: it and every token issued with it, access tokens included, stop working."""
    services.sign_out_token(token=payload.refresh_token)
    return {"detail": "Signed out."}


# People -------------------------------------------------------------------------------------------------------


@people_router.get("/me", response={200: MeOut, **errors(401)})
def me(request):
    """The signed-in member, with wallet and unread count."""
    user = request.auth
    return me_out(user, superior=selectors.visible_superior_of(user), unread=selectors.unread_count(user))


class PeopleQuery(Schema):
    q: str = Field("", max_length=80, description="Part of a name or service name.")
    page: int = Field(1, ge=1, le=100_000)


@people_router.get("/users", response={200: PeopleOut, **errors(400, 401)})
def people(request, filters: Query[PeopleQuery]):
    """The people you may see (your chain of command), by name."""
    start = (filters.page - 1) * PEOPLE_PAGE_SIZE
    rows = list(selectors.search_people(request.auth, filters.q)[start : start + PEOPLE_PAGE_SIZE + 1])
    return {
        "items": [person_out(person) for person in rows[:PEOPLE_PAGE_SIZE]],
        "page": filters.page,
        "has_more": len(rows) > PEOPLE_PAGE_SIZE,
    }


@people_router.get("/users/{user_id}", response={200: PersonOut, **errors(401, 404)})
def person(request, user_id: str):
    """One person you may see; anyone else is "not found", exactly like an id that does not exist."""
    return person_out(selectors.person_for(request.auth, user_id))


# Notifications ----------------------------------------------------------------------------------------------


class NotificationsQuery(Schema):
    after: str | None = Field(None, max_length=200, description="`next_cursor` of the previous page.")


@notifications_router.get("", response={200: NotificationsOut, **errors(400, 401)})
def notifications(request, filters: Query[NotificationsQuery]):
    """Your notifications, newest first, 25 a page."""
    items, next_cursor = keyset.page(
        selectors.inbox_of(request.auth), field="ts", cursor=filters.after, size=NOTIFICATIONS_PAGE_SIZE
    )
    return {
        "items": [notification_out(item) for item in items],
        "next_cursor": next_cursor,
        "unread": selectors.unread_count(request.auth),
    }


@notifications_router.post("/read-all", response={200: ReadAllOut, **errors(401)})
def read_all(request):
    """Mark all your notifications read."""
    return {"marked_read": services.mark_all_read(actor=request.auth)}


@notifications_router.post("/{notification_id}/read", response={200: ReadOut, **errors(401, 404)})
def read(request, notification_id: str):
    """Mark one of your notifications read; anyone else's is "not found"."""
    services.mark_read(actor=request.auth, notification_id=notification_id)
    return {"id": notification_id, "read": True}

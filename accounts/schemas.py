"""Schemas of the JSON API for people, sign-in tokens and notifications."""

from datetime import datetime
from typing import Annotated

from ninja import Field, Schema
from pydantic import StrictStr, model_serializer

from accounts.presentation import shown_name, shown_person
from directorate.schemas import Money, money

RankName = Annotated[str, Field(examples=["asset", "marshal"])]


class PersonOut(Schema):
    """A person as others may see them. Someone hidden (the Controller) is only `{"name": "The Directorate"}`."""

    id: str | None = Field(None, description="Absent for the Directorate.")
    name: str
    rank: RankName | None = Field(None, description="Absent for the Directorate.")
    username: str | None = Field(None, description="The service name. Absent for the Directorate.")

    @model_serializer(mode="wrap")
    def _without_absent(self, serialize):
        return {key: value for key, value in serialize(self).items() if value is not None}


def person_out(person):
    """The shown form of `person` (None stays None): the Directorate stands in for anyone hidden."""
    if person is None:
        return None
    shown = shown_person(person)
    if shown is None:
        return PersonOut(name=shown_name(person))
    return PersonOut(id=shown.id, name=shown.display_name, rank=shown.rank, username=shown.username)


class MeOut(Schema):
    id: str
    username: str
    name: str
    rank: RankName
    service_number: int
    credits: int
    balance: Money
    superior: PersonOut = Field(description="Your direct superior; the Directorate where none may be shown.")
    unread_notifications: int


class PeopleOut(Schema):
    items: list[PersonOut]
    page: int
    has_more: bool


# Sign-in ------------------------------------------------------------------------------------------------------


class TokenIn(Schema):
    username: StrictStr = Field(max_length=150)
    password: StrictStr = Field(max_length=1024)


class RefreshIn(Schema):
    refresh_token: StrictStr = Field(max_length=4096)


class TokenPairOut(Schema):
    access_token: str
    refresh_token: str
    token_type: str = Field(examples=["Bearer"])
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires.")


class LogoutOut(Schema):
    detail: str


# Notifications ----------------------------------------------------------------------------------------------


class NotificationOut(Schema):
    id: str
    message: str
    ticket_id: str | None
    read: bool
    ts: datetime


class NotificationsOut(Schema):
    items: list[NotificationOut]
    next_cursor: str | None
    unread: int


class ReadOut(Schema):
    id: str
    read: bool


class ReadAllOut(Schema):
    marked_read: int


def notification_out(notification):
    return NotificationOut(
        id=notification.id,
        message=notification.message,
        ticket_id=notification.ticket_id,
        read=notification.read,
        ts=notification.ts,
    )


def me_out(user, *, superior, unread):
    return MeOut(
        id=user.id,
        username=user.username,
        name=user.display_name,
        rank=user.rank,
        service_number=user.service_number,
        credits=user.credits,
        balance=money(user.balance),
        superior=person_out(superior) or PersonOut(name=shown_name(None)),
        unread_notifications=unread,
    )

"""Writes to people and sign-in records. Every write goes through here."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from accounts.models import LoginFailure, User
from accounts.ranks import Rank
from accounts.selectors import normalise_login_name
from directorate.db import atomic, now
from directorate.errors import Invalid

SERVICE_NUMBER_RANGE = (10000, 99999)  # five digits; Niki alone holds a four-digit number


def enlist(
    *, username, display_name, rank, reports_to, password=None, email="", hidden=False, service_number=None
):
    """Create a member of the Directorate. Used by bootstrap and seeding; `password=None` means no login."""
    user = User(
        username=username,
        display_name=display_name,
        rank=Rank(rank),
        reports_to=reports_to,
        email=email,
        hidden=hidden,
        service_number=service_number or _free_service_number(),
    )
    if password is None:
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


def _free_service_number():
    low, high = SERVICE_NUMBER_RANGE
    while True:
        number = secrets.randbelow(high - low + 1) + low
        if not User.objects.filter(service_number=number).exists():
            return number


def change_password(*, user, password):
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise Invalid(" ".join(error.messages), field_errors={"password": error.messages}) from error
    user.set_password(password)
    user.save(update_fields=["password"])


def record_login_failure(*, username, address):
    """Count one failed sign-in against the account name and the client address."""
    moment = now()
    LoginFailure.objects.bulk_create(
        [
            LoginFailure(scope=LoginFailure.Scope.ACCOUNT, key=normalise_login_name(username), ts=moment),
            LoginFailure(scope=LoginFailure.Scope.ADDRESS, key=address or "unknown", ts=moment),
        ]
    )
    forget_expired_login_failures()


def clear_login_failures(*, username):
    """A successful sign-in forgives the account's earlier failures (not the address's)."""
    LoginFailure.objects.filter(scope=LoginFailure.Scope.ACCOUNT, key=normalise_login_name(username)).delete()


def forget_expired_login_failures():
    cutoff = now() - timedelta(seconds=settings.LOGIN_THROTTLE["window_seconds"])
    LoginFailure.objects.filter(ts__lt=cutoff).delete()


NIKI_SERVICE_NUMBER = 7360
NIKI_USERNAME = "niki"
NYX_USERNAME = "nyx"
NIKI_PASSWORD_MIN_LENGTH = 12


def bootstrap_directorate(*, niki_password=None):
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
            )
        if not User.objects.filter(rank=Rank.NYX).exists():
            enlist(username=NYX_USERNAME, display_name="Nyx", rank=Rank.NYX, reports_to=niki)
    return created_password


def nyx_account():
    return User.objects.get(rank=Rank.NYX)

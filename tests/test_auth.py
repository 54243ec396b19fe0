"""Signing in and out: sessions, the failure throttle, CSRF, security headers, password storage."""

import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import authenticate
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import LoginFailure, User
from accounts.ranks import Rank
from accounts.services import bootstrap_directorate, enlist
from directorate import settings as production_settings
from directorate.db import now
from tests.factories import PASSWORD

WRONG = "not-the-password-at-all"
INCORRECT = "Service name or password is incorrect."
THROTTLED = "Too many failed sign-in attempts"


@pytest.fixture
def member(directorate, make_member):
    return make_member(Rank.ASSET, make_member(Rank.SHADOW, directorate["nyx"], "shadow.lead"), "asset.one")


def sign_in(client, username, password, address="127.0.0.1", **extra):
    return client.post(reverse("login"), {"username": username, "password": password, **extra}, REMOTE_ADDR=address)


def text(response):
    return response.content.decode()


def normalised(body, *echoes):
    """The page without its per-render CSRF token and without the echoed input."""
    body = re.sub(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[A-Za-z0-9]+', r"\1TOKEN", body)
    for echo in echoes:
        body = body.replace(echo, "ECHO")
    return body


def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    body = text(response)
    assert 'name="username"' in body and 'name="password"' in body
    assert 'name="csrfmiddlewaretoken"' in body


def test_correct_login_redirects_to_dashboard_with_a_new_session(client, member):
    session = client.session  # an anonymous visitor who already holds a session
    session["visited"] = True
    session.save()
    before = client.cookies[django_settings.SESSION_COOKIE_NAME].value

    response = sign_in(client, "asset.one", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie.value and cookie.value != before  # no session fixation
    assert not Session.objects.filter(session_key=before).exists()
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    dashboard = client.get(reverse("dashboard"))
    assert dashboard.status_code == 200
    assert dashboard.context["user"].id == member.id


def test_a_session_lasts_twelve_hours_kept_in_the_database_and_read_through_the_cache(client, member):
    sign_in(client, "asset.one", PASSWORD)
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert client.cookies[django_settings.SESSION_COOKIE_NAME]["max-age"] == 12 * 60 * 60
    stored = Session.objects.get(session_key=key)
    assert timedelta(hours=11, minutes=59) < stored.expire_date - timezone.now() <= timedelta(hours=12)

    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("dashboard")).status_code == 200
    assert not [query for query in queries.captured_queries if "django_session" in query["sql"]]

    client.post(reverse("logout"))  # ends it in the database and in the cache
    assert not Session.objects.filter(session_key=key).exists()
    client.cookies[django_settings.SESSION_COOKIE_NAME] = key
    assert client.get(reverse("dashboard")).status_code == 302


def test_login_never_redirects_off_site(client, member):
    response = sign_in(client, "asset.one", PASSWORD, next="https://evil.example/steal")
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_logout_is_a_post(client, member):
    client.force_login(member)
    assert client.get(reverse("logout")).status_code == 405
    assert client.get(reverse("dashboard")).status_code == 200  # still signed in

    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get(reverse("dashboard")).status_code == 302


def test_wrong_password_and_unknown_user_look_the_same(client, member):
    wrong = sign_in(client, "asset.one", WRONG)
    unknown = sign_in(client, "nobody.at.all", WRONG)

    for response in (wrong, unknown):
        assert response.status_code == 400
        assert INCORRECT in text(response)
        assert "exist" not in text(response).lower()
    assert normalised(text(wrong), "asset.one") == normalised(text(unknown), "nobody.at.all")


def test_inactive_member_and_nyx_cannot_sign_in(client, member, directorate):
    User.objects.filter(id=member.id).update(is_active=False)
    inactive = sign_in(client, "asset.one", PASSWORD)
    assert inactive.status_code == 400 and INCORRECT in text(inactive)

    nyx = directorate["nyx"]
    assert not nyx.has_usable_password()
    for attempt in (PASSWORD, "", nyx.password):
        response = sign_in(client, nyx.username, attempt)
        assert response.status_code == 400, attempt
        assert "_auth_user_id" not in client.session
    assert INCORRECT in text(response)


def test_five_failures_lock_the_account(client, member):
    for attempt in range(5):
        response = sign_in(client, "asset.one", WRONG)
        assert response.status_code == 400, attempt
        assert THROTTLED not in text(response)
    failures = LoginFailure.objects.count()

    locked = sign_in(client, "asset.one", PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert THROTTLED in text(locked)
    assert "Try again in 15 minutes" in text(locked)
    assert "_auth_user_id" not in client.session

    # The lock is on the account, whatever the address and however the name is spelled.
    assert sign_in(client, "asset.one", PASSWORD, address="10.9.9.9").status_code == 429
    assert sign_in(client, " Asset.One ", PASSWORD).status_code == 429
    # Refused tries are not counted, so hammering does not extend the lock.
    assert LoginFailure.objects.count() == failures


def test_unknown_account_names_lock_the_same_way(client, member):
    for _ in range(5):
        assert sign_in(client, "no.such.person", WRONG).status_code == 400
    response = sign_in(client, "no.such.person", WRONG)
    assert response.status_code == 429 and THROTTLED in text(response)


def test_twenty_failures_from_one_address_lock_the_address(client, member):
    for attempt in range(20):
        response = sign_in(client, f"guess.{attempt}", WRONG, address="10.1.1.1")
        assert response.status_code == 400, attempt

    blocked = sign_in(client, "asset.one", PASSWORD, address="10.1.1.1")
    assert blocked.status_code == 429 and THROTTLED in text(blocked)
    assert sign_in(client, "fresh.name", WRONG, address="10.1.1.1").status_code == 429

    # Another address is not affected, and the account itself was never locked.
    assert sign_in(client, "asset.one", PASSWORD, address="10.1.1.2").status_code == 302


def test_nineteen_failures_from_one_address_do_not_lock_it(client, member):
    for attempt in range(19):
        sign_in(client, f"guess.{attempt}", WRONG, address="10.1.1.1")
    assert sign_in(client, "asset.one", PASSWORD, address="10.1.1.1").status_code == 302


def test_the_lock_lifts_when_the_oldest_failure_leaves_the_window(client, member):
    for _ in range(5):
        sign_in(client, "asset.one", WRONG)
    assert sign_in(client, "asset.one", PASSWORD).status_code == 429

    window = timedelta(seconds=django_settings.LOGIN_THROTTLE["window_seconds"])
    account = LoginFailure.objects.filter(scope=LoginFailure.Scope.ACCOUNT, key="asset.one")
    assert account.count() == 5
    oldest = account.order_by("ts", "id").first()
    LoginFailure.objects.filter(id=oldest.id).update(ts=now() - window - timedelta(seconds=1))

    response = sign_in(client, "asset.one", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(member.id)
    assert not account.exists()  # a successful sign-in forgives the account's failures


def test_failures_outside_the_window_do_not_count(client, member):
    for _ in range(4):
        sign_in(client, "asset.one", WRONG)
    window = timedelta(seconds=django_settings.LOGIN_THROTTLE["window_seconds"])
    LoginFailure.objects.update(ts=now() - window - timedelta(seconds=5))
    sign_in(client, "asset.one", WRONG)  # four old ones and one new one: not five in the window
    assert sign_in(client, "asset.one", PASSWORD).status_code == 302


def test_csrf_is_enforced_on_sign_in_and_sign_out(member):
    client = Client(enforce_csrf_checks=True)
    refused = sign_in(client, "asset.one", PASSWORD)
    assert refused.status_code == 403
    assert "_auth_user_id" not in client.session

    client.get(reverse("login"))
    token = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    signed_in = sign_in(client, "asset.one", PASSWORD, csrfmiddlewaretoken=token)
    assert signed_in.status_code == 302

    assert client.post(reverse("logout")).status_code == 403
    assert client.get(reverse("dashboard")).status_code == 200  # still signed in
    token = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    assert client.post(reverse("logout"), {"csrfmiddlewaretoken": token}).status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302


@pytest.mark.parametrize("page", ["login", "dashboard", "directory", "profile"])
def test_security_headers(client, member, page):
    if page != "login":
        client.force_login(member)
    response = client.get(reverse(page))
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_production_stores_passwords_with_bcrypt_sha256(db, settings):
    """The suite hashes with MD5 for speed (tests/settings.py); production's own hashers store bcrypt."""
    settings.PASSWORD_HASHERS = production_settings.PASSWORD_HASHERS
    assert production_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.BCryptSHA256PasswordHasher"
    bootstrap_directorate(niki_password=PASSWORD)
    niki = User.objects.get(rank=Rank.NIKI)
    member = enlist(username="asset.one", display_name="Asset One", rank=Rank.ASSET, reports_to=niki, password=PASSWORD)
    for person in (niki, User.objects.get(id=member.id)):
        assert person.password.startswith("bcrypt_sha256$")
        assert PASSWORD not in person.password
    assert authenticate(username="asset.one", password=PASSWORD) == member
    assert authenticate(username="asset.one", password=WRONG) is None


@pytest.mark.parametrize("page", ["dashboard", "profile", "directory", "person"])
def test_pages_need_a_signed_in_member(client, member, page):
    path = reverse(page, args=[member.id]) if page == "person" else reverse(page)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")
    assert "asset.one" not in text(response)

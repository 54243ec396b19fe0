"""The JSON API's tokens (docs/api.md, docs/rules.md "API"): sign-in, rotation, reuse detection, sign-out,
and every kind of token that must be refused, each with 401 in the one error shape."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.test import Client

from accounts.models import LoginFailure, RefreshToken, User
from accounts.tokens import ACCESS_LIFETIME, REFRESH_LIFETIME, jti_hash
from directorate.db import new_object_id, now
from tests.api_support import ApiClient, assert_error
from tests.factories import PASSWORD

INCORRECT = "Service name or password is incorrect."


def b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def claims_for(user, **changes):
    moment = now()
    claims = {
        "iss": "directorate",
        "sub": user.id,
        "typ": "access",
        "fam": new_object_id(),
        "jti": "j" * 43,
        "iat": moment,
        "exp": moment + ACCESS_LIFETIME,
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def signed(claims, key=None, algorithm="HS256"):
    return jwt.encode(claims, key or settings.JWT_SECRET, algorithm=algorithm)


# Sign-in ------------------------------------------------------------------------------------------------------


def test_sign_in_gives_a_working_pair_of_tokens(api, org):
    asset = org["asset"]
    response = api.post("/api/auth/token", {"username": "asset.one", "password": PASSWORD})
    assert response.status_code == 200
    pair = response.json()
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in", "refresh_expires_in"}
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == 15 * 60 and pair["refresh_expires_in"] == 14 * 24 * 3600
    access = jwt.decode(pair["access_token"], settings.JWT_SECRET, algorithms=["HS256"], issuer="directorate")
    refresh = jwt.decode(pair["refresh_token"], settings.JWT_SECRET, algorithms=["HS256"], issuer="directorate")
    assert jwt.get_unverified_header(pair["access_token"])["alg"] == "HS256"
    assert (access["typ"], refresh["typ"]) == ("access", "refresh")
    assert access["sub"] == refresh["sub"] == asset.id and access["fam"] == refresh["fam"]
    assert access["exp"] - access["iat"] == ACCESS_LIFETIME.total_seconds()
    assert refresh["exp"] - refresh["iat"] == REFRESH_LIFETIME.total_seconds()
    # Only a hash of the refresh token's id is stored.
    stored = RefreshToken.objects.get()
    assert stored.jti_hash == jti_hash(refresh["jti"]) and refresh["jti"] not in stored.jti_hash
    assert (stored.user_id, stored.family, stored.used_at, stored.revoked_at) == (asset.id, refresh["fam"], None, None)

    me = api.request("get", "/api/me", token=pair["access_token"])
    assert me.status_code == 200 and me.json()["id"] == asset.id
    assert "no-store" in me["Cache-Control"] and "private" in me["Cache-Control"]


def test_wrong_password_and_unknown_name_get_the_same_answer(api, org):
    wrong = api.post("/api/auth/token", {"username": "asset.one", "password": "not-the-password"})
    unknown = api.post("/api/auth/token", {"username": "asset.nobody", "password": PASSWORD})
    assert assert_error(wrong, 400, "invalid") == assert_error(unknown, 400, "invalid")
    assert wrong.json()["detail"] == INCORRECT
    assert LoginFailure.objects.filter(scope="account").count() == 2


def test_nyx_and_inactive_members_cannot_sign_in(api, org):
    User.objects.filter(id=org["asset"].id).update(is_active=False)
    for username in ("nyx", "asset.one"):
        body = assert_error(api.post("/api/auth/token", {"username": username, "password": PASSWORD}), 400)
        assert body["detail"] == INCORRECT


def test_the_sign_in_throttle_applies_to_the_api(client, org):
    api = ApiClient(client, address="10.9.9.9")
    for _ in range(settings.LOGIN_THROTTLE["per_account"]):
        assert_error(api.post("/api/auth/token", {"username": "asset.one", "password": "wrong-password"}), 400)
    locked = api.post("/api/auth/token", {"username": "asset.one", "password": PASSWORD})
    assert assert_error(locked, 429, "throttled")["detail"].startswith("Too many failed sign-in attempts")
    # Another account from another address is not affected; the locked one stays locked everywhere.
    assert (
        ApiClient(client, address="10.8.8.8")
        .post("/api/auth/token", {"username": "asset.two", "password": PASSWORD})
        .status_code
        == 200
    )
    assert_error(
        ApiClient(client, address="10.7.7.7").post("/api/auth/token", {"username": "asset.one", "password": PASSWORD}),
        429,
    )


def test_a_success_clears_the_account_failures(api, org):
    for _ in range(3):
        api.post("/api/auth/token", {"username": "asset.one", "password": "wrong-password"})
    assert api.post("/api/auth/token", {"username": "asset.one", "password": PASSWORD}).status_code == 200
    assert not LoginFailure.objects.filter(scope="account").exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "asset.one"},
        {"password": PASSWORD},
        {"username": 7, "password": PASSWORD},
        {"username": "asset.one", "password": None},
        {"username": "x" * 151, "password": PASSWORD},
        ["asset.one", PASSWORD],
    ],
)
def test_malformed_sign_in_is_400(api, org, body):
    assert_error(api.post("/api/auth/token", body), 400, "invalid")


def test_a_body_that_is_not_json_is_400(api, org):
    assert_error(api.post("/api/auth/token", raw="username=asset.one"), 400, "invalid")
    assert_error(api.post("/api/auth/token", raw='{"username": "asset.one",'), 400, "invalid")


# Rotation and reuse -----------------------------------------------------------------------------------------


def test_refresh_rotates_and_reuse_revokes_the_family(api, org, sign_in):
    first = sign_in(org["asset"])
    second = api.post("/api/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert api.request("get", "/api/me", token=second["access_token"]).status_code == 200
    assert api.request("get", "/api/me", token=first["access_token"]).status_code == 200  # same family, live

    # The first refresh token again: it was copied. Refused, and the whole family with it.
    reused = api.post("/api/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert "already used" in assert_error(reused, 401, "not_authenticated")["detail"]
    assert reused["WWW-Authenticate"] == "Bearer"
    assert_error(api.post("/api/auth/refresh", {"refresh_token": second["refresh_token"]}), 401)
    assert_error(api.request("get", "/api/me", token=second["access_token"]), 401)
    assert_error(api.request("get", "/api/me", token=first["access_token"]), 401)
    assert RefreshToken.objects.filter(revoked_at=None).count() == 0

    # A new sign-in starts a new family, untouched by the old one's revocation.
    third = sign_in(org["asset"])
    assert api.request("get", "/api/me", token=third["access_token"]).status_code == 200
    assert api.post("/api/auth/refresh", {"refresh_token": third["refresh_token"]}).status_code == 200


def test_families_are_separate(api, org, sign_in):
    phone, laptop = sign_in(org["asset"]), sign_in(org["asset"])
    api.post("/api/auth/refresh", {"refresh_token": phone["refresh_token"]})
    assert_error(api.post("/api/auth/refresh", {"refresh_token": phone["refresh_token"]}), 401)
    assert api.request("get", "/api/me", token=laptop["access_token"]).status_code == 200
    assert api.post("/api/auth/refresh", {"refresh_token": laptop["refresh_token"]}).status_code == 200


def test_logout_revokes_the_family(api, org, sign_in):
    pair = sign_in(org["marshal"])
    rotated = api.post("/api/auth/refresh", {"refresh_token": pair["refresh_token"]}).json()
    response = api.post("/api/auth/logout", {"refresh_token": rotated["refresh_token"]})
    assert response.status_code == 200 and response.json() == {"detail": "Signed out."}
    assert_error(api.post("/api/auth/refresh", {"refresh_token": rotated["refresh_token"]}), 401)
    for access in (rotated["access_token"], pair["access_token"]):
        assert "session has ended" in assert_error(api.request("get", "/api/me", token=access), 401)["detail"]
    assert_error(api.post("/api/auth/logout", {"refresh_token": pair["access_token"]}), 401)  # wrong type


def test_refresh_refused_for_a_member_made_inactive(api, org, sign_in):
    pair = sign_in(org["asset"])
    User.objects.filter(id=org["asset"].id).update(is_active=False)
    assert_error(api.request("get", "/api/me", token=pair["access_token"]), 401)
    assert_error(api.post("/api/auth/refresh", {"refresh_token": pair["refresh_token"]}), 401)
    # The refused refresh did not spend the token (the spend rolled back with the refusal).
    assert RefreshToken.objects.get().used_at is None


def test_an_expired_refresh_token_is_refused(api, org):
    asset = org["asset"]
    family, jti = new_object_id(), "k" * 43
    past = now() - REFRESH_LIFETIME - timedelta(minutes=1)
    RefreshToken.objects.create(
        user=asset, family=family, jti_hash=jti_hash(jti), issued_at=past, expires_at=past + REFRESH_LIFETIME
    )
    token = signed(claims_for(asset, typ="refresh", fam=family, jti=jti, iat=past, exp=past + REFRESH_LIFETIME))
    assert "expired" in assert_error(api.post("/api/auth/refresh", {"refresh_token": token}), 401)["detail"]


def test_a_refresh_token_never_issued_is_refused(api, org):
    forged = signed(claims_for(org["asset"], typ="refresh"))  # our signature, but no stored token
    assert_error(api.post("/api/auth/refresh", {"refresh_token": forged}), 401)


# Refused access tokens ------------------------------------------------------------------------------------------


def refused_tokens(org, pair):
    asset = org["asset"]
    header, payload, signature = pair["access_token"].split(".")
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    other_payload = b64({**claims, "sub": org["marshal"].id})
    past = now() - timedelta(hours=1)
    return {
        "tampered payload": f"{header}.{other_payload}.{signature}",
        "tampered signature": f"{header}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}",
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "alg none, signature kept": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.{signature}",
        "HS512 with our secret": signed(claims_for(asset), algorithm="HS512"),
        "another secret": signed(claims_for(asset), key="another-secret-of-at-least-32-bytes!!"),
        "expired": signed(claims_for(asset, iat=past, exp=past + ACCESS_LIFETIME)),
        "refresh token as access token": pair["refresh_token"],
        "unknown type": signed(claims_for(asset, typ="id")),
        "unknown member": signed(claims_for(asset, sub=new_object_id())),
        "wrong issuer": signed(claims_for(asset, iss="elsewhere")),
        "no expiry": signed(claims_for(asset, exp=None)),
        "no family": signed(claims_for(asset, fam=None)),
        "member id not a string": signed(claims_for(asset, sub=12)),
        "not a JWT": "not-a-token",
        "empty": "",
        "two parts": f"{header}.{payload}",
        "garbage base64": "e30.e30.e30",
    }


def test_every_refused_kind_of_access_token_is_401(api, org, sign_in):
    pair = sign_in(org["asset"])
    for kind, token in refused_tokens(org, pair).items():
        response = api.request("get", "/api/me", headers={"Authorization": f"Bearer {token}"}, token="")
        assert response.status_code == 401, kind
        assert_error(response, 401, "not_authenticated")
    assert api.request("get", "/api/me", token=pair["access_token"]).status_code == 200


def test_an_access_token_is_not_a_refresh_token(api, org, sign_in):
    pair = sign_in(org["asset"])
    body = assert_error(api.post("/api/auth/refresh", {"refresh_token": pair["access_token"]}), 401)
    assert body["detail"] == "This is not a refresh token."
    assert RefreshToken.objects.get().used_at is None


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer ", "Basic YXNzZXQub25lOnB3", "Token abc", "bearer  x y", "Bearer\tx"]
)
def test_missing_or_malformed_authorization_is_401(api, org, header):
    response = api.request("get", "/api/me", headers={"Authorization": header} if header else {}, token="")
    assert_error(response, 401, "not_authenticated")


def test_a_browser_session_does_not_authenticate_the_api(org):
    """The API authenticates by bearer token only, so a session cookie (which a browser sends cross-site)
    gives no access: that is why the API needs no CSRF token."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(org["marshal"])
    assert browser.get("/").status_code == 200  # the session works for the pages
    assert_error(browser.get("/api/me"), 401, "not_authenticated")
    create = browser.post(
        "/api/tickets",
        json.dumps(
            {"title": "x", "category": "Order", "sub_category": "Routine Directive", "assignee_id": org["marshal"].id}
        ),
        content_type="application/json",
    )
    assert_error(create, 401, "not_authenticated")  # refused for want of a token, not by a CSRF check
    from tickets.models import Ticket

    assert not Ticket.objects.exists()


def test_a_bearer_token_needs_no_csrf_token(org, sign_in):
    browser = Client(enforce_csrf_checks=True)
    token = sign_in(org["marshal"])["access_token"]
    created = browser.post(
        "/api/tickets",
        json.dumps(
            {
                "title": "Directive",
                "category": "Order",
                "sub_category": "Routine Directive",
                "assignee_id": org["shadow"].id,
            }
        ),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.content

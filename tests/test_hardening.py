"""Requests an attacker sends that must be refused cleanly: a 4xx in the documented shape, never a 500."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from directorate.api import api as directorate_api
from tests.api_support import ERROR_KEYS, assert_error
from tests.factories import PASSWORD
from tickets import services as ticket_services

OVER_LIMIT = 3 * 1024 * 1024  # over Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)


@pytest.fixture
def ticket(org):
    return ticket_services.create_ticket(
        actor=org["marshal"],
        assignee_id=org["asset"].id,
        title="Fetch the files",
        category="Order",
        sub_category="Routine Directive",
    )


# Bodies over the limit: 413 for every kind of route ----------------------------------------------------------


def body_routes():
    document = directorate_api.get_openapi_schema(path_prefix="/api/")
    return [
        pytest.param(method, path, id=f"{method.upper()} {path}")
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        # A route that reads no body never sees it (the ASGI gate refuses it); uploads have their own test.
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


@pytest.mark.parametrize("method, path", body_routes())
def test_an_api_body_over_the_limit_is_413_in_the_error_shape(org, as_member, ticket, method, path):
    path = path.replace("{ticket_id}", ticket.id).replace("{user_id}", org["asset"].id)
    path = path.replace("{notification_id}", "0" * 24)
    body = json.dumps({"refresh_token": "a" * OVER_LIMIT, "body_md": "b", "title": "t"})
    response = as_member(org["marshal"]).request(method, path, raw=body)
    body = assert_error(response, 413, "too_large")
    assert "too large" in body["detail"]


def test_a_page_form_over_the_limit_is_413(client, org):
    client.force_login(org["marshal"])
    response = client.post("/broadcast/", {"message": "x" * OVER_LIMIT})
    assert response.status_code == 413
    assert "Request too large" in response.content.decode()


def test_a_multipart_page_form_over_the_limit_is_413(client, org, ticket):
    client.force_login(org["marshal"])
    response = client.post(f"/tickets/{ticket.id}/attachments/", {"note": "x" * OVER_LIMIT})
    assert response.status_code == 413


def test_a_multipart_api_body_over_the_limit_is_413_in_the_error_shape(org, client, sign_in, ticket):
    token = sign_in(org["marshal"])["access_token"]
    response = client.post(
        f"/api/tickets/{ticket.id}/attachments",
        {"note": "x" * OVER_LIMIT},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert_error(response, 413, "too_large")


def test_four_files_to_the_api_are_400_in_the_error_shape(org, client, sign_in, ticket):
    token = sign_in(org["marshal"])["access_token"]
    files = {f"file{n}": SimpleUploadedFile(f"n{n}.txt", b"hello", "text/plain") for n in range(4)}
    response = client.post(f"/api/tickets/{ticket.id}/attachments", files, headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 400, "invalid")


def test_a_multipart_body_without_boundary_is_400_in_the_error_shape(org, client, sign_in, ticket):
    token = sign_in(org["marshal"])["access_token"]
    response = client.post(
        f"/api/tickets/{ticket.id}/attachments",
        b"--x\r\nnothing\r\n",
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {token}"},
    )
    body = assert_error(response, 400, "invalid")
    assert set(body) == ERROR_KEYS


def test_a_static_path_leaving_the_folder_is_404(db):
    """Through the ASGI application as daphne runs it (the test client would not pass the static handler)."""
    from asgiref.sync import async_to_sync

    from directorate.asgi import application
    from tests.asgi_support import status_of

    get = async_to_sync(status_of)
    assert get(application, "/static/..%2f..%2fetc%2fpasswd") == 404
    assert get(application, "/static/../../etc/passwd") == 404
    assert get(application, "/static/css/directorate.css") == 200


# 7. Input that must be refused ------------------------------------------------------------------------------

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


def test_an_over_long_directive_topic_is_refused_and_nothing_is_issued(client, org):
    from django.test import override_settings

    from tickets.models import Ticket

    client.force_login(org["executor"])
    before = Ticket.objects.count()
    with override_settings(GEMINI_API_KEY=""):
        response = client.post("/nyx/directives/", {"topic": "x" * 1_000_000})
    assert response.status_code == 400
    assert "at most 200 characters" in response.content.decode()
    assert Ticket.objects.count() == before


@pytest.mark.parametrize("control", BIDI)
def test_a_title_with_a_direction_control_is_refused_at_the_field(org, as_member, control):
    response = as_member(org["marshal"]).post(
        "/api/tickets",
        {
            "title": f"Pay {control}321 stiderc",
            "category": "Order",
            "sub_category": "Routine Directive",
            "assignee_id": org["asset"].id,
        },
    )
    assert_error(response, 400, "invalid", field="title")


def test_direction_controls_are_refused_in_notes_reasons_names_and_broadcasts(org, as_member, ticket):
    from accounts.services import broadcast, enlist
    from directorate.errors import Invalid
    from economy.services import adjust

    marshal = as_member(org["marshal"])
    ticket_services.start_work(actor=org["asset"], ticket_id=ticket.id)
    ticket_services.submit_for_review(actor=org["asset"], ticket_id=ticket.id, reward_credits="1", reward_pay="1.00")
    response = marshal.patch(f"/api/tickets/{ticket.id}/escalate", {"note": f"ok {RLO}gnorw"})
    assert_error(response, 400, "invalid", field="note")
    response = marshal.patch(f"/api/users/{org['asset'].id}/adjust", {"credits": 1, "reason": f"bonus {RLO}x"})
    assert_error(response, 400, "invalid", field="reason")
    with pytest.raises(Invalid) as refused:
        broadcast(actor=org["executor"], message=f"Attention {RLO}all")
    assert "message" in refused.value.field_errors
    with pytest.raises(Invalid) as refused:
        enlist(username="asset.rlo", display_name=f"Eve {RLO}evE", rank="asset", reports_to=org["shadow"])
    assert "display_name" in refused.value.field_errors
    with pytest.raises(Invalid):
        adjust(actor=org["marshal"], user_id=org["asset"].id, credits=1, reason=f"{RLO}")


def test_user_text_is_isolated_where_it_is_shown(client, org, ticket):
    from tickets.models import Ticket

    Ticket.objects.filter(id=ticket.id).update(title=f"Stored before the rule {RLO}desrever")  # an old row
    client.force_login(org["marshal"])
    detail = client.get(f"/tickets/{ticket.id}/").content.decode()
    assert f"<bdi>Stored before the rule {RLO}desrever</bdi>" in detail
    listing = client.get("/tickets/").content.decode()
    assert f"<bdi>Stored before the rule {RLO}desrever</bdi>" in listing


def test_a_nul_character_is_refused_by_the_api_as_by_the_forms(org, as_member, ticket):
    marshal = as_member(org["marshal"])
    response = marshal.post(
        "/api/tickets",
        {
            "title": "Null\u0000byte",
            "category": "Order",
            "sub_category": "Routine Directive",
            "assignee_id": org["asset"].id,
        },
    )
    assert_error(response, 400, "invalid", field="title")
    response = marshal.post(f"/api/tickets/{ticket.id}/comment", {"body_md": "a\u0000b"})
    assert_error(response, 400, "invalid", field="body_md")


@pytest.mark.parametrize("body", ["[null]", "true", "-9165", '"text"', "null"])
@pytest.mark.parametrize("route", ["watchers", "escalate", "promote"])
def test_a_body_that_is_not_a_json_object_is_refused(org, as_member, ticket, body, route):
    method = "post" if route == "watchers" else "patch"
    response = as_member(org["marshal"]).request(method, f"/api/tickets/{ticket.id}/{route}", raw=body)
    refusal = assert_error(response, 400, "invalid", field="body")
    assert refusal["detail"] == "The body must be a JSON object."


def test_a_ledger_404_says_the_same_whoever_is_asked_for(client, org, as_member):
    from accounts.models import User

    marshal = as_member(org["marshal"])
    cases = {
        "out of sight": org["marshal_3"].id,  # another branch
        "in sight, not mine to read": org["executor"].id,  # the marshal's superior
        "nobody": "0" * 24,
        "malformed": "not-an-id",
        "the controller": User.objects.get(rank="niki").id,
    }
    api_details = {
        name: assert_error(marshal.get("/api/transactions", user=user_id), 404, "not_found")["detail"]
        for name, user_id in cases.items()
    }
    assert set(api_details.values()) == {"No such ledger."}, api_details
    client.force_login(org["marshal"])
    for name, user_id in cases.items():
        page = client.get("/ledger/", {"user": user_id})
        assert page.status_code == 404, name
        assert "No such ledger." in page.content.decode() and "No such person." not in page.content.decode(), name


# 6. Niki's id -----------------------------------------------------------------------------------------------


def object_id_parts(object_id):
    """(timestamp, process-random part, counter) of an ObjectId's 24 hex digits."""
    return int(object_id[:8], 16), object_id[8:18], int(object_id[18:], 16)


def assert_unpredictable(niki_id, visible_ids):
    niki_time, niki_random, niki_counter = object_id_parts(niki_id)
    for visible in visible_ids:
        _time, random_part, counter = object_id_parts(visible)
        # ids one process makes share the random part and count up: Niki's must share nothing with them.
        assert random_part != niki_random, (niki_id, visible)
        assert abs(counter - niki_counter) > 1000 or random_part != niki_random


def test_no_visible_id_predicts_nikis(org):
    from accounts.models import User

    niki = User.objects.get(rank="niki")
    visible = list(User.objects.exclude(id=niki.id).values_list("id", flat=True))
    assert len(visible) >= 10
    assert_unpredictable(niki.id, visible)
    assert niki.chain == f"/{niki.id}/" and org["nyx"].reports_to_id == niki.id


def test_existing_installations_rekey_niki_and_every_reference(org, ticket):
    import importlib

    from django.apps import apps
    from django.db.models import Q

    from accounts.models import RefreshToken, User
    from accounts.services import start_token_family
    from directorate.db import new_object_id
    from economy.models import Transaction
    from economy.services import adjust
    from nyx.models import AuditEntry
    from tickets.models import Ticket

    migration = importlib.import_module("accounts.migrations.0006_niki_unlinkable_id")
    # An installation as bootstrapped before: Niki's id made by the same process just before Nyx's.
    old_niki = User.objects.get(rank="niki")
    predictable = new_object_id()
    migration_like_rekey(old_niki.id, predictable)
    niki = User.objects.get(rank="niki")
    assert niki.id == predictable
    adjust(actor=niki, user_id=org["asset"].id, credits=3, reason="Before the upgrade")
    Ticket.objects.filter(id=ticket.id).update(author=niki)
    AuditEntry.objects.create(actor=niki, action="override_move", target_type="user", target_id=niki.id)
    start_token_family(user=niki)
    members = User.objects.count()

    migration.rekey_niki(apps, None)

    niki = User.objects.get(rank="niki")
    assert niki.id != predictable and User.objects.count() == members
    assert not User.objects.filter(id=predictable).exists()
    assert_unpredictable(niki.id, User.objects.exclude(id=niki.id).values_list("id", flat=True))
    assert (niki.username, niki.service_number, niki.chain) == ("niki", 7360, f"/{niki.id}/")
    assert niki.check_password(PASSWORD)
    assert User.objects.get(id=org["nyx"].id).reports_to_id == niki.id
    assert not User.objects.filter(chain__contains=predictable).exists()
    assert User.objects.filter(chain__startswith=f"/{niki.id}/").count() == members
    assert Transaction.objects.get(reason="Before the upgrade").approved_by_id == niki.id
    assert Ticket.objects.get(id=ticket.id).author_id == niki.id
    assert AuditEntry.objects.get(action="override_move").target_id == niki.id
    assert RefreshToken.objects.filter(user_id=niki.id).exists()
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is User:
                assert not model._base_manager.filter(Q(**{field.attname: predictable})).exists(), field


def migration_like_rekey(old_id, new_id):
    """Re-key Niki to `new_id` with the migration's own steps (the way the old bootstrap could have made it)."""
    from django.apps import apps

    from accounts.models import User

    niki = User.objects.get(id=old_id)
    values = {field.attname: getattr(niki, field.attname) for field in User._meta.concrete_fields}
    User.objects.filter(id=old_id).update(username="moving", service_number=1)
    values.update(id=new_id, chain=f"/{new_id}/")
    User.objects.bulk_create([User(**values)])
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is User:
                model._base_manager.filter(**{field.attname: old_id}).update(**{field.attname: new_id})
    for member_id, chain in User.objects.exclude(id=new_id).values_list("id", "chain"):
        User.objects.filter(id=member_id).update(chain=chain.replace(f"/{old_id}/", f"/{new_id}/", 1))
    User.objects.filter(id=old_id).delete()


# 2. Proxy and HTTPS settings --------------------------------------------------------------------------------

PRODUCTION_ENV = {  # docs/operations.md, "Behind a reverse proxy"
    "DEBUG": "0",
    "ALLOWED_HOSTS": "directorate.example",
    "TRUSTED_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    "TRUSTED_PROXY_ADDRESS_HEADER": "X-Real-IP",
    "CSRF_TRUSTED_ORIGINS": "https://directorate.example",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path):
    import os
    import secrets
    import subprocess
    import sys

    from django.conf import settings

    env = {key: value for key, value in os.environ.items() if key not in ("MONGO_URI", "REDIS_URL")}
    env.update(
        PRODUCTION_ENV,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
        JWT_SECRET=secrets.token_urlsafe(48),
        DIRECTORATE_VAR_DIR=str(tmp_path),
        SQLITE_PATH=str(tmp_path / "deploy.sqlite3"),
        DJANGO_SETTINGS_MODULE="directorate.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "name, value",
    [
        ("TRUSTED_PROXY_SSL_HEADER", "X-Forwarded-Proto: https"),
        ("TRUSTED_PROXY_ADDRESS_HEADER", "X Real IP"),
        ("CSRF_TRUSTED_ORIGINS", "directorate.example"),
        ("CSRF_TRUSTED_ORIGINS", "https://directorate.example/login/"),
        ("SECURE_SSL_REDIRECT", "maybe"),
        ("SECURE_HSTS_SECONDS", "-1"),
        ("SECURE_HSTS_SECONDS", "a year"),
        ("REQUEST_MAX_BYTES", "0"),
    ],
)
def test_a_malformed_proxy_setting_stops_the_start_naming_it(name, value):
    from directorate.config import ConfigError, read_config

    with pytest.raises(ConfigError, match=name):
        read_config({"DEBUG": "1", name: value})


def test_the_proxy_settings_are_read(tmp_path):
    from directorate.config import read_config

    config = read_config({**PRODUCTION_ENV, "DEBUG": "1", "DIRECTORATE_VAR_DIR": str(tmp_path)})
    assert config["TRUSTED_PROXY_SSL_HEADER"] == "HTTP_X_FORWARDED_PROTO"
    assert config["TRUSTED_PROXY_ADDRESS_HEADER"] == "HTTP_X_REAL_IP"
    assert config["CSRF_TRUSTED_ORIGINS"] == ["https://directorate.example"]
    assert config["SECURE_SSL_REDIRECT"] is True and config["SECURE_HSTS_SECONDS"] == 31536000


def test_behind_a_proxy_the_throttle_counts_the_address_the_proxy_names(client, org, settings):
    from django.conf import settings as django_settings

    settings.TRUSTED_PROXY_ADDRESS_HEADER = "HTTP_X_REAL_IP"
    per_address = django_settings.LOGIN_THROTTLE["per_address"]
    for number in range(per_address):
        client.post(
            "/login/",
            {"username": f"nobody.{number}", "password": "wrong-guess-123"},
            headers={"X-Real-IP": "198.51.100.1"},
        )
    refused = client.post(
        "/login/", {"username": "asset.one", "password": PASSWORD}, headers={"X-Real-IP": "198.51.100.1"}
    )
    assert refused.status_code == 429
    other_client = client.post(
        "/login/", {"username": "asset.one", "password": PASSWORD}, headers={"X-Real-IP": "198.51.100.2"}
    )
    assert other_client.status_code == 302

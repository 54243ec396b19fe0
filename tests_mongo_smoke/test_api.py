"""The JSON API on the MongoDB backend: tokens (RefreshToken's conditional updates, family revocation) and the
reward cycle through the routes, so every query behind them compiles for MongoDB.

The unread count is `QuerySet.count()`, compile-only here (see test_compile_only.py): the API's routes count
the fetched rows instead, through the same selector's query.
"""

import json

from accounts.models import RefreshToken
from directorate.api import api
from tests_mongo_smoke.conftest import PASSWORD, compile_only, stages


def call(client, method, path, body=None, token=None, **query):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if method == "get":
        return client.get(path, query, headers=headers)
    return getattr(client, method)(path, json.dumps(body or {}), content_type="application/json", headers=headers)


def sign_in(client, username):
    response = call(client, "post", "/api/auth/token", {"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()


def test_token_lifecycle(client, org):
    wrong = call(client, "post", "/api/auth/token", {"username": "asset.one", "password": "wrong-password"})
    assert wrong.status_code == 400 and wrong.json()["detail"] == "Service name or password is incorrect."
    first = sign_in(client, "asset.one")
    assert call(client, "get", "/api/me", token=first["access_token"]).json()["id"] == org["asset"].id
    second = call(client, "post", "/api/auth/refresh", {"refresh_token": first["refresh_token"]}).json()
    assert [row.used_at is not None for row in RefreshToken.objects.order_by("issued_at", "id")] == [True, False]
    reused = call(client, "post", "/api/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert all(row.revoked_at is not None for row in RefreshToken.objects.all())
    assert call(client, "get", "/api/me", token=second["access_token"]).status_code == 401

    third = sign_in(client, "asset.one")
    assert call(client, "post", "/api/auth/logout", {"refresh_token": third["refresh_token"]}).status_code == 200
    assert call(client, "get", "/api/me", token=third["access_token"]).status_code == 401


def test_routes_on_the_mongodb_backend(client, org, monkeypatch):
    asset = sign_in(client, "asset.one")["access_token"]
    marshal = sign_in(client, "marshal.one")["access_token"]
    created = call(client, "post", "/api/tickets", {
        "title": "Sweep sector 7", "category": "Order", "sub_category": "Routine Directive",
        "assignee_id": org["asset"].id,
    }, token=marshal)
    assert created.status_code == 201, created.content
    ticket_id = created.json()["id"]
    assert created.json()["author"]["id"] == org["marshal"].id

    # Reads of tickets join people ($lookup with a pipeline, which mongomock lacks): compiled, not run.
    # The API answers an unforeseen exception with a JSON 500; here it must reach `compile_only` instead.
    monkeypatch.delitem(api._exception_handlers, Exception)
    # So does the ledger (and a manual adjustment's wallet update is compile-only: test_economy.py).
    for path, query, collection in (
        (f"/api/tickets/{ticket_id}", {}, "tickets_ticket"),
        ("/api/tickets", {"scope": "mine", "q": "sweep"}, "tickets_ticket"),
        ("/api/transactions", {}, "economy_transaction"),
        ("/api/transactions", {"user": org["asset"].id}, "economy_transaction"),
    ):
        def read(path=path, query=query):
            call(client, "get", path, token=marshal, **query)

        sent_to, pipeline = compile_only(read, collection=collection)
        assert sent_to == collection
        assert "accounts_user" in {lookup["from"] for lookup in stages(pipeline, "$lookup")}

    me = call(client, "get", "/api/me", token=asset).json()
    assert (me["credits"], me["balance"], me["superior"]["id"]) == (0, "0.00", org["shadow"].id)
    notes = call(client, "get", "/api/notifications", token=asset).json()
    assert notes["unread"] == len(notes["items"]) == 1
    read = call(client, "post", f"/api/notifications/{notes['items'][0]['id']}/read", token=asset)
    assert read.status_code == 200
    assert call(client, "get", "/api/notifications", token=asset).json()["unread"] == 0
    people = call(client, "get", "/api/users", token=asset, q="marshal").json()
    assert [person["id"] for person in people["items"]] == [org["marshal"].id]
    assert call(client, "get", f"/api/users/{org['niki'].id}", token=asset).status_code == 404

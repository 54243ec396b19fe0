"""Shared by the JSON API suites (tests/test_api_*.py): a client that speaks JSON with a bearer token,
tokens obtained through the real `POST /api/auth/token`, and the checks every answer must pass.

Its fixtures (`api`, `sign_in`, `as_member`) are offered to every test module by tests/conftest.py.
"""

import json

import pytest

from tests.factories import PASSWORD

ERROR_KEYS = {"detail", "code", "errors"}


class ApiClient:
    """Django's test client, sending and reading JSON, with `Authorization: Bearer <token>` when given one."""

    def __init__(self, client, token=None, address="10.0.0.1"):
        self.client = client
        self.token = token
        self.address = address

    def request(self, method, path, body=None, *, token=None, query=None, raw=None, headers=None):
        headers = dict(headers or {})
        token = self.token if token is None else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        kwargs = {"headers": headers, "REMOTE_ADDR": self.address}
        if method == "get":
            return self.client.get(path, query or {}, **kwargs)
        if data is not None:
            kwargs["content_type"] = "application/json"
            return getattr(self.client, method)(path, data, **kwargs)
        return getattr(self.client, method)(path, **kwargs)

    def get(self, path, **query):
        return self.request("get", path, query=query)

    def post(self, path, body=None, **kwargs):
        return self.request("post", path, body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.request("patch", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("delete", path, **kwargs)


@pytest.fixture
def api(client):
    """Signed out."""
    return ApiClient(client)


@pytest.fixture
def sign_in(client):
    """`sign_in(person)`: the token pair from the real token endpoint, checked."""

    def sign_in(person, address="10.0.0.1"):
        response = ApiClient(client, address=address).post(
            "/api/auth/token", {"username": person.username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.content
        return response.json()

    return sign_in


@pytest.fixture
def as_member(client, sign_in):
    """`as_member(person)`: an ApiClient signed in as `person` (once per test and person)."""
    clients = {}

    def as_member(person):
        if person.id not in clients:
            clients[person.id] = ApiClient(client, sign_in(person)["access_token"])
        return clients[person.id]

    return as_member


def assert_error(response, status, code=None, *, field=None):
    """`response` is a refusal with `status`, in the API's one error shape; returns its body."""
    assert response.status_code == status, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["errors"], dict)
    assert all(
        isinstance(messages, list) and all(isinstance(m, str) for m in messages) for messages in body["errors"].values()
    )
    if code is not None:
        assert body["code"] == code, body
    if field is not None:
        assert field in body["errors"], body
    return body

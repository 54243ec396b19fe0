"""Requests an attacker sends that must be refused cleanly: a 4xx in the documented shape, never a 500."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from directorate.api import api as directorate_api
from tests.api_support import (
    ERROR_KEYS,
    api,
    as_member,
    assert_error,
    directorate,
    password_hash,
    quick_bcrypt,
    sign_in,
)
from tickets import services as ticket_services

FIXTURES = (api, as_member, directorate, password_hash, quick_bcrypt, sign_in)

OVER_LIMIT = 3 * 1024 * 1024  # over Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)


@pytest.fixture
def ticket(org):
    return ticket_services.create_ticket(
        actor=org["marshal"], assignee_id=org["asset"].id, title="Fetch the files", category="Order",
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
    response = client.post(f"/api/tickets/{ticket.id}/attachments", {"note": "x" * OVER_LIMIT},
                           headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 413, "too_large")


def test_four_files_to_the_api_are_400_in_the_error_shape(org, client, sign_in, ticket):
    token = sign_in(org["marshal"])["access_token"]
    files = {f"file{n}": SimpleUploadedFile(f"n{n}.txt", b"hello", "text/plain") for n in range(4)}
    response = client.post(f"/api/tickets/{ticket.id}/attachments", files,
                           headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 400, "invalid")


def test_a_multipart_body_without_boundary_is_400_in_the_error_shape(org, client, sign_in, ticket):
    token = sign_in(org["marshal"])["access_token"]
    response = client.post(f"/api/tickets/{ticket.id}/attachments", b"--x\r\nnothing\r\n",
                           content_type="multipart/form-data", headers={"Authorization": f"Bearer {token}"})
    body = assert_error(response, 400, "invalid")
    assert set(body) == ERROR_KEYS


def test_a_static_path_leaving_the_folder_is_404(db):
    """Through the ASGI application as daphne runs it (the test client would not pass the static handler)."""
    from asgiref.testing import ApplicationCommunicator

    from directorate.asgi import application

    async def get(path):
        scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
                 "headers": [(b"host", b"localhost")], "http_version": "1.1", "scheme": "http",
                 "server": ("localhost", 80), "client": ("127.0.0.1", 5000)}
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(timeout=10)
        return start["status"]

    from asgiref.sync import async_to_sync

    assert async_to_sync(get)("/static/..%2f..%2fetc%2fpasswd") == 404
    assert async_to_sync(get)("/static/../../etc/passwd") == 404
    assert async_to_sync(get)("/static/css/directorate.css") == 200

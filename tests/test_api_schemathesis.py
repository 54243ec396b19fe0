"""Property-based testing of the JSON API against its own OpenAPI document, with schemathesis.

The document is loaded from the Django app itself (`/api/openapi.json`, through WSGI: no server, no network).
For every operation schemathesis generates requests from the document (a bounded, derandomised number per
route, valid by the schema and, where the schema allows it, invalid), sends them as a marshal signed in with a
real token, and checks each answer: never a 5xx, a status the document declares, a JSON content type, and a
body that conforms to the schema declared for that status. Path parameters are now and then replaced by real
ids the marshal may act on, so the routes are exercised past "not found" too.

The docs page is checked to load nothing from outside the app.
"""

import re
from contextlib import contextmanager

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import notify
from directorate.api import api as directorate_api
from tests.invariants import assert_ledger_invariant
from tickets import services

MAX_EXAMPLES = 25
NEGATIVE_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


# Values that pass the services' own checks, swapped into generated bodies now and then.
PLAUSIBLE = {
    "credits": [0, 1, "2", 150, -1],
    "reward_credits": [1, "3"],
    "pay": ["0", "2.00", "15.01", "-1.00"],
    "reward_pay": ["2.00", "0.50"],
    "hours_worked": ["1.5", "2"],
    "title": ["Fuzzed directive"],
    "sub_category": ["Routine Directive", "Promotion Request"],
    "reason": ["Fuzzed adjustment"],
    "comment": ["Rework it."],
    "body_md": ["A *comment*."],
    "note": ["", "Noted."],
}


def operations():
    document = directorate_api.get_openapi_schema(path_prefix="/api/")
    return [
        pytest.param(method.upper(), path, id=f"{method.upper()} {path}")
        for path, methods in document["paths"].items()
        for method in methods
    ]


@contextmanager
def wsgi_app():
    """Django's WSGI application, with database connections kept open across requests as Django's own test
    client keeps them: the test's transaction must survive the end of each request. (Django's test client
    reconnects these signals after each of its own requests, so no test client is used inside this block.)"""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def real_ids(org):
    """Ids the marshal may act on: tickets in each state, a subordinate, the marshal's own notifications."""
    marshal, shadow, asset = org["marshal"], org["shadow"], org["asset"]

    def ticket(author, assignee, **kw):
        fields = {"title": "Fuzzed", "category": "Order", "sub_category": "Routine Directive", **kw}
        return services.create_ticket(actor=author, assignee_id=assignee.id, **fields)

    awaiting = ticket(marshal, asset)
    services.start_work(actor=asset, ticket_id=awaiting.id)
    services.submit_for_review(actor=asset, ticket_id=awaiting.id, reward_credits="1", reward_pay="2.00")
    own_open = ticket(shadow, marshal)
    promotion = ticket(marshal, marshal, category="Personnel", sub_category="Promotion Request", subject_id=asset.id)
    notify(recipients=[marshal], message="Fuzz me")
    ids = {
        "ticket_id": [awaiting.id, own_open.id, promotion.id],
        "user_id": [asset.id, shadow.id, marshal.id],
        "assignee_id": [asset.id, shadow.id, marshal.id, org["executor"].id],
        "subject_id": [asset.id, marshal.id],
        "notification_id": list(marshal.notifications.values_list("id", flat=True)),
    }
    ids["watcher_ids"] = [[asset.id], [shadow.id, asset.id], []]
    return ids


@pytest.mark.parametrize("method, path", operations())
def test_every_operation_keeps_to_its_schema(org, sign_in, real_ids, method, path):
    headers = {"Authorization": f"Bearer {sign_in(org['marshal'])['access_token']}"}
    with wsgi_app() as app:
        schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
        run_operation(schema[path][method], headers, real_ids)
    assert_ledger_invariant()


def run_operation(operation, headers, real_ids):
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    if operation.body or operation.query:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(
        max_examples=MAX_EXAMPLES + (NEGATIVE_EXAMPLES if len(strategies) > 1 else 0),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=st.one_of(strategies), data=st.data())
    def exchange(case, data):
        for name in list(case.path_parameters or {}):
            if name in real_ids and data.draw(st.booleans(), label=f"real {name}"):
                case.path_parameters[name] = data.draw(st.sampled_from(real_ids[name]), label=name)
        if isinstance(case.body, dict) and data.draw(st.booleans(), label="plausible body"):
            for name in list(case.body):
                if name in real_ids:
                    case.body[name] = data.draw(st.sampled_from(real_ids[name]), label=name)
                elif name in PLAUSIBLE:
                    case.body[name] = data.draw(st.sampled_from(PLAUSIBLE[name]), label=name)
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    exchange()


def test_the_document_declares_every_route_of_spec_6(client):
    document = client.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.")
    routes = {(method.upper(), path) for path, methods in document["paths"].items() for method in methods}
    assert routes >= {
        ("POST", "/api/auth/token"),
        ("POST", "/api/auth/refresh"),
        ("POST", "/api/auth/logout"),
        ("POST", "/api/tickets"),
        ("GET", "/api/tickets"),
        ("GET", "/api/tickets/{ticket_id}"),
        ("PATCH", "/api/tickets/{ticket_id}/submit"),
        ("PATCH", "/api/tickets/{ticket_id}/approve"),
        ("POST", "/api/tickets/{ticket_id}/comment"),
        ("GET", "/api/transactions"),
        ("PATCH", "/api/users/{user_id}/adjust"),
        ("GET", "/api/me"),
        ("GET", "/api/notifications"),
        ("POST", "/api/notifications/{notification_id}/read"),
    }
    assert document["components"]["securitySchemes"]["BearerToken"] == {"type": "http", "scheme": "bearer"}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            public = path.startswith("/api/auth/")
            assert ("security" not in operation) == public, (method, path)
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    assert answer["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorOut"
                    }, (method, path, status)


def test_the_docs_page_loads_nothing_from_outside(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    for source in sources:
        assert source.startswith("/static/"), source
        assert finders.find(source.removeprefix("/static/")), f"{source} is not among the app's static files"
    assert "cdn" not in html.lower()

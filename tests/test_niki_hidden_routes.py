"""Niki's routes do not exist for anyone else, and after Niki has acted no page or API answer shows a trace.

"Does not exist" is literal: for anyone but Niki, a Niki path answers exactly as a path that was never
routed (same status, same body, same content type), whatever the method, the headers or the protocol.
"""

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client, override_settings
from django.urls import NoReverseMatch, reverse

from directorate.asgi import application
from nyx import engine
from nyx.services import niki_command
from tests.factories import PASSWORD
from tests.test_niki_invisible import crawl, fixed_paths, traces_of_niki, without_token
from tickets import services
from tickets.models import Ticket

NIKI_PATHS = [
    "/niki/",
    "/niki/command",
    "/niki",
    "/niki/command/",
    "/niki/audit/",
    "/niki/audit.csv",
    "/niki/act/override",
    "/niki/act/adjust",
    "/niki/act/rank",
    "/niki/act/move",
    "/niki/act/broadcast",
    "/niki/act/directives",
    "/niki/pick/people?field=adjust-member&q=a",
    "/niki/pick/tickets?field=override-ticket",
]
VIEWERS = ["nyx", "executor", "executor_2", "marshal", "marshal_3", "shadow", "asset", "asset_3"]


def missing_twin(path):
    """The same request to a path that does not exist."""
    return path.replace("/niki", "/no-such-path", 1)


def requests_to(client, path):
    body = json.dumps({"action": "adjust", "user_id": "x", "credits": 1, "reason": "x"})
    return {
        "GET": client.get(path),
        "GET htmx": client.get(path, headers={"HX-Request": "true", "HX-Target": "main"}),
        "POST form": client.post(path, {"command": body}),
        "POST json": client.post(path, body, content_type="application/json"),
        "POST htmx": client.post(path, {"command": body}, headers={"HX-Request": "true"}),
        "PATCH": client.patch(path, body, content_type="application/json"),
        "HEAD": client.head(path),
    }


def assert_same_as_missing(client):
    for path in NIKI_PATHS:
        hidden, missing = requests_to(client, path), requests_to(client, missing_twin(path))
        for kind in hidden:
            a, b = hidden[kind], missing[kind]
            assert a.status_code == b.status_code == 404, (path, kind, a.status_code, b.status_code)
            assert without_token(a.content.decode()) == without_token(b.content.decode()), (path, kind)
            assert a.get("Content-Type") == b.get("Content-Type"), (path, kind)
            assert sorted(a.headers) == sorted(b.headers), (path, kind)


def test_niki_routes_are_not_found_for_anonymous_visitors(db):
    client = Client(enforce_csrf_checks=True)
    assert_same_as_missing(client)


@pytest.mark.parametrize("viewer", ["nyx", "executor", "marshal", "shadow", "asset"])
def test_niki_routes_are_not_found_for_every_other_rank(org, viewer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org[viewer])
    assert_same_as_missing(client)


def test_niki_routes_are_not_in_the_public_url_map(db):
    with pytest.raises(NoReverseMatch):
        reverse("niki")
    assert not any(path.startswith("/niki") for path in fixed_paths())


def test_the_routes_do_exist_for_niki(org):
    client = Client()
    client.force_login(org["niki"])
    for path in (
        "/niki/",
        "/niki/audit/",
        "/niki/audit.csv",
        "/niki/pick/people?field=adjust-member&q=a",
        "/niki/pick/tickets?field=override-ticket",
    ):
        assert client.get(path).status_code == 200, path
    assert client.post("/niki/act/broadcast", {"broadcast-message": ""}).status_code == 400


@pytest.mark.parametrize("path", ["/niki/", "/niki/command", "/ws/niki/"])
def test_a_websocket_to_a_niki_path_fails_like_one_to_nowhere(org, path):
    def attempt(target):
        async def connect():
            communicator = WebsocketCommunicator(application, target, headers=[(b"origin", b"http://localhost")])
            try:
                connected, _ = await communicator.connect()
            except Exception as error:  # the router refuses an unknown path by raising
                return type(error).__name__, str(error).replace(target.lstrip("/"), "<path>")
            await communicator.disconnect()
            return "connected" if connected else "refused", ""

        return async_to_sync(connect)()

    assert attempt(path) == attempt(missing_twin(path)) != ("connected", "")


# The crawl -------------------------------------------------------------------------------------------------


@pytest.fixture
def niki_has_acted(org):
    """Niki overrides, adjusts, moves, directs and comments; Nyx acts on Niki's behalf from the console."""
    niki = org["niki"]
    shadow = org["shadow"]
    ticket = services.create_ticket(
        actor=shadow, assignee_id=shadow.id, category="Order", sub_category="Special Operation", title="Night watch"
    )
    services.start_work(actor=shadow, ticket_id=ticket.id)
    services.submit_for_review(actor=shadow, ticket_id=ticket.id, reward_credits="150", reward_pay="9.00")
    commands = [
        {"action": "override_approve", "ticket_id": ticket.id, "reasoning": "By order."},
        {"action": "adjust", "user_id": org["asset"].id, "credits": 5, "pay": "2.00", "reason": "By order."},
        {"action": "move_member", "user_id": org["asset_3"].id, "rank": "shadow", "reports_to_id": org["marshal_2"].id},
        {"action": "move_member", "user_id": org["marshal_3"].id, "rank": "shadow"},
        {"action": "move_member", "user_id": org["asset_2"].id, "reports_to_id": org["shadow_2"].id},
        {"action": "broadcast", "message": "Stand by for the Controller's inspection."},
        {"action": "move_member", "user_id": org["nyx"].id, "rank": "executor"},  # refused: audited only
    ]
    for name in VIEWERS:
        commands.append(
            {
                "action": "create_ticket",
                "data": {
                    "title": f"Order for {name}",
                    "category": "Order",
                    "sub_category": "Special Operation",
                    "assignee_id": org[name].id,
                    "reward_credits": 1,
                    "reward_pay": "1.00",
                },
            }
        )
    for payload in commands:
        outcome = niki_command(actor=niki, payload=payload)
        assert outcome.done or payload.get("user_id") == org["nyx"].id, (payload, outcome.reason)
    directive = Ticket.objects.get(title="Order for executor")
    assert niki_command(
        actor=niki, payload={"action": "comment", "ticket_id": directive.id, "body_md": "Proceed."}
    ).done
    # And through the console's forms, as Niki clicks them: an override from a ticket page, an adjustment.
    console = Client()
    console.force_login(niki)
    work = services.create_ticket(
        actor=org["asset"],
        assignee_id=org["asset"].id,
        category="Order",
        sub_category="Routine Directive",
        title="Gate duty",
    )
    services.start_work(actor=org["asset"], ticket_id=work.id)
    services.submit_for_review(actor=org["asset"], ticket_id=work.id, reward_credits="40", reward_pay="30.00")
    clicked = [
        (
            "override",
            {
                "back": "ticket",
                "override-ticket": work.id,
                "override-credits": "60",
                "override-reason": "Held the gate.",
            },
        ),
        ("adjust", {"adjust-member": org["shadow"].id, "adjust-credits": "-3", "adjust-reason": "Late."}),
        ("rank", {"rank-member": org["shadow_2"].id, "rank-rank": "marshal", "rank-superior": org["executor"].id}),
    ]
    for name, data in clicked:
        response = console.post(f"/niki/act/{name}", data)
        assert response.status_code == 302, (name, response.content.decode()[:2000])
    with override_settings(GEMINI_API_KEY=""):  # offline rules, whatever the environment holds
        engine.issue_directives("the Controller's inspection", trigger="console_directives", requested_by=niki)
        # The console's own request for directives: the same engine, asked through Niki's command service.
        assert niki_command(actor=niki, payload={"action": "request_directives", "topic": "night patrols"}).done
    return org


@pytest.mark.parametrize("viewer", VIEWERS)
def test_no_page_shows_niki_after_niki_has_acted(client, niki_has_acted, viewer):
    org, niki = niki_has_acted, niki_has_acted["niki"]
    client.force_login(org[viewer])
    starts = [
        reverse("dashboard"),
        reverse("profile"),
        reverse("directory"),
        reverse("nyx_console"),
        reverse("inbox"),
        reverse("ledger"),
    ]
    starts += [path for path in fixed_paths() if path != reverse("logout") and not path.startswith("/api/")]

    pages = crawl(client, starts)

    assert any(url.startswith("/tickets/") and len(url) > 30 for url in pages), "ticket pages were walked"
    problems = [
        (url, trace) for url, response in pages.items() for trace in traces_of_niki(response.content.decode(), niki)
    ]
    assert problems == []
    assert all(response.status_code < 500 for response in pages.values())


def api_crawl(client, token, niki):
    """GET every API route reachable from the lists, following every id found; {path: body}."""
    headers = {"Authorization": f"Bearer {token}"}
    seen, queue = (
        {},
        [
            "/api/me",
            "/api/users",
            "/api/users?q=niki",
            "/api/users?q=7360",
            f"/api/users/{niki.id}",
            "/api/tickets",
            f"/api/tickets/{niki.id}",
            "/api/transactions",
            "/api/notifications",
        ],
    )
    while queue and len(seen) < 300:
        path = queue.pop(0)
        if path in seen:
            continue
        response = client.get(path, headers=headers)
        body = response.content.decode()
        seen[path] = (response.status_code, body)
        if response.status_code != 200:
            continue
        for object_id in set(re.findall(r'"([0-9a-f]{24})"', body)):
            queue += [f"/api/tickets/{object_id}", f"/api/users/{object_id}", f"/api/transactions?user_id={object_id}"]
    return seen


@pytest.mark.parametrize("viewer", VIEWERS)
def test_no_api_answer_shows_niki_after_niki_has_acted(client, niki_has_acted, viewer):
    org, niki = niki_has_acted, niki_has_acted["niki"]
    signed_in = client.post(
        "/api/auth/token",
        json.dumps({"username": org[viewer].username, "password": PASSWORD}),
        content_type="application/json",
    )
    if signed_in.status_code == 404:
        pytest.skip("no JSON API in this build")
    if viewer == "nyx":
        assert signed_in.status_code == 400  # Nyx signs in nowhere
        return
    assert signed_in.status_code == 200, signed_in.content
    answers = api_crawl(client, signed_in.json()["access_token"], niki)

    assert sum(status == 200 for status, _ in answers.values()) >= 5
    problems = []
    for path, (_, body) in answers.items():
        query = parse_qs(urlsplit(path).query).get("q", [""])[0]
        if query:
            body = body.replace(query, "QUERY")  # a search may echo its own query
        problems.extend((path, trace) for trace in traces_of_niki(body, niki))
    assert problems == []
    token = signed_in.json()["access_token"]
    missing = client.get(f"/api/users/{'0' * 24}", headers={"Authorization": f"Bearer {token}"})
    assert answers[f"/api/users/{niki.id}"] == (missing.status_code, missing.content.decode())


def test_what_the_model_writes_about_niki_is_not_shown_to_others(client, org, settings):
    """The model's free text (reasoning, raw output) is shown on the console with every trace of Niki replaced."""
    from nyx.services import record_refusal

    niki = org["niki"]
    text = f"Escalate to Niki ({niki.username}, no. {niki.service_number}, id {niki.id})."
    record_refusal(trigger="console_review", mode="gemini", reason=text, requested_by=org["executor"], raw_output=text)
    client.force_login(org["executor"])
    page = client.get(reverse("nyx_console")).content.decode()
    assert "Escalate to The Directorate" in page
    assert traces_of_niki(page, niki) == []
    client.force_login(niki)
    assert "Escalate to Niki" in client.get(reverse("nyx_console")).content.decode()

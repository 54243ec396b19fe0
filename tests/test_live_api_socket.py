"""The API clients' live socket (`/ws/api/events/`): a JWT access token as the first message, spec 7's events as JSON.

Real ASGI application, real services committing for real (`transaction=True`), real tokens issued by the
sign-in service; without Redis the events reach the socket through this process's relay of the live event log.
"""

import asyncio
import json
import time
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from accounts import consumers, live, tokens
from accounts import services as accounts_services
from accounts.consumers import UNAUTHENTICATED
from accounts.models import LiveEvent, Notification
from accounts.ranks import Rank
from directorate.asgi import application
from economy import services as economy
from tests.invariants import traces_of_niki
from tests.test_live_events import QUIET, RECEIVE_TIMEOUT, call, submitted
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/api/events/"


@pytest.fixture(autouse=True)
def empty_channel_layer():
    yield
    async_to_sync(get_channel_layer().flush)()


def access_token(person):
    return accounts_services.start_token_family(user=person)["access_token"]


async def receive_json(socket):
    return json.loads(await socket.receive_from(timeout=RECEIVE_TIMEOUT))


async def closed_with(socket):
    """The close code the server sends next, after any messages before it (returned too)."""
    said = []
    while True:
        output = await socket.receive_output(timeout=RECEIVE_TIMEOUT)
        if output["type"] == "websocket.close":
            return output.get("code"), said
        said.append(json.loads(output["text"]))


@asynccontextmanager
async def api_socket(token, **auth):
    """A socket signed in with `token` (its "ready" answer checked), closed at the end."""
    socket = WebsocketCommunicator(application, PATH)  # no Origin, no cookie: an API client
    connected, _ = await socket.connect(timeout=RECEIVE_TIMEOUT)
    assert connected
    try:
        await socket.send_to(text_data=json.dumps({"type": "auth", "token": token, **auth}))
        ready = await receive_json(socket)
        assert ready["type"] == "ready", ready
        socket.ready = ready
        yield socket
    finally:
        await socket.disconnect()


async def events_until_quiet(socket, at_least=0):
    """The first `at_least` messages (each waited for up to RECEIVE_TIMEOUT), then any more until QUIET."""
    received = [await receive_json(socket) for _ in range(at_least)]
    while not await socket.receive_nothing(timeout=QUIET):
        received.append(await receive_json(socket))
    return received


def test_a_client_receives_exactly_its_own_spec_7_events_after_an_approval_and_an_adjustment(org):
    asset, peer, marshal = org["asset"], org["asset_2"], org["marshal"]
    ticket = submitted(org["shadow"], asset, credits=7, pay="12.50")
    asset_token, peer_token = access_token(asset), access_token(peer)

    async def scenario():
        async with api_socket(asset_token) as mine, api_socket(peer_token) as peers:
            assert mine.ready["user_id"] == asset.id
            await call(services.approve_reward, actor=marshal, ticket_id=ticket.id, credits=7, pay="12.50")
            after_approval = await events_until_quiet(mine, at_least=4)
            await call(economy.adjust, actor=marshal, user_id=asset.id, credits=-2, pay="0", reason="Late report.")
            after_adjustment = await events_until_quiet(mine, at_least=1)
            return after_approval, after_adjustment, await events_until_quiet(peers)

    after_approval, after_adjustment, peer_heard = async_to_sync(scenario)()

    assert peer_heard == []  # another member's events never arrive
    assert all(message["type"] == "event" for message in after_approval + after_adjustment)
    by_event = {message["event"]: message for message in after_approval}
    assert sorted(by_event) == ["credits_update", "notification", "reward_granted", "ticket_updated"]
    assert by_event["reward_granted"]["data"] == {
        "user_id": asset.id,
        "credits": 7,
        "pay": "12.50",
        "ticket_id": ticket.id,
    }
    credits_update = by_event["credits_update"]["data"]
    assert {key: credits_update[key] for key in ("user_id", "new_credits")} == {"user_id": asset.id, "new_credits": 7}
    assert credits_update["new_balance"] == "12.50"
    assert [message["event"] for message in after_adjustment].count("credits_update") == 1
    adjusted = next(message for message in after_adjustment if message["event"] == "credits_update")
    assert adjusted["data"]["new_credits"] == 5
    # Event ids grow, and every event names its moment.
    ids = [message["event_id"] for message in after_approval + after_adjustment]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(datetime.fromisoformat(message["at"]) for message in after_approval)


def test_a_client_that_reconnects_asks_for_what_it_missed(org):
    asset, marshal = org["asset"], org["marshal"]
    first, second = (submitted(org["shadow"], asset, title=f"Task {n}") for n in (1, 2))
    token = access_token(asset)

    async def scenario():
        async with api_socket(token) as socket:
            seen = socket.ready["last_event_id"]
        # Offline: two approvals happen.
        for ticket in (first, second):
            await call(services.approve_reward, actor=marshal, ticket_id=ticket.id, credits=7, pay="12.50")
        async with api_socket(token, since=seen) as socket:
            return await events_until_quiet(socket, at_least=9)  # 4 events per approval, then "caught_up"

    missed = async_to_sync(scenario)()

    assert missed[-1]["type"] == "caught_up"
    events = missed[:-1]
    rewards = [message["data"]["ticket_id"] for message in events if message["event"] == "reward_granted"]
    assert rewards == [first.id, second.id]
    assert missed[-1]["last_event_id"] == events[-1]["event_id"]
    assert all(LiveEvent.objects.get(seq=message["event_id"]).recipient_id == asset.id for message in events)


def test_a_broadcast_to_many_arrives_once_with_ones_own_notification_live_and_on_catching_up(org, make_member):
    """A broadcast to enough members is one log row for all (accounts.live, FAN_OUT_FROM): a socket open at the
    time hears its own notification once; one that reconnects asks for it by event id, and gets its own."""
    executor, asset, asset_3 = org["executor"], org["asset"], org["asset_3"]
    for _ in range(live.FAN_OUT_FROM):
        make_member(Rank.ASSET, org["shadow"])
    token, other_token = access_token(asset), access_token(asset_3)

    async def scenario():
        async with api_socket(token) as socket:
            seen = socket.ready["last_event_id"]
        async with api_socket(other_token) as open_socket:
            await call(accounts_services.broadcast, actor=executor, message="Report at dawn.")
            heard = await events_until_quiet(open_socket, at_least=1)
        async with api_socket(token, since=seen) as socket:
            return heard, await events_until_quiet(socket, at_least=2)

    heard, missed = async_to_sync(scenario)()

    def own(person):
        return Notification.objects.get(user_id=person.id, message__endswith="Report at dawn.").id

    assert [(message["event"], message["data"]["id"]) for message in heard] == [("notification", own(asset_3))]
    assert [message["type"] for message in missed] == ["event", "caught_up"]
    assert missed[0]["data"] == {
        "id": own(asset),
        "message": f"Command from {executor}: Report at dawn.",
        "ticket_id": None,
    }
    assert missed[0]["event_id"] == heard[0]["event_id"] == missed[1]["last_event_id"]  # one event id for all
    assert LiveEvent.objects.get(seq=heard[0]["event_id"]).recipient_id == live.FAN_OUT


@pytest.mark.parametrize("token_kind", ["garbage", "expired", "revoked", "refresh", "empty"])
def test_a_bad_expired_or_revoked_token_is_refused(org, token_kind):
    asset = org["asset"]
    pair = accounts_services.start_token_family(user=asset)
    if token_kind == "garbage":
        token = "not.a.token"
    elif token_kind == "expired":
        past = datetime.now(UTC) - tokens.ACCESS_LIFETIME - timedelta(minutes=1)
        token = tokens.encode(user_id=asset.id, token_type=tokens.ACCESS, family="f" * 24, jti="j", issued_at=past)
    elif token_kind == "revoked":
        token = pair["access_token"]
        accounts_services.sign_out_token(token=pair["refresh_token"])
    elif token_kind == "refresh":
        token = pair["refresh_token"]
    else:
        token = ""

    async def scenario():
        socket = WebsocketCommunicator(application, PATH)
        connected, _ = await socket.connect(timeout=RECEIVE_TIMEOUT)
        assert connected
        await socket.send_to(text_data=json.dumps({"type": "auth", "token": token}))
        return await closed_with(socket)

    code, said = async_to_sync(scenario)()

    assert code == UNAUTHENTICATED
    assert [message["type"] for message in said] == ["error"]


def test_a_socket_that_sends_no_token_in_time_is_closed(org, monkeypatch):
    monkeypatch.setattr(consumers, "AUTH_DEADLINE", 0.3)

    async def scenario():
        socket = WebsocketCommunicator(application, PATH)
        connected, _ = await socket.connect(timeout=RECEIVE_TIMEOUT)
        assert connected
        return await closed_with(socket)

    code, said = async_to_sync(scenario)()

    assert code == UNAUTHENTICATED
    assert said == [{"type": "error", "error": "No token was sent in time."}]


def test_the_socket_is_closed_when_its_token_expires(org):
    asset = org["asset"]
    family = accounts_services.start_token_family(user=asset)  # a live family, so only time ends the token
    claims = tokens.decode(family["access_token"], expected_type=tokens.ACCESS)
    issued = datetime.now(UTC) - tokens.ACCESS_LIFETIME + timedelta(seconds=1.5)
    token = tokens.encode(user_id=asset.id, token_type=tokens.ACCESS, family=claims["fam"], jti="j", issued_at=issued)

    async def scenario():
        async with api_socket(token) as socket:
            started = time.monotonic()
            code, said = await closed_with(socket)
            return code, said, time.monotonic() - started

    code, said, after = async_to_sync(scenario)()

    assert code == UNAUTHENTICATED
    assert said == [{"type": "error", "error": "The token has expired."}]
    assert after < RECEIVE_TIMEOUT


def test_events_before_sign_in_are_not_sent_and_nothing_else_is_accepted_first(org):
    asset, marshal = org["asset"], org["marshal"]
    ticket = submitted(org["shadow"], asset)

    async def scenario():
        socket = WebsocketCommunicator(application, PATH)
        connected, _ = await socket.connect(timeout=RECEIVE_TIMEOUT)
        assert connected
        await call(services.approve_reward, actor=marshal, ticket_id=ticket.id, credits=7, pay="12.50")
        assert await socket.receive_nothing(timeout=QUIET)
        await socket.send_to(text_data=json.dumps({"type": "catch_up", "since": 0}))
        return await closed_with(socket)

    code, said = async_to_sync(scenario)()

    assert code == UNAUTHENTICATED
    assert [message["type"] for message in said] == ["error"]


def test_niki_acts_arrive_as_the_directorates(org):
    niki, asset = org["niki"], org["asset"]
    ticket = submitted(org["shadow"], asset)
    for reviewer in ("marshal", "executor", "nyx"):
        services.escalate(actor=org[reviewer], ticket_id=ticket.id, note="Passed up.")
    assert Ticket.objects.get(id=ticket.id).reviewer_id == niki.id
    token = access_token(asset)

    async def scenario():
        async with api_socket(token) as socket:
            await call(services.approve_reward, actor=niki, ticket_id=ticket.id, credits=7, pay="12.50", note="Done.")
            return await events_until_quiet(socket, at_least=4)

    received = async_to_sync(scenario)()

    notifications = [message["data"]["message"] for message in received if message["event"] == "notification"]
    assert notifications == ["Reward approved by The Directorate: 7 credits and ¤12.50 for Observe the east depot"]
    assert "reward_granted" in {message["event"] for message in received}
    assert traces_of_niki(json.dumps(received, ensure_ascii=False), niki) == []


def test_events_arriving_out_of_order_are_all_sent_and_a_repeat_is_not(org):
    """Over Redis, events recorded by two processes may reach a socket in either order: each is sent once."""
    asset = org["asset"]
    token = access_token(asset)

    def event(event_id):
        return {
            "type": "directorate.event",
            "event": "credits_update",
            "event_id": event_id,
            "at": "2026-12-04T00:00:00",
            "data": {"user_id": asset.id, "new_credits": event_id},
            "html": "",
        }

    async def scenario():
        async with api_socket(token) as socket:
            layer = get_channel_layer()
            for event_id in (12, 11, 12, 13, 11):
                await layer.group_send(f"user.{asset.id}", event(event_id))
            return await events_until_quiet(socket, at_least=3)

    received = async_to_sync(scenario)()

    assert [message["event_id"] for message in received] == [12, 11, 13]


def test_a_promotion_reaches_the_promoted_member_as_rank_changed_and_asks_pages_to_redraw(org):
    north, vance = org["asset"], org["marshal"]
    ticket = services.create_ticket(
        actor=north,
        assignee_id=org["shadow"].id,
        title="Promotion",
        category="Personnel",
        sub_category="Promotion Request",
        subject_id=north.id,
    )
    token = access_token(north)
    tap_channel = {}

    async def scenario():
        layer = get_channel_layer()
        async with api_socket(token) as socket:  # the relay runs from here on
            tap_channel["name"] = await layer.new_channel()
            await layer.group_add(f"user.{north.id}", tap_channel["name"])
            await call(services.approve_promotion, actor=vance, ticket_id=ticket.id, note="Earned.")
            received = await events_until_quiet(socket, at_least=1)
            sent = []
            while True:
                try:
                    sent.append(await asyncio.wait_for(layer.receive(tap_channel["name"]), QUIET))
                except TimeoutError:
                    return received, sent

    received, sent = async_to_sync(scenario)()

    changes = [message["data"] for message in received if message["event"] == "rank_changed"]
    assert changes == [{"user_id": north.id, "rank": "shadow", "previous_rank": "asset"}]
    # The browser's fragment for it asks the page to redraw its live regions (the wallet's rank among them).
    fragment = next(message["html"] for message in sent if message["event"] == "rank_changed")
    assert 'id="live-refresh"' in fragment and "data-live-refresh" in fragment
    assert fragment.lstrip().startswith("<") and "{#" not in fragment  # no template comment leaks as text


def test_signing_out_the_tokens_family_closes_its_api_socket_and_no_other(org):
    asset = org["asset"]
    signed_out = accounts_services.start_token_family(user=asset)
    other_token = access_token(asset)  # another sign-in of the same member: another family

    async def scenario():
        async with api_socket(signed_out["access_token"]) as closing, api_socket(other_token) as staying:
            await call(accounts_services.sign_out_token, token=signed_out["refresh_token"])
            code, _said = await closed_with(closing)
            return code, await staying.receive_nothing(timeout=QUIET)

    code, other_still_open = async_to_sync(scenario)()

    assert code == UNAUTHENTICATED
    assert other_still_open

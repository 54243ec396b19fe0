"""Live events over a real WebSocket, through the real ASGI application (`directorate.asgi.application`).

Each socket signs in as a browser does: the session cookie of a signed-in Django client, and an Origin the
server accepts. The services run for real and commit for real (`transaction=True`), so events leave only
after commit, exactly as in production. Besides the HTML fragments a socket receives, some tests tap the
channel layer itself (a raw channel added to people's groups) to read every event payload as sent.

The coroutines run under `async_to_sync`; the synchronous services are called through
`database_sync_to_async`, which runs them in this test's thread, on its database connection.
"""

import asyncio
import json
import re
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client, override_settings

from accounts import live
from accounts import services as accounts_services
from accounts.consumers import UNAUTHENTICATED
from accounts.models import LiveEvent, Notification, User
from accounts.ranks import Rank
from accounts.relay import ensure_relay
from directorate.asgi import application
from directorate.db import atomic
from directorate.errors import Conflict, Forbidden, Invalid
from directorate.events import user_group
from economy import services as economy
from economy.models import Transaction
from tests import factories
from tests.invariants import traces_of_niki
from tickets import services
from tickets.models import Ticket

submitted = partial(factories.submitted, credits=7, pay="12.50")

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/events/"
ORIGIN = "http://localhost:8000"  # ALLOWED_HOSTS has localhost
FOREIGN_ORIGIN = "https://evil.example"
RECEIVE_TIMEOUT = 5  # seconds: an expected message arrives well within this
QUIET = 0.5  # seconds of silence taken as "nothing more is coming" (events leave at commit, before this)


@pytest.fixture(autouse=True)
def empty_channel_layer():
    """The in-memory layer lives as long as the process: leave no groups or messages to the next test."""
    yield
    async_to_sync(get_channel_layer().flush)()


# Helpers ---------------------------------------------------------------------------------------------------


def session_cookie(person):
    """The session cookie a browser holds once `person` has signed in."""
    client = Client()
    client.force_login(person)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def communicator(cookie=None, origin=ORIGIN):
    headers = [(b"host", b"localhost:8000")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, PATH, headers=headers)


@asynccontextmanager
async def live_socket(cookie):
    """An accepted socket for the member whose session `cookie` is, closed at the end."""
    socket = communicator(cookie)
    connected, code = await socket.connect(timeout=RECEIVE_TIMEOUT)
    assert connected, f"the socket was refused with close code {code}"
    try:
        yield socket
    finally:
        await socket.disconnect()


async def receive(socket, count):
    return [await socket.receive_from(timeout=RECEIVE_TIMEOUT) for _ in range(count)]


@asynccontextmanager
async def tap(*people):
    """A raw channel in the groups of `people`: every event message sent to any of them, as sent.

    Without Redis the events reach the groups through this process's relay of the live event log, which a
    socket starts when it connects; the tap starts it the same way."""
    await ensure_relay()
    layer = get_channel_layer()
    channel = await layer.new_channel()
    groups = [user_group(person.id) for person in people]
    for group in groups:
        await layer.group_add(group, channel)

    async def drain():
        messages = []
        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(channel), QUIET))
            except TimeoutError:
                return messages

    try:
        yield drain
    finally:
        for group in groups:
            await layer.group_discard(group, channel)


def call(service, **kwargs):
    """A synchronous service, awaited: it runs on this test's thread and database connection."""
    return database_sync_to_async(service)(**kwargs)


def kind_of(fragment):
    """Which part of the page a fragment swaps (the ids are the page's, see includes/live_event.html)."""
    for marker, kind in (
        ('id="wallet-credits"', "wallet"),
        ('id="toasts"', "toast"),
        ('id="inbox-badge"', "inbox badge"),
        ('id="ticket-live-', "ticket"),
    ):
        if marker in fragment:
            return kind
    raise AssertionError(f"unexpected fragment: {fragment!r}")


def by_kind(fragments):
    found = {}
    for fragment in fragments:
        kind = kind_of(fragment)
        assert kind not in found, f"two {kind} fragments"
        found[kind] = fragment
    return found


def figures_in(wallet_fragment):
    swapped = 'id="wallet-{}" hx-swap-oob="outerHTML">'
    credits = re.search(re.escape(swapped.format("credits")) + r"(-?\d+)</dd>", wallet_fragment)
    balance = re.search(re.escape(swapped.format("balance")) + r"&curren;(-?[\d.]+)</dd>", wallet_fragment)
    assert credits and balance, wallet_fragment
    return int(credits.group(1)), Decimal(balance.group(1))


# Who may connect --------------------------------------------------------------------------------------------


def test_an_anonymous_socket_is_refused(org):
    async def scenario():
        socket = communicator(cookie=None)
        connected, code = await socket.connect(timeout=RECEIVE_TIMEOUT)
        assert (connected, code) == (False, UNAUTHENTICATED)

    async_to_sync(scenario)()


def test_a_socket_with_a_stale_session_cookie_is_refused(org):
    async def scenario():
        socket = communicator(cookie=f"{settings.SESSION_COOKIE_NAME}=not-a-session-anyone-holds")
        connected, code = await socket.connect(timeout=RECEIVE_TIMEOUT)
        assert (connected, code) == (False, UNAUTHENTICATED)

    async_to_sync(scenario)()


@pytest.mark.parametrize(
    "origin", [FOREIGN_ORIGIN, "http://localhost.evil.example", None], ids=["foreign", "look-alike", "none"]
)
def test_a_signed_in_socket_from_another_origin_is_refused(org, origin):
    """A page on another site cannot open a socket with the member's cookie (cross-site WebSocket hijacking)."""
    cookie = session_cookie(org["asset"])

    async def scenario():
        socket = communicator(cookie, origin=origin)
        connected, _code = await socket.connect(timeout=RECEIVE_TIMEOUT)
        assert connected is False
        accepted = communicator(cookie)  # the same cookie from the app's own origin is accepted
        assert (await accepted.connect(timeout=RECEIVE_TIMEOUT))[0] is True
        await accepted.disconnect()

    async_to_sync(scenario)()


def test_a_signed_in_socket_hears_nothing_until_something_happens_to_its_member(org):
    cookie = session_cookie(org["asset"])

    async def scenario():
        async with live_socket(cookie) as socket:
            await socket.send_to(text_data='{"HEADERS": {}, "anything": "the browser sends is ignored"}')
            assert await socket.receive_nothing(timeout=QUIET)

    async_to_sync(scenario)()


# Who hears what ---------------------------------------------------------------------------------------------


def test_after_an_approval_each_socket_receives_exactly_its_own_events(org):
    """North's work, set by Holt, approved by Vance: North hears the reward; Vance and Holt hear the ticket
    change; North's peer, who has nothing to do with it, hears nothing."""
    asset, author, reviewer, peer = org["asset"], org["shadow"], org["marshal"], org["asset_2"]
    ticket = submitted(author, asset, credits=7, pay="12.50")
    assert ticket.reviewer_id == reviewer.id
    cookies = {person.id: session_cookie(person) for person in (asset, author, reviewer, peer)}

    async def scenario():
        async with (
            live_socket(cookies[asset.id]) as asset_socket,
            live_socket(cookies[asset.id]) as asset_second_tab,
            live_socket(cookies[author.id]) as author_socket,
            live_socket(cookies[reviewer.id]) as reviewer_socket,
            live_socket(cookies[peer.id]) as peer_socket,
        ):
            await call(services.approve_reward, actor=reviewer, ticket_id=ticket.id, credits=7, pay="12.50")

            fragments = by_kind(await receive(asset_socket, 4))
            assert set(fragments) == {"wallet", "toast", "inbox badge", "ticket"}
            assert await asset_socket.receive_nothing(timeout=QUIET)
            # Every open page of the member is told: a second tab receives the same.
            assert by_kind(await receive(asset_second_tab, 4)) == fragments
            assert await asset_second_tab.receive_nothing(timeout=QUIET)

            for other in (author_socket, reviewer_socket):
                assert [kind_of(fragment) for fragment in await receive(other, 1)] == ["ticket"]
                assert await other.receive_nothing(timeout=QUIET)
            assert await peer_socket.receive_nothing(timeout=QUIET)
            return fragments

    fragments = async_to_sync(scenario)()

    north = User.objects.get(id=asset.id)
    assert (north.credits, north.balance) == (7, Decimal("12.50"))
    assert figures_in(fragments["wallet"]) == (north.credits, north.balance)
    assert "Reward approved: 7 credits, &curren;12.50." in fragments["toast"]
    assert 'hx-swap-oob="beforeend"' in fragments["toast"]
    assert f'id="ticket-live-{ticket.id}"' in fragments["ticket"]
    assert f'hx-get="/tickets/{ticket.id}/"' in fragments["ticket"]
    assert 'hx-get="/inbox/badge/"' in fragments["inbox badge"]

    # What the badge fragment fetches: North's unread count, now including the approval.
    client = Client()
    client.force_login(asset)
    badge = client.get("/inbox/badge/").content.decode()
    assert re.search(r">\d+<span class=\"visually-hidden\"> unread</span>", badge), badge


def test_a_request_closed_without_reward_refreshes_its_authors_open_ticket(org):
    """Nyx answering a request closes it as a decision does: the author's open ticket page hears of it."""
    kade, nyx = org["executor"], org["nyx"]
    ticket = factories.new_ticket(kade, nyx, category="Request", sub_category="Clarification")

    async def scenario():
        async with tap(kade) as drain:
            await call(services.close_without_reward, actor=nyx, ticket_id=ticket.id, note="Answered.")
            return await drain()

    events = {message["event"]: message["data"] for message in async_to_sync(scenario)()}
    assert sorted(events) == ["notification", "ticket_updated"]
    updated_at = datetime.fromisoformat(events["ticket_updated"].pop("updated_at"))
    assert events["ticket_updated"] == {"ticket_id": ticket.id, "status": "closed"}
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED
    assert abs(updated_at - ticket.updated_at) < timedelta(milliseconds=1)  # MongoDB keeps milliseconds


def test_the_event_payloads_are_the_documented_ones(org):
    """reward_granted {user_id, credits, pay, ticket_id}, credits_update {user_id, new_credits, ...}: money as text."""
    asset, reviewer = org["asset"], org["marshal"]
    ticket = submitted(org["shadow"], asset, credits=7, pay="12.50")

    async def scenario():
        async with tap(asset) as drain:
            await call(services.approve_reward, actor=reviewer, ticket_id=ticket.id, credits=7, pay="12.50")
            return await drain()

    messages = async_to_sync(scenario)()

    assert all(message["type"] == "directorate.event" for message in messages)
    events = {message["event"]: message["data"] for message in messages}
    assert sorted(events) == ["credits_update", "notification", "reward_granted", "ticket_updated"]
    assert events["reward_granted"] == {"user_id": asset.id, "credits": 7, "pay": "12.50", "ticket_id": ticket.id}
    assert events["credits_update"] == {"user_id": asset.id, "new_credits": 7, "new_balance": "12.50"}
    updated_at = datetime.fromisoformat(events["ticket_updated"].pop("updated_at"))
    assert events["ticket_updated"] == {"ticket_id": ticket.id, "status": "closed"}
    ticket.refresh_from_db()
    assert abs(updated_at - ticket.updated_at) < timedelta(milliseconds=1)  # MongoDB keeps milliseconds
    assert events["notification"]["ticket_id"] == ticket.id
    assert events["notification"]["message"].startswith(f"Reward approved by {reviewer}:")
    json.dumps(messages)  # nothing but plain data crosses the layer (Redis must be able to carry it)


def test_a_broadcast_reaches_every_subordinate_and_nobody_else(org):
    executor = org["executor"]
    subordinates = [org[name] for name in ("marshal", "marshal_2", "shadow", "shadow_2", "asset", "asset_2", "asset_3")]
    outsiders = [org[name] for name in ("executor_2", "marshal_3", "nyx")]

    async def scenario():
        async with tap(*subordinates) as inside, tap(*outsiders, executor) as outside:
            count = await call(accounts_services.broadcast, actor=executor, message="Stand by for inspection.")
            return count, await inside(), await outside()

    count, inside, outside = async_to_sync(scenario)()

    assert count == len(subordinates)
    assert len(inside) == len(subordinates)
    assert {message["event"] for message in inside} == {"notification"}
    assert all(message["data"]["message"].endswith("Stand by for inspection.") for message in inside)
    assert outside == []


def test_a_broadcast_to_many_is_one_message_and_each_socket_hears_its_own_notification_once(org, make_member):
    """Enough subordinates for one log row and one channel layer message for all (accounts.live, FAN_OUT_FROM):
    every subordinate's sockets hear the broadcast once, with that member's own notification; nobody else does."""
    executor = org["executor"]
    extra = [make_member(Rank.ASSET, org["shadow_2"]) for _ in range(live.FAN_OUT_FROM)]
    subordinates = [org[name] for name in ("marshal", "marshal_2", "shadow", "shadow_2", "asset", "asset_2", "asset_3")]
    subordinates += extra
    outsiders = [org[name] for name in ("executor_2", "marshal_3", "nyx")]
    cookies = {person.id: session_cookie(person) for person in (org["asset"], extra[0], org["marshal_3"])}
    first_seq = live.latest_seq()

    async def scenario():
        async with (
            live_socket(cookies[org["asset"].id]) as asset_socket,
            live_socket(cookies[org["asset"].id]) as asset_second_tab,
            live_socket(cookies[extra[0].id]) as extra_socket,
            live_socket(cookies[org["marshal_3"].id]) as outsider_socket,
            tap(*subordinates) as inside,
            tap(*outsiders, executor) as outside,
        ):
            count = await call(accounts_services.broadcast, actor=executor, message="Stand by for inspection.")
            heard = [await receive(socket, 1) for socket in (asset_socket, asset_second_tab, extra_socket)]
            for socket in (asset_socket, asset_second_tab, extra_socket, outsider_socket):
                assert await socket.receive_nothing(timeout=QUIET)
            return count, heard, await inside(), await outside()

    count, heard, inside, outside = async_to_sync(scenario)()

    assert count == len(subordinates)
    assert [[kind_of(fragment) for fragment in fragments] for fragments in heard] == [["inbox badge"]] * 3
    assert outside == []
    assert LiveEvent.objects.filter(seq__gt=first_seq).count() == 1
    assert len(inside) == 1  # one message for all fifteen groups, each channel once
    own_ids = dict(
        Notification.objects.filter(message__endswith="Stand by for inspection.").values_list("user_id", "id")
    )
    for person in subordinates:
        data, fragment = live.addressed_to(inside[0], person.id)
        assert data == {"id": own_ids[person.id], "message": data["message"], "ticket_id": None}
        assert data["message"] == f"Command from {executor}: Stand by for inspection."
        assert 'hx-get="/inbox/badge/"' in fragment
    assert all(live.addressed_to(inside[0], person.id) is None for person in outsiders)
    json.dumps(inside)  # plain data: Redis carries the same message


def test_niki_broadcasting_to_everyone_reaches_them_as_the_directorates(org, make_member):
    niki = org["niki"]
    for _ in range(live.FAN_OUT_FROM):
        make_member(Rank.ASSET, org["shadow"])
    everyone_else = list(User.objects.exclude(id=niki.id))

    async def scenario():
        async with tap(*everyone_else) as drain:
            await call(accounts_services.broadcast, actor=niki, message="All stations report.")
            return await drain()

    messages = async_to_sync(scenario)()

    assert len(messages) == 1 and set(messages[0]["each"]) == {person.id for person in everyone_else}
    assert messages[0]["shared"]["message"] == "Command from The Directorate: All stations report."
    assert traces_of_niki(json.dumps(messages, ensure_ascii=False), niki) == []


# Niki -------------------------------------------------------------------------------------------------------


def test_niki_acts_reach_others_as_the_directorates(org):
    """Niki approves North's reward (the review escalated by choice up to Niki). North is told the Directorate
    approved it; no event payload sent to anyone but Niki names, numbers or identifies Niki."""
    niki, asset = org["niki"], org["asset"]
    ticket = submitted(org["shadow"], asset, credits=7, pay="12.50")
    for reviewer in ("marshal", "executor", "nyx"):
        services.escalate(actor=org[reviewer], ticket_id=ticket.id, note="Passed up.")
    assert Ticket.objects.get(id=ticket.id).reviewer_id == niki.id
    everyone_else = list(User.objects.exclude(id=niki.id))
    cookie = session_cookie(asset)

    async def scenario():
        async with live_socket(cookie) as socket, tap(*everyone_else) as drain:
            await call(services.approve_reward, actor=niki, ticket_id=ticket.id, credits=7, pay="12.50", note="Done.")
            fragments = by_kind(await receive(socket, 4))
            assert await socket.receive_nothing(timeout=QUIET)
            return fragments, await drain()

    fragments, messages = async_to_sync(scenario)()

    assert set(fragments) == {"wallet", "toast", "inbox badge", "ticket"}
    notifications = [message["data"] for message in messages if message["event"] == "notification"]
    assert [data["message"] for data in notifications] == [
        "Reward approved by The Directorate: 7 credits and ¤12.50 for Observe the east depot"
    ]
    payloads = json.dumps([message["data"] for message in messages], ensure_ascii=False)
    assert traces_of_niki(payloads, niki) == []
    assert traces_of_niki("".join(fragments.values()), niki) == []
    # The checks above can fail: the payloads name Niki's id wherever Niki would have leaked.
    assert traces_of_niki(json.dumps({"approved_by": niki.id}), niki) == ["Niki's id"]


# Nothing leaves before commit -------------------------------------------------------------------------------


def test_a_refused_approval_sends_nothing_though_it_had_scheduled_events(org):
    """The approval moves the ticket (scheduling `ticket_updated`), then the ledger refuses a second payout and
    the whole unit rolls back: the scheduled events are dropped with it."""
    asset, reviewer = org["asset"], org["marshal"]
    ticket = submitted(org["shadow"], asset)
    # The payout a retry that slipped past the status check would find: the ledger's unique constraint refuses.
    # Written as the ledger is written, with its wallet and daily totals, so the invariants hold.
    factories.ledger_entry(
        asset, type=Transaction.Type.CREDIT_AWARD, credits=7, related_ticket=ticket, approved_by=reviewer
    )
    everyone = list(User.objects.all())
    cookies = [session_cookie(person) for person in (asset, reviewer)]

    async def scenario():
        async with live_socket(cookies[0]) as asset_socket, live_socket(cookies[1]) as reviewer_socket:
            async with tap(*everyone) as drain:
                with pytest.raises(Conflict):
                    await call(services.approve_reward, actor=reviewer, ticket_id=ticket.id, credits=7, pay="12.50")
                assert await drain() == []
            assert await asset_socket.receive_nothing(timeout=QUIET)
            assert await reviewer_socket.receive_nothing(timeout=QUIET)

    async_to_sync(scenario)()
    assert Ticket.objects.get(id=ticket.id).status == Ticket.Status.AWAITING_REVIEW


@pytest.mark.parametrize("refusal", ["not the reviewer", "overdraw", "invalid amount"])
def test_a_refused_service_sends_nothing(org, refusal):
    asset, reviewer = org["asset"], org["marshal"]
    ticket = submitted(org["shadow"], asset)
    everyone = list(User.objects.all())
    attempts = {
        "not the reviewer": (
            Forbidden,
            services.approve_reward,
            {"actor": org["executor"], "ticket_id": ticket.id, "credits": 7, "pay": "12.50"},
        ),
        "overdraw": (
            Invalid,
            economy.adjust,
            {"actor": reviewer, "user_id": asset.id, "pay": "-1.00", "reason": "Correction."},
        ),
        "invalid amount": (
            Invalid,
            services.approve_reward,
            {"actor": reviewer, "ticket_id": ticket.id, "credits": -1, "pay": "12.50"},
        ),
    }
    error, service, kwargs = attempts[refusal]

    async def scenario():
        async with tap(*everyone) as drain:
            with pytest.raises(error):
                await call(service, **kwargs)
            return await drain()

    assert async_to_sync(scenario)() == []


def test_events_of_a_unit_that_rolls_back_are_never_sent(org):
    """A caller's own atomic unit around a successful service (as Nyx's executor runs several actions): when
    the unit rolls back, so do the service's events. The unit is the project's own (directorate.db.atomic),
    which is a transaction on MongoDB too; Django's transaction.atomic() does nothing there."""
    asset, reviewer = org["asset"], org["marshal"]
    ticket = submitted(org["shadow"], asset)
    everyone = list(User.objects.all())

    class Abandoned(Exception):
        pass

    def approve_then_abandon():
        with atomic():
            services.approve_reward(actor=reviewer, ticket_id=ticket.id, credits=7, pay="12.50")
            raise Abandoned

    async def scenario():
        async with tap(*everyone) as drain:
            with pytest.raises(Abandoned):
                await database_sync_to_async(approve_then_abandon)()
            silent = await drain()
            # The same approval, committed this time, is heard: the tap was listening all along.
            await call(services.approve_reward, actor=reviewer, ticket_id=ticket.id, credits=7, pay="12.50")
            return silent, await drain()

    silent, heard = async_to_sync(scenario)()
    assert silent == []
    assert {message["event"] for message in heard} == {
        "ticket_updated",
        "credits_update",
        "reward_granted",
        "notification",
    }


# When the channel layer fails ---------------------------------------------------------------------------------


class BreakingLayer(InMemoryChannelLayer):
    """An in-memory layer that stops answering on demand, as Redis does when it goes away or stalls."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.broken = None

    async def receive(self, channel):
        self.broken = self.broken or asyncio.Event()
        await self.broken.wait()
        raise ConnectionError("the channel layer stopped answering")


def test_a_connection_whose_channel_layer_fails_leaves_its_group(org):
    """The consumer fails (daphne closes the socket with 1011, and the browser reconnects), but first it
    leaves the member's group, so that no events are carried on for a channel nobody reads."""
    cookie = session_cookie(org["asset"])

    async def scenario():
        socket = communicator(cookie)
        assert (await socket.connect(timeout=RECEIVE_TIMEOUT))[0] is True
        layer = get_channel_layer()
        assert set(layer.groups) == {user_group(org["asset"].id)}
        layer.broken.set()
        with pytest.raises(ConnectionError, match="stopped answering"):
            await socket.receive_output(timeout=RECEIVE_TIMEOUT)
        assert layer.groups == {}

    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": f"{__name__}.BreakingLayer"}}):
        async_to_sync(scenario)()


# The sockets' periodic check --------------------------------------------------------------------------------


def test_the_periodic_check_answers_many_sockets_in_a_few_queries_and_refuses_what_ended(org):
    """A broadcast wakes every idle socket at once and each checks its session or token family and its member:
    all of them are answered together (accounts.consumers.standing_of), and each answer is the right one."""
    from django.contrib.sessions.models import Session
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.consumers import FAMILY, SESSION, standing_of
    from accounts.models import RefreshToken

    def session_key(person):
        return session_cookie(person).split("=", 1)[1]

    standing_session, ended_session, deactivated_session = (
        session_key(org[name]) for name in ("asset", "asset_2", "shadow")
    )
    Session.objects.filter(session_key=ended_session).delete()
    User.objects.filter(id=org["shadow"].id).update(is_active=False)
    families = {}
    for name in ("asset_3", "marshal"):
        accounts_services.start_token_family(user=org[name])
        families[name] = RefreshToken.objects.filter(user_id=org[name].id).latest("issued_at").family
    RefreshToken.objects.filter(family=families["marshal"]).update(revoked_at=RefreshToken.objects.first().issued_at)
    requests = [
        (SESSION, standing_session, org["asset"].id),
        (SESSION, ended_session, org["asset_2"].id),
        (SESSION, deactivated_session, org["shadow"].id),
        (FAMILY, families["asset_3"], org["asset_3"].id),
        (FAMILY, families["marshal"], org["marshal"].id),
    ]
    requests += [(SESSION, f"gone-{number}", org["asset"].id) for number in range(300)]

    with CaptureQueriesContext(connection) as queries:
        standing = standing_of(requests)

    assert standing == {(SESSION, standing_session, org["asset"].id), (FAMILY, families["asset_3"], org["asset_3"].id)}
    assert len(queries) == 3  # members, sessions, token families: not two per socket


def test_sockets_checking_at_once_each_close_or_relay_as_their_own_session_says(org):
    """Every socket checks before each relay (LIVE_RECHECK_SECONDS = 0): a broadcast wakes them together; the
    socket whose session was deleted closes (4401), the others hear the broadcast."""
    from django.contrib.sessions.models import Session

    cookies = {name: session_cookie(org[name]) for name in ("asset", "asset_2", "asset_3", "shadow")}
    Session.objects.filter(session_key=cookies["asset_2"].split("=", 1)[1]).delete()

    async def scenario():
        async with (
            live_socket(cookies["asset"]) as asset,
            live_socket(cookies["asset_2"]) as signed_out,
            live_socket(cookies["asset_3"]) as asset_3,
            live_socket(cookies["shadow"]) as shadow,
        ):
            await call(accounts_services.broadcast, actor=org["executor"], message="Check in.")
            heard = [kind_of(fragment) for socket in (asset, asset_3, shadow) for fragment in await receive(socket, 1)]
            closed = await signed_out.receive_output(timeout=RECEIVE_TIMEOUT)
            return heard, closed

    with override_settings(LIVE_RECHECK_SECONDS=0):
        heard, closed = async_to_sync(scenario)()

    assert heard == ["inbox badge"] * 3
    assert closed == {"type": "websocket.close", "code": UNAUTHENTICATED}

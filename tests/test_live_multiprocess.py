"""Live events across server processes, over a real Redis.

A real `redis-server` and two daphne processes (A and B) share one SQLite database and, through
`REDIS_URL`, one channel layer (`channels_redis`). People sign in over HTTP and listen on real
WebSockets, as browsers do. An event written by a request that one process serves must reach a
socket held by the other: the in-memory layer could never do that, so these tests pass only if
Redis carries the events.

The database is prepared by the commands an operator runs (migrate, bootstrap, seed_demo); the
tests never touch the ORM in this process. Every wait is bounded; the processes are stopped by
the fixtures' finalizers whatever happens.
"""

import re
import shutil
import time
from urllib.parse import urlsplit

import pytest
import redis
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as websocket_connect

from desk.demo import ASSETS, MARSHALS, SHADOWS
from tests.browser.conftest import manage, server_environment
from tests.servers import REDIS_SERVER, Daphne, start_redis, stop
from tests.test_live_events import kind_of

HTTP_TIMEOUT = 20  # seconds, for each request
EVENT_TIMEOUT = 10  # seconds, for an expected event to arrive
QUIET = 1  # seconds of silence taken as "nothing more is coming"

ASSET = ASSETS[0][0]  # asset.north, who reports to shadow.holt, who reports to marshal.vance
SHADOW = SHADOWS[0][0]
MARSHAL = MARSHALS[0][0]
PEER = ASSETS[1][0]  # asset.lark, North's peer under Holt: involved in nothing below


# Processes --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A throwaway redis-server on a free port: nothing saved, stopped at the end."""
    if not shutil.which(REDIS_SERVER):
        pytest.fail(
            f"These tests need a real redis-server ({REDIS_SERVER}): apt-get install redis-server "
            "(`make test` installs it)."
        )
    process, url = start_redis(tmp_path_factory.mktemp("redis"), "--enable-debug-command", "local")
    try:
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def servers(tmp_path_factory, redis_url):
    """Two daphne processes, A and B, on one database and one Redis channel layer; yields (password, A, B)."""
    folder = tmp_path_factory.mktemp("live-multiprocess")
    password = "live-" + str(time.time_ns())
    env = server_environment(folder, password)
    env["REDIS_URL"] = redis_url
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "bootstrap")
    manage(env, "seed_demo")
    started = []
    try:
        for name in ("a", "b"):
            started.append(Daphne(env, folder / f"daphne-{name}.log").start())
        yield password, started[0].base_url, started[1].base_url
    finally:
        for server in started:
            server.stop()


# People -----------------------------------------------------------------------------------------------------


class SignedIn:
    """A member signed in over HTTP to one server process, who can act there and listen there."""

    def __init__(self, base_url, username, password):
        self.base_url = base_url
        self.http = requests.Session()
        self.http.trust_env = False  # never through a proxy from the environment
        page = self.http.get(f"{base_url}/login/", timeout=HTTP_TIMEOUT)
        assert page.status_code == 200
        answer = self.post("/login/", {"username": username, "password": password, "next": ""})
        assert answer.headers["Location"] == "/", f"{username} could not sign in"

    def get(self, path):
        answer = self.http.get(f"{self.base_url}{path}", timeout=HTTP_TIMEOUT, allow_redirects=False)
        assert answer.status_code == 200, (path, answer.status_code)
        return answer.text

    def post(self, path, data):
        """A form post, as the browser sends it without JavaScript: answered by a redirect."""
        token = self.http.cookies["csrftoken"]
        answer = self.http.post(
            f"{self.base_url}{path}",
            data={**data, "csrfmiddlewaretoken": token},
            timeout=HTTP_TIMEOUT,
            allow_redirects=False,
        )
        assert answer.status_code == 302, (path, answer.status_code, answer.text[:2000])
        return answer

    def wallet(self):
        page = self.get("/")
        credits = re.search(r'id="wallet-credits">(-?\d+)<', page)
        balance = re.search(r'id="wallet-balance">&curren;(-?[\d.]+)<', page)
        return int(credits.group(1)), balance.group(1)

    def listen(self):
        """A WebSocket to this member's process, signed in by the session cookie, from the app's own origin."""
        host = urlsplit(self.base_url).netloc
        return websocket_connect(
            f"ws://{host}/ws/events/",
            origin=self.base_url,
            additional_headers={"Cookie": f"sessionid={self.http.cookies['sessionid']}"},
            proxy=None,
            open_timeout=HTTP_TIMEOUT,
            close_timeout=2,
        )


def receive(websocket, kinds):
    """The fragments of the given kinds, each waited for at most EVENT_TIMEOUT seconds in all; then silence."""
    found = {}
    deadline = time.monotonic() + EVENT_TIMEOUT
    while set(found) != set(kinds):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"waited {EVENT_TIMEOUT}s; received {sorted(found)} of {sorted(kinds)}")
        try:
            fragment = websocket.recv(timeout=remaining)
        except TimeoutError:
            continue
        kind = kind_of(fragment)
        assert kind in kinds and kind not in found, f"unexpected {kind} fragment: {fragment!r}"
        found[kind] = fragment
    assert_silent(websocket)
    return found


def assert_silent(websocket):
    try:
        fragment = websocket.recv(timeout=QUIET)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected fragment: {fragment!r}")


def ticket_id_from(answer):
    return re.fullmatch(r"/tickets/([0-9a-f]{24})/", answer.headers["Location"]).group(1)


def option_value(page, username):
    return re.search(rf'<option value="([0-9a-f]{{24}})"[^>]*>[^<]*\({re.escape(username)}\)</option>', page).group(1)


# Tests ------------------------------------------------------------------------------------------------------


def test_an_approval_on_one_process_reaches_the_assets_socket_on_the_other(servers):
    """North works on B; Vance reviews on A. Each hears, on their own process, what the other did on theirs."""
    password, server_a, server_b = servers
    north = SignedIn(server_b, ASSET, password)
    vance = SignedIn(server_a, MARSHAL, password)
    lark = SignedIn(server_a, PEER, password)
    credits_before, _balance = north.wallet()

    with north.listen() as north_socket, vance.listen() as vance_socket, lark.listen() as lark_socket:
        # North sets himself a task and submits it, on B ...
        created = north.post(
            "/tickets/new/",
            {
                "title": "Map the courier routes",
                "category": "Intel",
                "sub_category": "Recon Report",
                "assignee": option_value(north.get("/tickets/new/"), ASSET),
                "visibility": "hierarchical",
                "subject": "",
                "body_md": "All of them.",
            },
        )
        ticket_id = ticket_id_from(created)
        north.post(f"/tickets/{ticket_id}/start/", {})
        receive(north_socket, {"ticket"})  # his own page follows his own change
        north.post(f"/tickets/{ticket_id}/submit/", {"reward_credits": "9", "reward_pay": "14.25"})
        receive(north_socket, {"ticket"})

        # ... and his reviewer, Vance, hears of it on A: the review is his now.
        heard = receive(vance_socket, {"ticket", "inbox badge"})
        assert f'id="ticket-live-{ticket_id}"' in heard["ticket"]
        assert f"/tickets/{ticket_id}/" in vance.get("/")  # in his review queue

        # Vance approves on A; North's socket on B receives the reward.
        vance.post(f"/tickets/{ticket_id}/approve/", {"credits": "9", "pay": "14.25", "note": "Good work."})
        fragments = receive(north_socket, {"wallet", "toast", "inbox badge", "ticket"})
        receive(vance_socket, {"ticket"})
        assert_silent(lark_socket)  # an uninvolved member, on the approving process, hears nothing

    credits_after, balance_after = north.wallet()
    assert credits_after == credits_before + 9
    assert f'id="wallet-credits" hx-swap-oob="outerHTML">{credits_after}</dd>' in fragments["wallet"]
    assert f'id="wallet-balance" hx-swap-oob="outerHTML">&curren;{balance_after}</dd>' in fragments["wallet"]
    assert "Reward approved: 9 credits, &curren;14.25." in fragments["toast"]
    assert f'id="ticket-live-{ticket_id}"' in fragments["ticket"]
    assert "Closed" in north.get(f"/tickets/{ticket_id}/")


def test_signing_out_on_one_process_ends_the_session_on_the_other(servers):
    """Sessions are read through a cache; with REDIS_URL both processes share it, so B forgets a sign-out on A."""
    password, server_a, server_b = servers
    holt = SignedIn(server_a, SHADOW, password)
    on_b = requests.Session()
    on_b.trust_env = False
    on_b.cookies.update({"sessionid": holt.http.cookies["sessionid"]})
    assert on_b.get(f"{server_b}/", timeout=HTTP_TIMEOUT, allow_redirects=False).status_code == 200  # B has it now

    holt.post("/logout/", {})
    assert holt.http.get(f"{server_a}/", timeout=HTTP_TIMEOUT, allow_redirects=False).status_code == 302
    on_b_after = on_b.get(f"{server_b}/", timeout=HTTP_TIMEOUT, allow_redirects=False)
    assert (on_b_after.status_code, on_b_after.headers["Location"]) == (302, "/login/?next=/")


def test_a_broadcast_on_one_process_reaches_subordinates_on_both(servers):
    """Kade broadcasts from A; Holt listens on A and North on B: both hear it."""
    password, server_a, server_b = servers
    kade = SignedIn(server_a, "executor.kade", password)
    holt = SignedIn(server_a, SHADOW, password)
    north = SignedIn(server_b, ASSET, password)

    with holt.listen() as holt_socket, north.listen() as north_socket:
        kade.post("/broadcast/", {"message": "All units: report in."})
        receive(holt_socket, {"inbox badge"})
        receive(north_socket, {"inbox badge"})

    assert "All units: report in." in north.get("/inbox/")


@pytest.mark.parametrize("origin", ["https://evil.example", None], ids=["foreign-origin", "no-origin"])
def test_a_socket_from_another_origin_is_refused_by_the_server(servers, origin):
    """The same check over a real connection: daphne answers the handshake with 403."""
    password, _server_a, server_b = servers
    north = SignedIn(server_b, ASSET, password)
    host = urlsplit(server_b).netloc
    with pytest.raises(InvalidStatus) as refused:
        websocket_connect(
            f"ws://{host}/ws/events/",
            origin=origin,
            additional_headers={"Cookie": f"sessionid={north.http.cookies['sessionid']}"},
            proxy=None,
            open_timeout=HTTP_TIMEOUT,
        )
    assert refused.value.response.status_code == 403


def test_an_anonymous_socket_is_refused_by_the_server(servers):
    _password, server_a, _server_b = servers
    host = urlsplit(server_a).netloc
    try:
        with websocket_connect(
            f"ws://{host}/ws/events/", origin=server_a, proxy=None, open_timeout=HTTP_TIMEOUT
        ) as websocket:
            websocket.recv(timeout=EVENT_TIMEOUT)
    except InvalidStatus as refused:
        assert refused.response.status_code == 403
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4401
    else:
        raise AssertionError("an anonymous socket stayed open")


def test_a_socket_outlives_redis_being_unresponsive_for_a_few_seconds(servers, redis_url):
    """Redis stalls for longer than the layer's blocking pop (5 s), as on a slow fork, a failover or a
    busy machine. The live connections must wait for it, not fail: each process's listener is blocked
    in BZPOPMIN the whole time, and a read timeout no longer than that pop fails the consumer (daphne
    closes the socket with 1011). Under load the same race is lost now and then without any stall, and
    then the event that pop had taken off Redis is lost too (seen in benchmarks/live_events.py --redis)."""
    password, server_a, server_b = servers
    kade = SignedIn(server_a, "executor.kade", password)
    north = SignedIn(server_b, ASSET, password)

    with north.listen() as north_socket:
        stalled = redis.Redis.from_url(redis_url, socket_timeout=15)
        try:
            assert stalled.execute_command("DEBUG", "SLEEP", "6") in (True, b"OK")
        finally:
            stalled.close()
        kade.post("/broadcast/", {"message": "Still there?"})
        receive(north_socket, {"inbox badge"})

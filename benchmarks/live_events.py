"""Live event latency and broadcast fan-out, against a real daphne. Not a test: it measures, it asserts nothing.

    .venv/bin/python benchmarks/live_events.py             # in-memory channel layer
    .venv/bin/python benchmarks/live_events.py --redis     # channels-redis, with a throwaway redis-server

1. Approval latency: marshal Vance approves one of asset North's submitted tickets over HTTP while North
   holds a WebSocket; the time from sending the approval request to North's socket receiving the wallet
   fragment (credits_update), over --approvals approvals, one at a time.
2. Broadcast: --sockets subordinates of executor Kade hold one WebSocket each; Kade posts /broadcast/
   (the dashboard's form, `accounts.services.broadcast`), and the time until every socket has received its
   notification fragment is taken, over --rounds rounds.

Everything runs on this machine: one daphne process (DEBUG=0) on a temporary SQLite database prepared by
migrate, bootstrap and seed_demo, plus the members, tickets and sessions this script seeds itself (sessions
are created directly, as a sign-in would, so that 1,000 bcrypt checks are not part of the set-up). The client
shares the machine's cores with the server; results go to benchmarks/results/ as JSON.
"""

import argparse
import asyncio
import json
import os
import platform
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.servers import PROJECT_DIR, PYTHON, Daphne, manage, start_redis, stop

RESULTS_DIR = Path(__file__).resolve().parent / "results"
COMMAND_TIMEOUT = 600  # seconds, for each set-up command
EVENT_TIMEOUT = 30  # seconds, for an expected event
BROADCAST_TIMEOUT = 30  # seconds, for every socket to hear one broadcast; later it counts as missed
CONNECT_CONCURRENCY = 50  # sockets opening at once (daphne's listen backlog is 50)
SEED_BATCH_SHADOWS = ("shadow.holt", "shadow.reyes", "shadow.brand", "shadow.quill")
APPROVER, ASSET, BROADCASTER = "marshal.vance", "asset.north", "executor.kade"


# Seeding, in a subprocess with Django set up on the benchmark's database -------------------------------------


def seed_work(approvals, members, *, name):
    """In the seeding subprocess (Django set up on the benchmark's database): `approvals` tickets of asset North
    awaiting Vance's review and `members` more assets under Kade ("<name>.00001"), who sign in by a session
    (`session_for`), never by password. Returns (Vance, North and Kade by username, the ticket ids, the
    enlisted members, session_for)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password

    from accounts.models import User
    from accounts.ranks import Rank
    from accounts.services import enlist
    from directorate.db import atomic
    from tickets import services

    session_store = import_module(settings.SESSION_ENGINE).SessionStore

    def session_for(user):
        session = session_store()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        return session.session_key

    people = {user.username: user for user in User.objects.filter(username__in=[APPROVER, ASSET, BROADCASTER])}
    north = people[ASSET]
    with atomic():
        ticket_ids = []
        for number in range(approvals):
            ticket = services.create_ticket(
                actor=north,
                assignee_id=north.id,
                title=f"{name.title()} task {number}",
                category="Intel",
                sub_category="Recon Report",
            )
            services.start_work(actor=north, ticket_id=ticket.id)
            services.submit_for_review(actor=north, ticket_id=ticket.id, reward_credits=1, reward_pay="1.00")
            ticket_ids.append(ticket.id)
        shadows = list(User.objects.filter(username__in=SEED_BATCH_SHADOWS).order_by("username"))
        unusable = make_password(None)
        enlisted = [
            enlist(
                username=f"{name}.{number:05d}",
                display_name=f"{name.title()} Asset {number}",
                rank=Rank.ASSET,
                reports_to=shadows[number % len(shadows)],
                password_hash=unusable,
            )
            for number in range(members)
        ]
    return people, ticket_ids, enlisted, session_for


def seed(approvals, members, out_path):
    """Tickets awaiting Vance's review, `members` more assets under Kade, and a session for each person used."""
    import django

    django.setup()
    from accounts.models import User

    people, ticket_ids, enlisted, session_for = seed_work(approvals, members, name="bench")
    kade = people[BROADCASTER]
    data = {
        "tickets": ticket_ids,
        "sessions": {name: session_for(person) for name, person in people.items()},
        "member_sessions": [session_for(person) for person in enlisted],
        "broadcast_reach": User.objects.filter(chain__startswith=kade.chain).exclude(id=kade.id).count(),
    }
    Path(out_path).write_text(json.dumps(data))


def prepare(env, folder, script, **counts):
    """The benchmark's database: migrate, bootstrap and seed_demo, then `script --seed` with `counts` (each as
    `--name value`), run without Redis. Returns what the seeding wrote."""
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "bootstrap")
    manage(env, "seed_demo")
    data_path = Path(folder) / "seeded.json"
    options = [part for name, value in counts.items() for part in (f"--{name}", str(value))]
    run({**env, "REDIS_URL": ""}, str(script), "--seed", str(data_path), *options)
    return json.loads(data_path.read_text())


# Processes ----------------------------------------------------------------------------------------------------


def environment(folder, redis_url):
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "directorate.settings",
            "DIRECTORATE_VAR_DIR": str(Path(folder) / "var"),
            "SQLITE_PATH": str(Path(folder) / "var" / "benchmark.sqlite3"),
            "DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
            "JWT_SECRET": secrets.token_urlsafe(48),
            "DEMO_PASSWORD": secrets.token_urlsafe(12),
            "ALLOWED_HOSTS": "127.0.0.1",
            "MONGO_URI": "",
            "REDIS_URL": redis_url,
            "GEMINI_API_KEY": "",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def run(env, *args):
    result = subprocess.run(
        [PYTHON, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT
    )
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


# Measuring ----------------------------------------------------------------------------------------------------


def percentile(values, share):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share / 100 * len(ordered) + 0.5) - 1))]


def summary(seconds):
    milliseconds = [value * 1000 for value in seconds]
    return {
        "count": len(milliseconds),
        "p50": round(percentile(milliseconds, 50), 2),
        "p95": round(percentile(milliseconds, 95), 2),
        "p99": round(percentile(milliseconds, 99), 2),
        "mean": round(statistics.fmean(milliseconds), 2),
        "max": round(max(milliseconds), 2),
    }


class Client:
    """HTTP posts (requests, in a thread) and WebSockets (websockets' asyncio client) against one server."""

    def __init__(self, base_url):
        import requests

        self.base_url = base_url
        self.ws_url = base_url.replace("http://", "ws://") + "/ws/events/"
        self.http = requests.Session()
        self.http.trust_env = False
        self.csrf = secrets.token_hex(16)  # a 32-character token the client chooses: cookie and field agree

    def headers(self, session):
        return {"Cookie": f"sessionid={session}; csrftoken={self.csrf}", "Referer": self.base_url + "/"}

    async def post(self, session, path, data):
        """A form post as a browser sends it; returns where it redirects to."""

        def send():
            return self.http.post(
                f"{self.base_url}{path}",
                data={**data, "csrfmiddlewaretoken": self.csrf},
                headers=self.headers(session),
                allow_redirects=False,
                timeout=EVENT_TIMEOUT,
            )

        answer = await asyncio.to_thread(send)
        if answer.status_code != 302:
            raise RuntimeError(f"POST {path} answered {answer.status_code}: {answer.text[:500]}")
        return answer.headers["Location"]

    async def get(self, session, path):
        """The page a browser shows after a post (which also shows, and so clears, the flash messages)."""

        def fetch():
            return self.http.get(f"{self.base_url}{path}", headers=self.headers(session), timeout=EVENT_TIMEOUT)

        answer = await asyncio.to_thread(fetch)
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path} answered {answer.status_code}")

    async def socket(self, session):
        from websockets.asyncio.client import connect

        return await connect(
            self.ws_url,
            origin=self.base_url,
            additional_headers={"Cookie": f"sessionid={session}"},
            proxy=None,
            ping_interval=None,
            open_timeout=EVENT_TIMEOUT,
            max_queue=None,
        )


class Arrivals:
    """Reads one socket for ever, stamping each message with the moment it arrived."""

    def __init__(self, websocket):
        self.websocket = websocket
        self.queue = asyncio.Queue()
        self.task = asyncio.create_task(self.read())

    async def read(self):
        async for message in self.websocket:
            self.queue.put_nowait((time.perf_counter(), message))

    async def next(self):
        return await asyncio.wait_for(self.queue.get(), EVENT_TIMEOUT)


async def measure_approvals(client, data):
    north = Arrivals(await client.socket(data["sessions"][ASSET]))
    latencies, responses = [], []
    for ticket_id in data["tickets"]:
        started = time.perf_counter()
        follow = await client.post(
            data["sessions"][APPROVER], f"/tickets/{ticket_id}/approve/", {"credits": "1", "pay": "1.00"}
        )
        answered = time.perf_counter()
        wallet_at, seen = None, 0
        while seen < 4:  # ticket, wallet, toast, inbox badge: read all four so the next round starts clean
            arrived, fragment = await north.next()
            seen += 1
            if 'id="wallet-credits"' in fragment:
                wallet_at = arrived
        if wallet_at is None:
            raise RuntimeError("no wallet fragment after an approval")
        latencies.append(wallet_at - started)
        responses.append(answered - started)
        await client.get(data["sessions"][APPROVER], follow)  # untimed: the page the approver sees next
    north.task.cancel()
    await north.websocket.close()
    return {"event_latency_ms": summary(latencies), "http_response_ms": summary(responses)}


async def hear(websocket, arrivals, index):
    """Wait for the next message on `websocket`; note when it came (it stays None if the server closes it)."""
    from websockets.exceptions import ConnectionClosed

    try:
        await websocket.recv()
    except ConnectionClosed as closed:
        print(f"a socket was closed by the server: {closed}", file=sys.stderr)
        return
    arrivals[index] = time.perf_counter()


def cpu_ms(pid):
    """CPU time (user + system) the process `pid` has used so far, in ms (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


async def measure_broadcast(client, data, rounds, server_pid=None):
    sessions = data["member_sessions"]
    opening = time.perf_counter()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one(session):
        async with gate:
            return await client.socket(session)

    every_socket = await asyncio.gather(*(open_one(session) for session in sessions))
    opened_in = time.perf_counter() - opening
    results = []
    for number in range(rounds):
        websockets = [websocket for websocket in every_socket if websocket.close_code is None]
        arrivals = [None] * len(websockets)
        listeners = [
            asyncio.create_task(hear(websocket, arrivals, index)) for index, websocket in enumerate(websockets)
        ]
        await asyncio.sleep(0.5)  # let every listener start waiting
        cpu_before = cpu_ms(server_pid) if server_pid else None
        started = time.perf_counter()
        follow = await client.post(
            data["sessions"][BROADCASTER], "/broadcast/", {"message": f"Benchmark round {number}."}
        )
        answered = time.perf_counter()
        _done, waiting = await asyncio.wait(listeners, timeout=BROADCAST_TIMEOUT)
        for listener in waiting:  # an event that never came: that socket takes no further part
            listener.cancel()
        await asyncio.sleep(0.2)  # what the server still does after the last socket heard (little: it is idle)
        server_cpu = round(cpu_ms(server_pid) - cpu_before, 1) if server_pid else None
        for index, websocket in enumerate(websockets):
            if arrivals[index] is None:
                await websocket.close()
        await client.get(data["sessions"][BROADCASTER], follow)
        delays = [moment - started for moment in arrivals if moment is not None]
        results.append(
            {
                "sockets": len(websockets),
                "missed": len(websockets) - len(delays),
                "all_received_ms": round(max(delays) * 1000, 1),
                "first_received_ms": round(min(delays) * 1000, 1),
                "median_received_ms": round(statistics.median(delays) * 1000, 1),
                "http_response_ms": round((answered - started) * 1000, 1),
                "server_cpu_ms": server_cpu,
            }
        )
    await asyncio.gather(*(websocket.close() for websocket in every_socket))
    return {
        "sockets": len(sessions),
        "missed": sum(result["missed"] for result in results),
        "notified": data["broadcast_reach"],
        "sockets_opened_s": round(opened_in, 2),
        "rounds": results,
        "all_received_ms_median": statistics.median(result["all_received_ms"] for result in results),
        "last_socket_ms": summary([result["all_received_ms"] / 1000 for result in results]),
        "http_response_ms": summary([result["http_response_ms"] / 1000 for result in results]),
        "server_cpu_ms_median": statistics.median(result["server_cpu_ms"] or 0 for result in results),
    }


def about_the_run(benchmark, moment):
    """What every result file starts with: which benchmark, when, on how many cores, under which Python."""
    return {
        "benchmark": benchmark,
        "date": moment.isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def raise_file_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def print_table(result):
    approvals, broadcast = result["approvals"], result["broadcast"]

    def each(name):
        return " / ".join(f"{round_[name]} ms" for round_ in broadcast["rounds"])

    rows = [
        ("machine", f"{result['cpu_count']} cores, Python {result['python']}, {result['platform']}"),
        ("channel layer", result["layer"]),
        (
            f"approval -> wallet fragment ({approvals['event_latency_ms']['count']}x)",
            "p50 {p50} ms, p95 {p95} ms, p99 {p99} ms, max {max} ms".format(**approvals["event_latency_ms"]),
        ),
        ("approval HTTP response", "p50 {p50} ms, p95 {p95} ms, p99 {p99} ms".format(**approvals["http_response_ms"])),
        (
            f"broadcast -> all {broadcast['sockets']} sockets",
            each("all_received_ms") + f"  (median {broadcast['all_received_ms_median']} ms)",
        ),
        (
            f"broadcast -> last socket over {len(broadcast['rounds'])} rounds",
            "p50 {p50} ms, p99 {p99} ms".format(**broadcast["last_socket_ms"]),
        ),
        ("broadcast HTTP response", each("http_response_ms")),
        ("broadcast, median socket", each("median_received_ms")),
        (
            "broadcast, server CPU per round",
            each("server_cpu_ms") + f"  (median {broadcast['server_cpu_ms_median']} ms)",
        ),
        (f"opening {broadcast['sockets']} sockets", f"{broadcast['sockets_opened_s']} s"),
        ("broadcast events missed or sockets closed", str(broadcast["missed"])),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", action="store_true", help="use channels-redis with a throwaway redis-server")
    parser.add_argument("--approvals", type=int, default=200)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10, help="broadcast rounds")
    parser.add_argument(
        "--idle",
        action="store_true",
        help="every socket checks its session and member before each event (LIVE_RECHECK_SECONDS=0), as sockets "
        "idle for longer than LIVE_RECHECK_SECONDS do when a broadcast wakes them",
    )
    parser.add_argument(
        "--profile", action="store_true", help="run daphne under cProfile and print where its time went"
    )
    parser.add_argument("--seed", metavar="OUT", help=argparse.SUPPRESS)  # internal: the seeding subprocess
    args = parser.parse_args()
    if args.seed:
        seed(args.approvals, args.sockets, args.seed)
        return

    raise_file_limit(args.sockets * 2 + 256)
    redis = daphne = None
    with tempfile.TemporaryDirectory(prefix="directorate-bench-") as folder:
        try:
            redis_url = ""
            if args.redis:
                redis, redis_url = start_redis(folder)
            env = environment(folder, redis_url)
            if args.idle:
                env["LIVE_RECHECK_SECONDS"] = "0"
            print(f"Preparing the database in {folder} ...", flush=True)
            prepared_at = time.perf_counter()
            data = prepare(env, folder, Path(__file__).resolve(), approvals=args.approvals, sockets=args.sockets)
            print(
                f"Prepared the database with {args.approvals} tickets and {args.sockets} more members in "
                f"{time.perf_counter() - prepared_at:.1f}s; starting daphne ...",
                flush=True,
            )

            daphne = Daphne(
                env, Path(folder) / "daphne.log", profile_path=Path(folder) / "daphne.prof" if args.profile else None
            ).start()

            client = Client(daphne.base_url)
            print(f"Measuring {args.approvals} approvals ...", flush=True)
            approvals = asyncio.run(measure_approvals(client, data))
            print(f"Measuring {args.rounds} broadcasts to {args.sockets} sockets ...", flush=True)
            broadcast = asyncio.run(measure_broadcast(client, data, args.rounds, server_pid=daphne.process.pid))
        except BaseException:
            log = Path(folder) / "daphne.log"
            if log.exists():  # all but the access lines
                lines = [line for line in log.read_text(errors="replace").splitlines() if " - - [" not in line]
                print("daphne's log, without access lines, ends:", *lines[-200:], sep="\n", file=sys.stderr)
            raise
        finally:
            if daphne is not None:
                daphne.stop()
            stop(redis)
            if args.profile and (Path(folder) / "daphne.prof").exists():
                import pstats

                print("\nWhere daphne's time went (own time, top 30):")
                stats = pstats.Stats(str(Path(folder) / "daphne.prof"))
                stats.sort_stats("tottime").print_stats(30)
                stats.sort_stats("cumulative").print_stats(60)
                if os.environ.get("PROFILE_CALLERS"):
                    stats.print_callers(os.environ["PROFILE_CALLERS"])
                if os.environ.get("PROFILE_CALLEES"):
                    stats.print_callees(os.environ["PROFILE_CALLEES"])

    moment = datetime.now(UTC)
    result = {
        **about_the_run("live_events", moment),
        "platform": platform.platform(terse=True),
        "layer": (
            "channels_redis.core.RedisChannelLayer"
            if args.redis
            else "directorate.layers.AmortisedInMemoryChannelLayer"
        ),
        "load_average_after": os.getloadavg(),
        "server": "one daphne process, DEBUG=0, SQLite",
        "sockets_check_before_each_event": bool(args.idle),
        "approvals": approvals,
        "broadcast": broadcast,
    }
    print()
    print_table(result)
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"live_events-{'redis' if args.redis else 'memory'}-{moment:%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()

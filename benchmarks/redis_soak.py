"""A soak of live delivery over Redis: two daphne processes and the worker, one redis-server, many events.

    .venv/bin/python benchmarks/redis_soak.py                      # 1,000 approvals, 200 broadcasts, 100 members
    .venv/bin/python benchmarks/redis_soak.py --approvals 40 --broadcasts 10 --members 20

Everything is real and on this machine: redis-server, two daphne processes (A and B, DEBUG=0) and
`manage.py worker`, all with REDIS_URL, on one SQLite database prepared by migrate, bootstrap and seed_demo,
plus the tickets, members, sessions and API tokens this script seeds itself.

Every member under executor Kade that the script enlists holds one API socket (`/ws/api/events/`), half on A
and half on B; asset North holds an API socket on each process and a browser socket on each. Then, at once:
marshal Vance approves North's tickets over HTTP, alternately on A and B, two at a time; Kade broadcasts,
alternately on A and B; the worker pays the payroll and Nyx reviews what awaits it.

Checked at the end, for every API socket: every event the live event log holds for its member, numbered after
the socket was ready, arrived exactly once (no loss, no duplicate); for North's browser sockets, one wallet
fragment per credits_update; no socket was closed by a server; no daphne or worker logged a traceback (a
consumer death, such as redis-py's read timeout racing channels-redis's blocking pop). `tests/test_redis_soak.py`
runs a small one; results of the full one go to benchmarks/results/ as JSON.
"""

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS.parent))

from benchmarks.live_events import (  # noqa: E402
    APPROVER,
    ASSET,
    BROADCASTER,
    RESULTS_DIR,
    Client,
    about_the_run,
    environment,
    prepare,
    raise_file_limit,
    seed_work,
)
from tests.servers import PROJECT_DIR, PYTHON, Daphne, start_redis, stop  # noqa: E402

SETTLE_TIMEOUT = 60  # seconds for every socket to hear everything after the last action
CONCURRENT_APPROVALS = 2


def seed(approvals, members, out_path):
    """Tickets awaiting Vance, `members` more assets under Kade, sessions and API access tokens."""
    import django

    django.setup()
    from accounts.services import start_token_family

    people, tickets, enlisted, session_for = seed_work(approvals, members, name="soak")
    north = people[ASSET]
    sessions = {name: session_for(person) for name, person in people.items()}
    tokens = {person.id: start_token_family(user=person)["access_token"] for person in [north, *enlisted]}
    Path(out_path).write_text(
        json.dumps({"tickets": tickets, "sessions": sessions, "tokens": tokens, "north": north.id})
    )


class ApiListener:
    """One API socket: signed in, then every frame it receives, kept."""

    def __init__(self, base_url, member_id, token):
        self.url = base_url.replace("http://", "ws://") + "/ws/api/events/"
        self.member_id, self.token = member_id, token
        self.events, self.closed_by_server = [], None

    async def open(self):
        from websockets.asyncio.client import connect

        self.websocket = await connect(self.url, proxy=None, ping_interval=None, open_timeout=30, max_queue=None)
        await self.websocket.send(json.dumps({"type": "auth", "token": self.token}))
        ready = json.loads(await asyncio.wait_for(self.websocket.recv(), 30))
        if ready.get("type") != "ready":
            raise RuntimeError(f"the API socket was not signed in: {ready}")
        self.ready_after = ready["last_event_id"]
        self.task = asyncio.create_task(self.read())

    async def read(self):
        from websockets.exceptions import ConnectionClosed

        try:
            async for frame in self.websocket:
                message = json.loads(frame)
                if message.get("type") == "event":
                    self.events.append(message)
        except ConnectionClosed as closed:
            self.closed_by_server = str(closed)
            return
        self.closed_by_server = "closed"


class BrowserListener:
    def __init__(self, client, session):
        self.client, self.session = client, session
        self.fragments, self.closed_by_server = [], None

    async def open(self):
        self.websocket = await self.client.socket(self.session)
        self.task = asyncio.create_task(self.read())

    async def read(self):
        from websockets.exceptions import ConnectionClosed

        try:
            async for fragment in self.websocket:
                self.fragments.append(fragment)
        except ConnectionClosed as closed:
            self.closed_by_server = str(closed)
            return
        self.closed_by_server = "closed"


# The member's rows, and the rows for many members (recipient "*", accounts/live.py) whose data names them.
FOR_MEMBER = (
    "(recipient_id = :member OR (recipient_id = '*' AND json_type(data, '$.each.\"' || :member || '\"') IS NOT NULL))"
    " AND event != 'sockets_closed'"
)


def expected_events(database, member_id, after):
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        return [
            row[0]
            for row in connection.execute(
                f"SELECT seq FROM accounts_liveevent WHERE {FOR_MEMBER} AND seq > :after ORDER BY seq",
                {"member": member_id, "after": after},
            )
        ]


def count_events(database, member_id, event, after):
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        return connection.execute(
            f"SELECT COUNT(*) FROM accounts_liveevent WHERE {FOR_MEMBER} AND event = :event AND seq > :after",
            {"member": member_id, "event": event, "after": after},
        ).fetchone()[0]


def event_of(database, seq):
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        return connection.execute("SELECT event FROM accounts_liveevent WHERE seq = ?", (seq,)).fetchone()[0]


def latest(database):
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        return connection.execute("SELECT COALESCE(MAX(seq), 0) FROM accounts_liveevent").fetchone()[0]


async def soak(servers, data, database, broadcasts, start_worker):
    clients = [Client(url) for url in servers]
    north = data["north"]
    listeners = []
    for index, (member_id, token) in enumerate(sorted(data["tokens"].items())):
        if member_id == north:
            listeners += [ApiListener(url, member_id, token) for url in servers]
        else:
            listeners.append(ApiListener(servers[index % 2], member_id, token))
    gate = asyncio.Semaphore(25)

    async def open_one(listener):
        async with gate:
            await listener.open()

    await asyncio.gather(*(open_one(listener) for listener in listeners))
    browsers = [BrowserListener(client, data["sessions"][ASSET]) for client in clients]
    for browser in browsers:
        await browser.open()
    browsers_after = latest(database)
    await asyncio.sleep(0.5)

    started = time.perf_counter()
    start_worker()  # the payroll and Nyx's reviews, in their own process, meanwhile
    tickets = list(data["tickets"])

    async def approver(lane):
        while tickets:
            ticket_id = tickets.pop()
            client = clients[len(tickets) % 2]
            await client.post(
                data["sessions"][APPROVER], f"/tickets/{ticket_id}/approve/", {"credits": "1", "pay": "1.00"}
            )

    async def broadcaster():
        for number in range(broadcasts):
            await clients[number % 2].post(
                data["sessions"][BROADCASTER], "/broadcast/", {"message": f"Soak broadcast {number}."}
            )

    await asyncio.gather(*(approver(lane) for lane in range(CONCURRENT_APPROVALS)), broadcaster())
    acted_in = time.perf_counter() - started

    # Settle: until every API socket has what the log holds for it (or the timeout).
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        missing = sum(
            len(
                set(expected_events(database, listener.member_id, listener.ready_after))
                - {event["event_id"] for event in listener.events}
            )
            for listener in listeners
        )
        if not missing:
            break
        await asyncio.sleep(1)
    await asyncio.sleep(2)  # anything late and extra (a duplicate) lands now

    report = {
        "api_sockets": len(listeners),
        "browser_sockets": len(browsers),
        "acted_in_s": round(acted_in, 1),
        "lost": 0,
        "duplicated": 0,
        "foreign": 0,
        "closed_by_server": 0,
        "events_checked": 0,
        "browser_wallet_fragments_missing": 0,
        "lost_by_event": Counter(),
    }
    for listener in listeners:
        expected = expected_events(database, listener.member_id, listener.ready_after)
        received = Counter(event["event_id"] for event in listener.events)
        report["events_checked"] += len(expected)
        lost = set(expected) - set(received)
        report["lost"] += len(lost)
        for seq in lost:
            report["lost_by_event"][event_of(database, seq)] += 1
        report["duplicated"] += sum(count - 1 for count in received.values() if count > 1)
        report["foreign"] += sum(
            1 for event in listener.events if event["data"].get("user_id", listener.member_id) != listener.member_id
        )
        report["closed_by_server"] += listener.closed_by_server is not None
    wallet_updates = count_events(database, north, "credits_update", browsers_after)
    for browser in browsers:
        wallets = sum('id="wallet-credits"' in fragment for fragment in browser.fragments)
        report["browser_wallet_fragments_missing"] += abs(wallet_updates - wallets)
        report["closed_by_server"] += browser.closed_by_server is not None
    report["north_credits_updates"] = wallet_updates
    for listener in listeners:
        listener.task.cancel()
        await listener.websocket.close()
    for browser in browsers:
        browser.task.cancel()
        await browser.websocket.close()
    return report


def tracebacks(log_path):
    text = Path(log_path).read_text(errors="replace") if Path(log_path).exists() else ""
    return [line for line in text.splitlines() if "Traceback" in line or "TimeoutError" in line]


def run_soak(*, approvals, broadcasts, members, folder, quiet=False):
    """Set up, soak, check; returns the report (a dict). Raises if a process fails to start."""
    say = (lambda *args: None) if quiet else (lambda *args: print(*args, flush=True))
    raise_file_limit(members * 4 + 256)
    redis, daphnes, workers = None, [], []
    try:
        redis, redis_url = start_redis(folder)
        env = environment(folder, redis_url)
        env["NYX_WORKER_INTERVAL"] = "0.5"
        database = env["SQLITE_PATH"]
        say(f"Preparing the database in {folder} ...")
        data = prepare(env, folder, Path(__file__).resolve(), approvals=approvals, members=members)
        servers, logs = [], []
        for name in ("a", "b"):
            log_path = Path(folder) / f"daphne-{name}.log"
            logs.append(log_path)
            daphne = Daphne(env, log_path)
            daphnes.append(daphne)
            servers.append(daphne.start().base_url)
        worker_log = Path(folder) / "worker.log"
        logs.append(worker_log)

        def start_worker():
            with open(worker_log, "wb") as log:
                workers.append(
                    subprocess.Popen(
                        [PYTHON, "manage.py", "worker"], cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
                    )
                )

        say(f"Soaking: {approvals} approvals, {broadcasts} broadcasts, {members} members' API sockets ...")
        report = asyncio.run(soak(servers, data, database, broadcasts, start_worker))
        report.update({"approvals": approvals, "broadcasts": broadcasts, "members": members})
        report["consumer_deaths_or_tracebacks"] = sum(len(tracebacks(path)) for path in logs)
        report["lost_by_event"] = dict(report["lost_by_event"])
        if os.environ.get("SOAK_SHOW_LOGS"):
            for path in logs:
                print(f"--- {path.name}", *Path(path).read_text(errors="replace").splitlines()[-30:], sep="\n")
        report["server_processes_alive"] = (
            redis.poll() is None
            and all(daphne.running for daphne in daphnes)
            and all(worker.poll() is None for worker in workers)
        )
        return report
    finally:
        for worker in workers:
            stop(worker)
        for daphne in daphnes:
            daphne.stop()
        stop(redis)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--approvals", type=int, default=1000)
    parser.add_argument("--broadcasts", type=int, default=200)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--seed", metavar="OUT", help=argparse.SUPPRESS)  # internal: the seeding subprocess
    args = parser.parse_args()
    if args.seed:
        seed(args.approvals, args.members, args.seed)
        return
    with tempfile.TemporaryDirectory(prefix="directorate-soak-") as folder:
        report = run_soak(approvals=args.approvals, broadcasts=args.broadcasts, members=args.members, folder=folder)
    moment = datetime.now(UTC)
    result = {
        **about_the_run("redis_soak", moment),
        "load_average": os.getloadavg(),
        **report,
    }
    print(json.dumps(result, indent=2))
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"redis_soak-{moment:%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {out.relative_to(PROJECT_DIR)}")
    failed = (
        report["lost"]
        or report["duplicated"]
        or report["foreign"]
        or report["closed_by_server"]
        or report["consumer_deaths_or_tracebacks"]
        or report["browser_wallet_fragments_missing"]
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

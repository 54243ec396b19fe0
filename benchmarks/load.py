"""Mixed concurrent load against a real daphne, then the ledger invariant; optionally with SIGKILLs mid-load.

    .venv/bin/python benchmarks/load.py                     # 32 clients, 10,000 operations
    .venv/bin/python benchmarks/load.py --crash-rounds 10   # the same load, the server SIGKILLed 10 times
    .venv/bin/python benchmarks/load.py --crash-rounds 10 --crash one   # one server process SIGKILLed each time

The server is `manage.py serve` as `make run` starts it (without the worker): `--processes` daphne processes
behind one port (default: one per core); `--processes 0` serves with one bare daphne, as before it existed.

Operations, drawn at random (fixed seed) over JSON API calls with bearer tokens:
  approve   a reviewer approves a ticket awaiting their review (PATCH /api/tickets/{id}/approve)
  double    two clients approve the same ticket at the same moment: exactly one may succeed
  retry     a ticket already approved is approved again: it must be refused
  adjust    a marshal adjusts a direct report's credits and pay (PATCH /api/users/{id}/adjust), sometimes
            a deduction larger than the balance, which must be refused
A request that dies with the server is sent again once the server is back (a client's retry): it may find
its first attempt committed, and must then be refused, not paid twice.

Crash mode splits the operations into rounds; in each, the server is SIGKILLed when about half of the
round's operations are done, the invariant is checked on the database as the crash left it, the server is
restarted on the same port, the round finishes, and the invariant is checked again. `--crash all` (the
default) kills every process of the server at once (`manage.py serve` and its daphne processes: what a power
cut does to them), and this driver starts it again; `--crash one` kills one daphne process, which
`manage.py serve` starts again while the others go on serving (the check after the crash then runs while they
write, in one read unit).

Violations counted: every member whose credits or balance differ from the sum of their ledger entries; any
ticket with more than one credit award or payment; a closed ticket not paid, or a paid ticket not closed;
a double approval with two successes; a retry that succeeded; any 5xx answer.
"""

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import (
    RESULTS_DIR,
    Inside,
    environment,
    http_session,
    prepare_database,
)
from tests.servers import Daphne

MIX = {"approve": 0.35, "double": 0.15, "retry": 0.15, "adjust": 0.35}
REQUEST_TIMEOUT = 60
SERVER_DOWN_WAIT = 120


class Load:
    def __init__(self, server, plan, *, operations, seed):
        self.server = server
        self.rng = random.Random(seed)
        self.up = threading.Event()
        self.up.set()
        self.lock = threading.Lock()
        self.outcomes = Counter()
        self.problems = []
        self.approved = []  # (ticket, token) approved at least once, for retries
        self.pending = []  # (ticket, token) awaiting review, not yet used
        for review in plan["reviews"]:
            self.pending += [(ticket, review["token"]) for ticket in review["tickets"]]
        self.rng.shuffle(self.pending)
        self.adjusters = plan["adjusters"]
        kinds, weights = zip(*MIX.items(), strict=True)
        self.operations = self.rng.choices(kinds, weights, k=operations)
        self.done = 0

    # One request, sent again while the server is down -------------------------------------------------------

    def send(self, session, method, path, payload, token):
        attempts = 0
        while True:
            self.up.wait(SERVER_DOWN_WAIT)
            try:
                response = session.request(
                    method,
                    self.server.base_url + path,
                    json=payload,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=REQUEST_TIMEOUT,
                )
            except requests.ConnectionError:
                attempts += 1
                with self.lock:
                    self.outcomes["connection lost, sent again"] += 1
                if attempts > 50:
                    raise
                time.sleep(0.05)
                continue
            if response.status_code >= 500:
                with self.lock:
                    self.problems.append(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}")
            return response.status_code, attempts

    def approve(self, session, ticket, token):
        status, attempts = self.send(
            session,
            "PATCH",
            f"/api/tickets/{ticket['id']}/approve",
            {"credits": ticket["credits"], "pay": ticket["pay"]},
            token,
        )
        return status, attempts

    # Operations ----------------------------------------------------------------------------------------------

    def next_ticket(self):
        with self.lock:
            return self.pending.pop() if self.pending else None

    def run_one(self, session, kind, other=None):
        if kind in ("approve", "double"):
            picked = self.next_ticket()
            if picked is None:
                kind = "adjust"
        if kind == "retry":
            with self.lock:
                picked = self.rng.choice(self.approved) if self.approved else None
            if picked is None:
                kind = "adjust"
        if kind == "approve":
            status, attempts = self.approve(session, *picked)
            self.record(kind, status)
            if status == 200 or attempts:
                with self.lock:
                    self.approved.append(picked)
        elif kind == "double":
            answers = []
            own_other = other is None
            other = other or http_session()  # the second client's kept-alive connection
            barrier = threading.Barrier(2)

            def second():
                barrier.wait()
                answers.append(self.approve(other, *picked)[0])

            thread = threading.Thread(target=second)
            thread.start()
            barrier.wait()
            answers.append(self.approve(session, *picked)[0])
            thread.join()
            if own_other:
                other.close()
            for status in answers:
                self.record(kind, status)
            if answers.count(200) > 1:
                with self.lock:
                    self.problems.append(f"double approval of {picked[0]['id']}: both succeeded")
            with self.lock:
                self.approved.append(picked)
        elif kind == "retry":
            status, _ = self.approve(session, *picked)
            self.record(kind, status)
            if status == 200:
                with self.lock:
                    self.problems.append(f"retry of {picked[0]['id']} succeeded: approved twice")
        else:
            with self.lock:
                adjuster = self.rng.choice(self.adjusters)
                person = self.rng.choice(adjuster["people"])
                credits = self.rng.randint(-3, 5) or 1
                pay = f"{self.rng.randint(-600, 500) / 100:.2f}"
            status, _ = self.send(
                session,
                "PATCH",
                f"/api/users/{person}/adjust",
                {"credits": credits, "pay": pay, "reason": "Load test adjustment."},
                adjuster["token"],
            )
            self.record(kind, status)

    def record(self, kind, status):
        with self.lock:
            self.outcomes[f"{kind} {status}"] += 1

    def run(self, operations, clients, on_progress=None):
        """Run `operations` (a list of kinds) from `clients` threads; call on_progress(done) as they finish."""
        queue = iter(operations)
        queue_lock = threading.Lock()

        def client():
            session, other = http_session(), http_session()  # kept alive: a connection costs both sides
            while True:
                with queue_lock:
                    kind = next(queue, None)
                if kind is None:
                    return
                self.run_one(session, kind, other)
                with self.lock:
                    self.done += 1
                    done = self.done
                if on_progress:
                    on_progress(done)

        threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def default_processes():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def run(
    *,
    clients=32,
    operations=10_000,
    crash_rounds=0,
    crash="all",
    processes=None,
    seed=0,
    members=None,
    folder=None,
    log=None,
):
    """Seed, serve, load, check. Returns a summary; `violations` lists every broken rule (empty: none)."""
    log = log or (lambda message: print(message, file=sys.stderr))
    own_folder = None
    if folder is None:
        own_folder = tempfile.TemporaryDirectory(prefix="directorate-load-")
        folder = own_folder.name
    started = time.monotonic()
    env = environment(folder)
    tickets = max(200, int(operations * 0.9))
    members = members or max(120, min(5_000, operations // 10))
    prepare_database(env, users=members, tickets=tickets, review_share=0.75, stream_stderr=False)
    inside = Inside(env)
    processes = default_processes() if processes is None else processes
    server = Daphne(env, Path(folder) / "daphne.log", processes=processes or None)
    try:
        result = _load(inside, server, clients, operations, crash_rounds, crash, seed, started, log)
        return {"processes": processes, "crash": crash if crash_rounds else None, **result}
    finally:
        server.stop()
        inside.close()
        if own_folder:
            own_folder.cleanup()


def _load(inside, server, clients, operations, crash_rounds, crash, seed, started, log):
    plan = inside("load-plan")
    server.start()
    load = Load(server, plan, operations=operations, seed=seed)
    checks = []
    log(
        f"load: {clients} clients, {operations:,} operations, {crash_rounds} crash rounds, "
        f"{sum(len(r['tickets']) for r in plan['reviews']):,} tickets awaiting review, "
        f"set-up {time.monotonic() - started:.1f} s"
    )
    load_started = time.monotonic()
    client_cpu = time.process_time()
    server_cpu = None
    try:
        if not crash_rounds:
            cpu_before = cpu_seconds(server.server_pids())
            load.run(load.operations, clients)
            server_cpu = cpu_seconds(server.server_pids()) - cpu_before
        else:
            size = -(-operations // crash_rounds)
            for number in range(crash_rounds):
                chunk = load.operations[number * size : (number + 1) * size]
                if not chunk:
                    break
                target = load.done + max(1, len(chunk) // 2)
                crashed = threading.Event()

                def crash_at(done, target=target, crashed=crashed):
                    if done >= target and not crashed.is_set():
                        with load.lock:
                            if crashed.is_set():
                                return
                            crashed.set()
                            if crash == "all":
                                load.up.clear()
                        if crash == "all":
                            server.kill()
                        else:
                            server.kill_one(random.choice(server.server_pids()))

                runner = threading.Thread(target=load.run, args=(chunk, clients, crash_at))
                runner.start()
                if not crashed.wait(SERVER_DOWN_WAIT):
                    raise RuntimeError("the load never reached the crash point")
                after_crash = inside("check")
                checks.append({"round": number + 1, "when": "after SIGKILL", **summary_of(after_crash)})
                if crash == "all":
                    server.start()
                load.up.set()
                runner.join()
                after_round = inside("check")
                checks.append({"round": number + 1, "when": "round finished", **summary_of(after_round)})
                log(
                    f"  round {number + 1}: killed and restarted; violations after the crash "
                    f"{len(after_crash['violations'])}, after the round {len(after_round['violations'])}"
                )
    finally:
        server.stop()
    seconds = time.monotonic() - load_started
    client_cpu = time.process_time() - client_cpu
    if not crash_rounds:
        final = inside("check")
        checks.append({"round": None, "when": "end", **summary_of(final)})
    final = checks[-1]
    violations = [v for check in checks for v in check["violations"]] + load.problems
    result = {
        "clients": clients,
        "operations": operations,
        "crash_rounds": crash_rounds,
        "seconds": round(seconds, 1),
        "operations_per_second": round(operations / seconds, 1) if seconds else None,
        # CPU time per operation, which other work on the machine does not change as much as the wall clock:
        # the server processes' (without crashes: the processes then change) and this driver's 32 threads.
        "server_cpu_ms_per_operation": round(server_cpu * 1000 / operations, 2) if server_cpu is not None else None,
        "client_cpu_ms_per_operation": round(client_cpu * 1000 / operations, 2),
        "outcomes": dict(sorted(load.outcomes.items())),
        "checks": checks,
        "violations": violations,
        "members": final["members"],
        "transactions": final["transactions"],
    }
    return result


def cpu_seconds(pids):
    """User and system CPU time used so far by the processes `pids` (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def summary_of(check):
    return {
        "violations": check["violations"],
        "members": check["members"],
        "transactions": check["transactions"],
        "closed": check["closed"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--operations", type=int, default=10_000)
    parser.add_argument("--crash-rounds", type=int, default=0, help="SIGKILL the server this many times (e.g. 10)")
    parser.add_argument(
        "--crash",
        choices=("all", "one"),
        default="all",
        help="what a SIGKILL ends: every server process at once (default), or one daphne process",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help=f"daphne processes behind one port (default: one per core, here {default_processes()}); 0: bare daphne",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    result = run(
        clients=args.clients,
        operations=args.operations,
        crash_rounds=args.crash_rounds,
        crash=args.crash,
        processes=args.processes,
        seed=args.seed,
    )
    result["load_average"] = f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    killed = {"all": "every server process", "one": "one server process"}.get(result["crash"], "")
    print(
        f"{result['operations']:,} operations from {result['clients']} clients in {result['seconds']} s "
        f"({result['operations_per_second']} operations/s), {result['processes'] or 'one bare'} daphne "
        f"process(es), {result['crash_rounds']} SIGKILLs{f' of {killed}' if killed else ''}; "
        f"{os.cpu_count()} cores, load average {result['load_average']}"
    )
    print(
        f"CPU per operation: server processes {result['server_cpu_ms_per_operation']} ms, "
        f"this driver {result['client_cpu_ms_per_operation']} ms"
    )
    for outcome, count in result["outcomes"].items():
        print(f"  {outcome:<32} {count:>6}")
    print(
        f"invariant checked {len(result['checks'])} times over {result['members']:,} members and "
        f"{result['transactions']:,} ledger entries: {len(result['violations'])} violations"
    )
    for violation in result["violations"][:20]:
        print(f"  {violation}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = RESULTS_DIR / f"load-{'crash-' if args.crash_rounds else ''}{stamp}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path.relative_to(RESULTS_DIR.parent.parent)}")
    sys.exit(1 if result["violations"] else 0)


if __name__ == "__main__":
    main()

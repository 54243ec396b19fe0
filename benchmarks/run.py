"""Page and approval latency at scale, against a real daphne (`make bench`). It measures; it asserts nothing.

For each scale (tickets; 10k by default, `--scale 10k,100k,1m`):
  1. a fresh SQLite database in a temporary folder: migrate, bootstrap, `seed_scale` (members = tickets / 10);
  2. `benchmarks/inside.py bench-plan` picks the busiest marshal's review queue, tickets in that marshal's
     subtree, the member with the longest ledger and tickets to approve, signs them in, and counts each
     page's queries in-process (CaptureQueriesContext);
  3. one daphne process, started as `make run` starts it (DEBUG=0, benchmarks.settings adds only `/bench/floor/`);
  4. this process, over loopback, requests each target with `--concurrency` clients: the floor view
     (an empty Django view through the full middleware stack), the review queue page, ticket pages, the
     dashboard, ledger page, inbox, ticket lists and searches, the analytics page for Nyx over the last year by
     week, and the approval (`PATCH /api/tickets/{id}/approve` and the page's form; each ticket approved once);
  5. the 32-client mixed load of `load.py` (its own fresh database, served as `make run` serves: one daphne
     process per core behind one port), without and with 10 SIGKILLs of every server process: operations per
     second and invariant violations (`--load-operations 0` leaves it out).
Prints a table, writes JSON and an SVG chart to benchmarks/results/.
"""

import argparse
import json
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import load
from benchmarks.harness import (
    RESULTS_DIR,
    environment,
    http_session,
    inside,
    keep_database,
    percentile,
    prepare_database,
    reuse_database,
)
from tests.servers import Daphne

TARGETS = (
    "floor",
    "queue",
    "ticket",
    "dashboard",
    "ledger",
    "inbox",
    "list",
    "search",
    "list_exec",
    "search_exec",
    "analytics",
    "approve",
    "approve_form",
)
LABELS = {
    "floor": "bare view (floor)",
    "queue": "queue page",
    "ticket": "ticket page",
    "dashboard": "dashboard",
    "ledger": "ledger page",
    "inbox": "inbox",
    "list": "list, marshal",
    "search": "search, marshal",
    "list_exec": "list, executor",
    "search_exec": "search, executor",
    "analytics": "analytics, Nyx, year",
    "approve": "approve (API)",
    "approve_form": "approve (form)",
}
APPROVALS = ("approve", "approve_form")
SLOW = ("analytics",)  # timed with at most --slow-requests requests: a year of analytics at scale takes seconds
# Searched in turn by the search targets: frequent and rare words of the seeded titles and bodies, alone and
# in pairs (accounts/management/commands/seed_scale.py).
SEARCHES = (
    "cut",
    "depot",
    "lantern",
    "smoke river",
    "inspect archive",
    "permits",
    "batteries",
    "gate lock",
    "sector",
    "report",
    "relay calls",
    "fuel",
    "quartermaster parts",
    "ration",
    "checkpoint log",
)


def parse_scale(text):
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * factor)


def members_for(tickets):
    return max(200, min(50_000, tickets // 10))


def measure(base_url, make_request, count, concurrency, warmup=10):
    """Latencies (s) of `count` requests from `concurrency` clients, and the throughput (requests/s)."""
    counter = iter(range(count + warmup * concurrency))
    lock = threading.Lock()
    latencies, failures = [], []
    started = [None]

    def client(number):
        session = http_session()
        for _ in range(warmup):
            make_request(session, None)
        barrier.wait()
        with lock:
            if started[0] is None:
                started[0] = time.perf_counter()
        while True:
            with lock:
                index = next(counter, None)
            if index is None or index >= count:
                return
            begin = time.perf_counter()
            response = make_request(session, index)
            elapsed = time.perf_counter() - begin
            with lock:
                (latencies if response.status_code == 200 else failures).append(
                    elapsed if response.status_code == 200 else (response.status_code, response.text[:200])
                )

    barrier = threading.Barrier(concurrency)
    threads = [threading.Thread(target=client, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started[0]
    if failures:
        print(f"  {len(failures)} failed requests, first: {failures[0]}", file=sys.stderr)
    return latencies, len(latencies) / wall if wall else 0.0


def measure_beside_floor(make_request, floor_request, count, warmup=10):
    """Latencies (s) of `count` requests from one client, each after a request of the bare view, whose latencies
    are returned too: the two see the same machine, so their ratio holds when the machine's speed drifts."""
    session, floor_session = http_session(), http_session()
    for _ in range(warmup):
        floor_request(floor_session, None)
        make_request(session, None)
    latencies, floor_latencies, failures = [], [], []
    for index in range(count):
        for request, using, timed in (
            (floor_request, floor_session, floor_latencies),
            (make_request, session, latencies),
        ):
            begin = time.perf_counter()
            response = request(using, index)
            elapsed = time.perf_counter() - begin
            if response.status_code == 200:
                timed.append(elapsed)
            else:
                failures.append((response.status_code, response.text[:200]))
    if failures:
        print(f"  {len(failures)} failed requests, first: {failures[0]}", file=sys.stderr)
    return latencies, floor_latencies


def run_scale(tickets, args, folder):
    env = environment(folder)
    members = members_for(tickets)
    print(f"\n== {tickets:,} tickets, {members:,} members: seeding", file=sys.stderr)
    started = time.monotonic()
    kept = Path(args.databases) / f"bench-{tickets}.sqlite3" if args.databases else None
    if kept is not None and kept.exists():
        reuse_database(env, kept)
        print(f"copied {kept} (seeded earlier) and migrated it", file=sys.stderr)
    else:
        seeded = prepare_database(env, users=members, tickets=tickets)
        print(seeded.strip().split(". Shared")[0], file=sys.stderr)
        if kept is not None:
            keep_database(env, kept)
    seed_seconds = time.monotonic() - started
    approvals = args.approvals
    plan = inside(env, "bench-plan", args.ticket_pages, 2 * approvals + (1 + args.concurrency) * 10)
    server = Daphne(env, Path(folder) / "daphne.log").start()
    base = server.base_url
    cookie = {name: {"Cookie": f"sessionid={key}"} for name, key in plan["sessions"].items()}
    ids = plan["ticket_ids"]
    csrf = plan["csrf"]
    # Each approval target's warm-up requests approve tickets of their own, after the timed ones.
    lists = {
        "approve": plan["approvals"][: 2 * approvals],
        "approve_form": plan["form_approvals"][: 2 * approvals],
    }
    warm = {
        "approve": iter(plan["approvals"][2 * approvals :]),
        "approve_form": iter(plan["form_approvals"][2 * approvals :]),
    }

    def approve(session, index):
        item = lists["approve"][index] if index is not None else next(warm["approve"])
        return session.patch(
            f"{base}/api/tickets/{item['id']}/approve",
            json={"credits": item["credits"], "pay": item["pay"]},
            headers={"Authorization": f"Bearer {item['token']}"},
            timeout=30,
        )

    def approve_form(session, index):
        # As the ticket page's form sends it with htmx: the answer is the ticket's panel, decided.
        item = lists["approve_form"][index] if index is not None else next(warm["approve_form"])
        return session.post(
            f"{base}/tickets/{item['id']}/approve/",
            data={"credits": item["credits"], "pay": item["pay"]},
            headers={
                "Cookie": f"sessionid={item['session']}; csrftoken={csrf}",
                "X-CSRFToken": csrf,
                "HX-Request": "true",
                "Referer": f"{base}/tickets/{item['id']}/",
            },
            timeout=30,
        )

    requests_for = {
        "floor": lambda s, i: s.get(f"{base}/bench/floor/", timeout=30),
        "queue": lambda s, i: s.get(f"{base}/tickets/?scope=queue", headers=cookie["reviewer"], timeout=30),
        "ticket": lambda s, i: s.get(
            f"{base}/tickets/{ids[(i or 0) % len(ids)]}/", headers=cookie["reviewer"], timeout=30
        ),
        "dashboard": lambda s, i: s.get(f"{base}/", headers=cookie["reviewer"], timeout=30),
        "ledger": lambda s, i: s.get(f"{base}/ledger/", headers=cookie["ledger_owner"], timeout=30),
        "inbox": lambda s, i: s.get(f"{base}/inbox/", headers=cookie["ledger_owner"], timeout=30),
        "list": lambda s, i: s.get(f"{base}/tickets/", headers=cookie["reviewer"], timeout=30),
        "search": lambda s, i: s.get(
            f"{base}/tickets/", params={"q": SEARCHES[(i or 0) % len(SEARCHES)]}, headers=cookie["reviewer"], timeout=30
        ),
        "list_exec": lambda s, i: s.get(f"{base}/tickets/", headers=cookie["executor"], timeout=30),
        "search_exec": lambda s, i: s.get(
            f"{base}/tickets/", params={"q": SEARCHES[(i or 0) % len(SEARCHES)]}, headers=cookie["executor"], timeout=30
        ),
        "analytics": lambda s, i: s.get(f"{base}{plan['analytics_path']}", headers=cookie["nyx"], timeout=600),
        "approve": approve,
        "approve_form": approve_form,
    }
    rows = {}
    try:
        for target in TARGETS:
            if args.targets and target not in args.targets:
                continue
            if target in APPROVALS:
                count = min(args.approvals, len(lists[target]) // 2)
            elif target in SLOW:
                count = min(args.requests, args.slow_requests)
                if not count:
                    continue
            else:
                count = args.requests
            warmup = 1 if target in SLOW else 10
            # Latency: one client, so each number is the server's time for one request plus loopback; each
            # request follows one of the bare view, whose p95 beside it is the ratio's floor.
            if target == "floor":
                latencies, _ = measure(base, requests_for[target], count, 1)
                beside = latencies
            else:
                latencies, beside = measure_beside_floor(
                    requests_for[target], requests_for["floor"], count, warmup=warmup
                )
            # Throughput: `--concurrency` clients at once (the approvals continue down the list); not for the slow.
            offset = count if target in APPROVALS else 0
            shifted = requests_for[target]
            throughput = (
                float("nan")
                if target in SLOW
                else measure(
                    base, lambda s, i, f=shifted, o=offset: f(s, None if i is None else i + o), count, args.concurrency
                )[1]
            )
            rows[target] = {
                "requests": len(latencies),
                "p50_ms": percentile(latencies, 0.50) * 1000,
                "p95_ms": percentile(latencies, 0.95) * 1000,
                "p99_ms": percentile(latencies, 0.99) * 1000,
                "throughput_rps": throughput,
                "queries": plan["queries"][target],
                "floor_p95_ms": percentile(beside, 0.95) * 1000,
            }
            print(
                f"  {LABELS[target]:<18} p50 {rows[target]['p50_ms']:6.1f} ms  p95 {rows[target]['p95_ms']:6.1f} ms"
                f"  {throughput:6.1f} req/s  {rows[target]['p95_ms'] / rows[target]['floor_p95_ms']:4.1f}x the floor",
                file=sys.stderr,
            )
    finally:
        server.stop()
    return {
        "tickets": plan["tickets_total"],
        "members": plan["members_total"],
        "seed_seconds": round(seed_seconds, 1),
        "queue_length": plan["queue_length"],
        "ledger_entries": plan["ledger_entries"],
        "queue_plan": plan["queue_plan"],
        "rows": rows,
    }


def table(results):
    lines = [
        f"{'scale':>9} {'target':<18} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>7} {'queries':>7} "
        f"{'floor p95':>9} {'p95/floor':>9}"
    ]
    for result in results:
        for target, row in result["rows"].items():
            lines.append(
                f"{result['tickets']:>9,} {LABELS[target]:<18} {row['p50_ms']:8.1f} {row['p95_ms']:8.1f} "
                f"{row['p99_ms']:8.1f} {row['throughput_rps']:7.1f} {row['queries']:>7} {row['floor_p95_ms']:9.1f} "
                f"{row['p95_ms'] / row['floor_p95_ms']:8.1f}x"
            )
    return "\n".join(lines)


def load_table(loads):
    """The mixed load's rows: operations per second (target 150) and invariant violations (target 0)."""
    lines = [
        f"{'mixed load (32 clients)':<34} {'processes':>9} {'operations':>10} {'op/s':>7} {'violations':>10} "
        f"{'server CPU ms/op':>16}"
    ]
    for result in loads:
        label = f"{result['crash_rounds']} SIGKILLs of every server process" if result["crash_rounds"] else "no crash"
        cpu = result["server_cpu_ms_per_operation"]
        lines.append(
            f"{label:<34} {result['processes']:>9} {result['operations']:>10,} "
            f"{result['operations_per_second']:>7.1f} {len(result['violations']):>10} "
            f"{'' if cpu is None else f'{cpu:.1f}':>16}"
        )
    return "\n".join(lines)


def chart(results, title):
    """Grouped bars: p95 per target and scale, with p50 as a tick inside each bar. Plain SVG, no libraries."""
    colours = ["#4c78a8", "#f58518", "#54a24b", "#b279a2"]
    width, height, left, bottom, top = 90 * len(TARGETS) + 80, 400, 60, 80, 40  # room for every target
    plot_w, plot_h = width - left - 20, height - top - bottom
    # The slow targets (seconds) are in the table only: on the same axis they would flatten every other bar.
    shown = [t for t in TARGETS if t not in SLOW and all(t in result["rows"] for result in results)]
    peak = max(result["rows"][t]["p99_ms"] for result in results for t in shown) * 1.1 or 1
    group_w = plot_w / len(shown)
    bar_w = min(28, (group_w - 16) / len(results))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        f'font-size="11"><rect width="100%" height="100%" fill="white"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="13">{title}</text>',
    ]
    for step in range(6):
        value = peak * step / 5
        y = top + plot_h - plot_h * step / 5
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value:.0f}</text>'
        )
    out.append(
        f'<text x="14" y="{top + plot_h / 2}" transform="rotate(-90 14 {top + plot_h / 2})" '
        f'text-anchor="middle">ms (bar p95, tick p50, whisker p99)</text>'
    )
    for g, target in enumerate(shown):
        x0 = left + g * group_w + (group_w - bar_w * len(results)) / 2
        for s, result in enumerate(results):
            row = result["rows"][target]
            x = x0 + s * bar_w
            h95, h50, h99 = (plot_h * row[k] / peak for k in ("p95_ms", "p50_ms", "p99_ms"))
            base = top + plot_h
            out.append(
                f'<rect x="{x:.1f}" y="{base - h95:.1f}" width="{bar_w - 2:.1f}" height="{h95:.1f}" '
                f'fill="{colours[s % 4]}"><title>{result["tickets"]:,} tickets, {LABELS[target]}: '
                f"p50 {row['p50_ms']:.1f} / p95 {row['p95_ms']:.1f} / p99 {row['p99_ms']:.1f} ms</title></rect>"
            )
            out.append(
                f'<line x1="{x:.1f}" x2="{x + bar_w - 2:.1f}" y1="{base - h50:.1f}" y2="{base - h50:.1f}" '
                f'stroke="white" stroke-width="2"/>'
            )
            mid = x + (bar_w - 2) / 2
            out.append(
                f'<line x1="{mid:.1f}" x2="{mid:.1f}" y1="{base - h95:.1f}" y2="{base - h99:.1f}" stroke="#333"/>'
            )
        label_x, label_y = left + g * group_w + group_w / 2, top + plot_h + 14
        out.append(
            f'<text x="{label_x:.1f}" y="{label_y}" text-anchor="end" '
            f'transform="rotate(-25 {label_x:.1f} {label_y})">{LABELS[target]}</text>'
        )
    for s, result in enumerate(results):
        x = left + s * 140
        out.append(
            f'<rect x="{x}" y="{height - 24}" width="12" height="12" fill="{colours[s % 4]}"/>'
            f'<text x="{x + 16}" y="{height - 14}">{result["tickets"]:,} tickets</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="10k", help="comma-separated ticket counts, e.g. 10k,100k,1m")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per target (default 300)")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--approvals", type=int, default=200, help="timed approvals per phase (default 200)")
    parser.add_argument("--ticket-pages", type=int, default=100, help="distinct ticket pages (default 100)")
    parser.add_argument(
        "--databases",
        metavar="DIR",
        help="keep each scale's seeded database in DIR and start from a copy of it in later runs (migrated first)",
    )
    parser.add_argument(
        "--load-operations", type=int, default=10_000, help="operations of each load run (default 10,000; 0: none)"
    )
    parser.add_argument("--load-crash-rounds", type=int, default=10, help="SIGKILLs in the second load run")
    parser.add_argument(
        "--slow-requests", type=int, default=20, help="timed requests of the analytics target (default 20; 0: none)"
    )
    parser.add_argument(
        "--targets",
        type=lambda text: set(text.split(",")),
        help=f"only these targets, comma-separated ({', '.join(TARGETS)})",
    )
    args = parser.parse_args()
    scales = [parse_scale(part) for part in args.scale.split(",")]
    import os
    import platform

    results = []
    load_before = os.getloadavg()[0]
    for tickets in scales:
        with tempfile.TemporaryDirectory(prefix="directorate-bench-") as folder:
            results.append(run_scale(tickets, args, folder))
    loads = []
    for crash_rounds in (0, args.load_crash_rounds) if args.load_operations else ():
        print(f"\n== load: 32 clients, {args.load_operations:,} operations, {crash_rounds} SIGKILLs", file=sys.stderr)
        loads.append(load.run(clients=32, operations=args.load_operations, crash_rounds=crash_rounds))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.machine()}"
    load_average = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine}, one server process, SQLite, "
        f"latency from 1 client, throughput from "
        f"{args.concurrency} clients on the same machine; {load_average}"
    )
    print(table(results))
    for result in results:
        rows = result["rows"]
        if "queue" in rows:
            floor, queue = rows["queue"]["floor_p95_ms"], rows["queue"]["p95_ms"]
            print(
                f"{result['tickets']:,} tickets: queue page p95 = {queue / floor:.1f} x the bare view "
                f"(target 3x); queue of {result['queue_length']:,} tickets; plan: "
                f"{' | '.join(line.strip() for line in result['queue_plan'].splitlines())}"
            )
        for who, list_key, search_key in (("a marshal", "list", "search"), ("an executor", "list_exec", "search_exec")):
            if list_key not in rows or search_key not in rows:
                continue  # not among --targets
            ratio = rows[search_key]["p95_ms"] / rows[list_key]["p95_ms"]
            print(
                f"{result['tickets']:,} tickets: search p95 = {ratio:.1f} x the unfiltered list page's p95, "
                f"for {who} (target 3x)"
            )
    if loads:
        print(load_table(loads))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    data = {
        "when": stamp,
        "machine": machine,
        "load_average": load_average,
        "concurrency": args.concurrency,
        "results": results,
        "load": loads,
    }
    json_path = RESULTS_DIR / f"bench-{stamp}.json"
    svg_path = RESULTS_DIR / f"bench-{stamp}.svg"
    json_path.write_text(json.dumps(data, indent=2))
    svg_path.write_text(chart(results, f"Latency by page and scale, one client ({machine})"))
    project = RESULTS_DIR.parent.parent
    print(f"wrote {json_path.relative_to(project)} and {svg_path.relative_to(project)}")


if __name__ == "__main__":
    main()

"""A small soak of live delivery over a real Redis (benchmarks/redis_soak.py runs the full one).

Two daphne processes and the worker, with REDIS_URL, one redis-server; API sockets of members on both
processes and asset North's browser sockets on both; approvals on both, broadcasts on both, the worker's payroll
and Nyx's reviews meanwhile. Every event the live event log holds for a socket's member, after it was ready,
must arrive there exactly once; no socket is closed by a server; no process logs a traceback (a consumer
death, such as the blocking-pop read timeout).
"""

import shutil

from benchmarks.redis_soak import run_soak


def test_a_small_soak_over_redis_loses_nothing_and_kills_no_consumer(tmp_path):
    assert shutil.which("redis-server"), "this test needs redis-server (`make test` installs it)"

    report = run_soak(approvals=30, broadcasts=10, members=10, folder=str(tmp_path), quiet=True)

    assert report["events_checked"] >= 30 * 5 + 10 * 10  # approvals' events for North, broadcasts for everyone
    assert report["north_credits_updates"] >= 30
    assert report["lost"] == 0, report["lost_by_event"]
    assert report["duplicated"] == 0
    assert report["foreign"] == 0
    assert report["closed_by_server"] == 0
    assert report["browser_wallet_fragments_missing"] == 0
    assert report["consumer_deaths_or_tracebacks"] == 0
    assert report["server_processes_alive"]

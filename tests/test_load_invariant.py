"""The ledger invariant under real concurrent load and SIGKILLs of the server (benchmarks/load.py, small).

The same code as `benchmarks/load.py` (32 clients, 10,000 operations, 10 crashes), at a size fit for the
suite: 8 clients, 300 mixed operations (approvals, double approvals, retries, adjustments) against the real
server as `make run` serves it (two daphne processes behind one port) on a seeded SQLite database, SIGKILLed
twice mid-load: every process at once (then started again), or one server process (which `manage.py serve`
starts again while the other serves). After each crash and each round: every member's credits and balance
equal the sum of their ledger entries, no ticket is paid twice, every closed ticket is paid and every paid
ticket closed. Nothing here is timed.
"""

import pytest

from benchmarks import load


@pytest.mark.parametrize("crash", ["all", "one"])
def test_mixed_load_with_crashes_keeps_the_ledger_invariant(tmp_path, crash):
    result = load.run(
        clients=8,
        operations=300,
        crash_rounds=2,
        crash=crash,
        processes=2,
        seed=7,
        members=120,
        folder=tmp_path,
        log=lambda message: None,
    )

    assert result["violations"] == []
    outcomes = result["outcomes"]
    # The load did what it claims: approvals paid, doubles and retries refused, the server was killed twice.
    assert (result["processes"], result["crash"]) == (2, crash)
    assert outcomes.get("approve 200", 0) > 0
    assert outcomes.get("double 200", 0) > 0 and outcomes.get("double 409", 0) > 0
    assert outcomes.get("retry 409", 0) > 0
    assert outcomes.get("adjust 200", 0) > 0
    assert [check["when"] for check in result["checks"]] == ["after SIGKILL", "round finished"] * 2
    assert not any(status.startswith(("approve 5", "double 5", "retry 5", "adjust 5")) for status in outcomes)

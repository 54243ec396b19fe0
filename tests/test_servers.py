"""The server launcher the tests and the benchmarks share (tests/servers.py): daphne under cProfile, as
`benchmarks/live_events.py --profile` runs it, answers like any server and leaves its statistics when stopped."""

import pstats

from tests.browser.conftest import server_environment
from tests.servers import DIRECT, Daphne, manage


def test_a_profiled_daphne_serves_and_writes_its_statistics_when_stopped(tmp_path):
    env = server_environment(tmp_path, "profiled-server")
    manage(env, "migrate", "--no-input", "-v", "0")
    profile = tmp_path / "daphne.prof"
    server = Daphne(env, tmp_path / "daphne.log", profile_path=profile).start()
    try:
        assert server.running
        with DIRECT.open(f"{server.base_url}/login/", timeout=10) as response:
            assert response.status == 200 and b"Sign in" in response.read()
        assert not profile.exists()  # written only as the process ends
    finally:
        server.stop()
    assert not server.running
    profiled = {filename for filename, _line, _function in pstats.Stats(str(profile)).stats}
    assert any("/daphne/" in filename for filename in profiled)

"""The processes the tests and the benchmarks start: daphne (one process, or several behind one port as
`make run` serves them), and a throwaway
redis-server, each on a free loopback port, waited for until it answers and stopped whatever happens.

Shared by tests/browser/conftest.py, tests/test_live_multiprocess.py and benchmarks/ (harness.py, load.py,
live_events.py, redis_soak.py). Nothing here imports Django: every Django-side step runs in a subprocess with the
environment the caller builds (its own database, its own settings).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import redis

PROJECT_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
START_TIMEOUT = 60  # seconds, for a server to answer
COMMAND_TIMEOUT = 3600  # seconds, for one management command (seeding at scale is long)
STOP_TIMEOUT = 10  # seconds, for a process to end after SIGTERM, then after SIGKILL
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an HTTP proxy


def free_port():
    """A TCP port free on loopback now (another process may take it before we bind it: callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url):
    """Whether `url` answers 200 within two seconds."""
    try:
        with DIRECT.open(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def stop(process):
    """SIGTERM, then SIGKILL if the process does not end; nothing if it is gone (or None)."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


def manage(env, *args, timeout=COMMAND_TIMEOUT, stream_stderr=False):
    """`manage.py <args>` in the project folder with `env`; its output, or RuntimeError with it."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env,
        text=True,
        timeout=timeout,
        stdout=subprocess.PIPE,
        stderr=None if stream_stderr else subprocess.PIPE,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr or ''}")
    return result.stdout


class Daphne:
    """One server process on loopback serving `directorate.asgi:application` (daphne, as `manage.py serve` starts
    it: `directorate.server_process`); or, with `processes=N`, the app
    served as `make run` serves it: `manage.py serve` with N daphne processes sharing one port (no worker;
    no profile).

    The first `start()` takes a free port (retrying if another process takes it first); later starts,
    after `kill()` or `stop()`, reuse that port, so clients keep their address across a restart.
    The log (stdout and stderr) is appended to `log_path`. With `profile_path`, daphne runs under cProfile,
    which writes its statistics there when `stop()` ends the process (daphne shuts down cleanly on SIGTERM).
    """

    def __init__(self, env, log_path, *, port=None, profile_path=None, processes=None):
        self.env, self.log_path, self.port = env, Path(log_path), port
        self.profile_path = Path(profile_path) if profile_path else None
        self.processes = processes
        self.process = None

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        fixed = self.port is not None
        for _attempt in range(1 if fixed else 3):
            if not fixed:
                self.port = free_port()
            if self._start_once():
                return self
            if not fixed:
                self.port = None
        tail = self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""
        raise RuntimeError(f"daphne did not start; its log ({self.log_path}) ends:\n{tail}")

    def _command(self):
        if self.processes is None:
            profile = ["-m", "cProfile", "-o", str(self.profile_path)] if self.profile_path else []
            return [
                PYTHON,
                *profile,
                *["-m", "directorate.server_process", "-b", "127.0.0.1", "-p", str(self.port)],
                "directorate.asgi:application",
            ]
        return [
            *(PYTHON, "manage.py", "serve", "--no-worker", "--host", "127.0.0.1"),
            *("--port", str(self.port), "--processes", str(self.processes)),
        ]

    def _all_listening(self, log_from):
        """Whether every server process has said it listens (one process: answering is enough)."""
        if self.processes is None:
            return True
        with open(self.log_path, "rb") as log:
            log.seek(log_from)
            return log.read().count(b"Listening on TCP address") >= self.processes

    def _start_once(self):
        log_from = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self._command(),
                cwd=PROJECT_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while time.monotonic() < deadline and self.process.poll() is None:
                if answers(f"{self.base_url}/login/") and self._all_listening(log_from):
                    return True
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise
        self.stop()
        return False

    def kill(self):
        """SIGKILL to every process of the server at once: no shutdown, no flush; what a power cut does to the
        processes (not to the disk)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)

    def server_pids(self):
        """The pids of the daphne processes serving now (with `processes`: the children of `manage.py serve`)."""
        if self.process is None or self.process.poll() is not None:
            return []
        if self.processes is None:
            return [self.process.pid]
        return [pid for pid, command in children_of(self.process.pid) if b"server_process" in command]

    def kill_one(self, pid):
        """SIGKILL one server process (`manage.py serve` starts it again); waits until it is gone."""
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_TIMEOUT
        while pid in self.server_pids() and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self):
        stop(self.process)


def children_of(parent):
    """(pid, command line) of each living child of `parent`, from /proc (Linux)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (name)": state, ppid, ...
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append((int(entry), command))
    return found


def serving_process(client_socket, pids):
    """Which of `pids` holds the server's end of `client_socket`, a connection over IPv4 loopback (Linux /proc).

    The kernel hands each connection to whichever server process accepts it; this tells which one did."""
    client_port = client_socket.getsockname()[1]
    server_port = client_socket.getpeername()[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            inode = fields[9]
    if inode is None:
        raise LookupError(f"no server end for the connection from port {client_port}")
    for pid in pids:
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(f"/proc/{pid}/fd/{descriptor}") == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise LookupError(f"none of {pids} holds the connection from port {client_port}")


def redis_answers(url):
    """Whether the Redis server at `url` answers PING within a second."""
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return client.ping()
    except redis.RedisError:
        return False
    finally:
        client.close()


def start_redis(folder, *extra_args):
    """A throwaway redis-server on a free port (nothing saved to disk); returns (process, url).

    Raises RuntimeError if redis-server is not installed or does not answer.
    """
    if not shutil.which(REDIS_SERVER):
        raise RuntimeError(f"redis-server is needed ({REDIS_SERVER}): apt-get install redis-server")
    for _attempt in range(3):  # another process may take the free port first
        port = free_port()
        url = f"redis://127.0.0.1:{port}/0"
        process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
                *extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if redis_answers(url):
                return process, url
            time.sleep(0.05)
        stop(process)
    raise RuntimeError("redis-server did not start")

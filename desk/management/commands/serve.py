"""Serve the app with several daphne processes behind one port, and the worker beside them (`make run`).

This process binds the one listening socket and hands it to N daphne processes (`daphne --fd`), which all
accept connections from it: the kernel gives each new connection to whichever process takes it first, so a
busy process takes fewer. Nothing is shared in memory between them: sessions, the sign-in throttle and the live
event log are in the database (docs/rules.md, section "Several server processes").

- Ctrl-C or SIGTERM stops every process (SIGTERM, then SIGKILL after STOP_TIMEOUT seconds).
- A server process or the worker that ends by itself is reported and started again at once, on the same socket
  (connections wait in the socket's queue meanwhile). One that ends more than MAX_RESTARTS times within
  RESTART_WINDOW seconds is a broken set-up, not a crash: then everything stops and the command fails.
- If this process is killed outright, the kernel ends its children (Linux's parent-death signal).
"""

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

MAX_RESTARTS = 5
RESTART_WINDOW = 60  # seconds
STOP_TIMEOUT = 10  # seconds a process has to end after SIGTERM
POLL_INTERVAL = 0.2  # seconds between looks at the children
BACKLOG = 1024  # connections the socket queues while every process is busy (or restarting)
PR_SET_PDEATHSIG = 1


def default_processes():
    """One server process per core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def positive(text):
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def end_with_parent():
    """In the child, before it runs: SIGTERM when the serving process dies, however it dies (Linux only)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def listening_socket(host, port):
    """The one socket every server process accepts from (IPv4: daphne adopts a socket as AF_INET)."""
    try:
        address = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
    except socket.gaierror as error:
        raise CommandError(f"{host} is not an IPv4 address or a name of one ({error}).") from error
    try:
        listener = socket.create_server(address, family=socket.AF_INET, backlog=BACKLOG)
    except OSError as error:
        raise CommandError(f"Cannot listen on {host}:{port}: {error.strerror or error}.") from error
    listener.set_inheritable(True)
    return listener


class Child:
    def __init__(self, name, command, pass_fds=()):
        self.name, self.command, self.pass_fds = name, command, tuple(pass_fds)
        self.process = None
        self.restarts = deque()

    def start(self):
        self.process = subprocess.Popen(
            self.command, cwd=settings.BASE_DIR, pass_fds=self.pass_fds, preexec_fn=end_with_parent
        )

    def ended(self):
        return self.process is not None and self.process.poll() is not None

    def describe_end(self):
        code = self.process.returncode
        return f"signal {-code} ({signal.Signals(-code).name})" if code < 0 else f"status {code}"

    def may_restart(self, moment):
        while self.restarts and moment - self.restarts[0] > RESTART_WINDOW:
            self.restarts.popleft()
        self.restarts.append(moment)
        return len(self.restarts) <= MAX_RESTARTS


class Command(BaseCommand):
    help = (
        "Serve the app: several daphne processes behind one port (one per core by default) and the worker, "
        "restarting any that dies; Ctrl-C or SIGTERM stops them all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="IPv4 address or name to listen on")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--processes",
            type=positive,
            default=None,
            help=f"server processes (default: one per core, here {default_processes()})",
        )
        parser.add_argument("--no-worker", action="store_true", help="serve only; run no worker beside")

    def handle(self, *args, host, port, processes, no_worker, **options):
        processes = processes or default_processes()
        listener = listening_socket(host, port)
        fd = listener.fileno()
        children = [
            Child(
                f"server process {number}",
                [sys.executable, "-m", "directorate.server_process", "--fd", str(fd), "directorate.asgi:application"],
                pass_fds=(fd,),
            )
            for number in range(1, processes + 1)
        ]
        if not no_worker:
            children.append(Child("worker", [sys.executable, str(settings.BASE_DIR / "manage.py"), "worker"]))
        self.stdout.write(
            f"Serving on http://{host}:{port}/ with {processes} server process{'es' if processes > 1 else ''}"
            f"{'' if no_worker else ' and the worker'} (Ctrl-C stops all)"
        )
        self.stdout.flush()
        stopping = []

        def stop(signum, _frame):
            stopping.append(signum)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        failed = None
        try:
            for child in children:
                child.start()
            while not stopping and failed is None:
                time.sleep(POLL_INTERVAL)
                for child in children:
                    if stopping or not child.ended():
                        continue
                    how = child.describe_end()
                    if not child.may_restart(time.monotonic()):
                        failed = f"The {child.name} ended {MAX_RESTARTS + 1} times within {RESTART_WINDOW} s"
                        break
                    pid = child.process.pid
                    self.stderr.write(f"The {child.name} (pid {pid}) ended with {how}; starting it again.")
                    child.start()
        finally:
            self._stop_all(children)
            listener.close()
        if failed:
            raise CommandError(f"{failed}; everything is stopped (see its output above).")

    def _stop_all(self, children):
        running = [child.process for child in children if child.process is not None and child.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

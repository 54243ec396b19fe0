"""What `run.py` and `load.py` share: a throwaway database, a daphne started as users start it (the launcher the
tests use, tests/servers.py), an HTTP client.

Nothing here imports Django: the driver processes talk to the server over loopback only, and every read or
write of the database they need runs in a subprocess (`benchmarks/inside.py`) with the server's settings.
"""

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import requests

from tests.servers import COMMAND_TIMEOUT, PROJECT_DIR, PYTHON, manage

RESULTS_DIR = PROJECT_DIR / "benchmarks" / "results"


def environment(folder):
    """The environment of every process of one run: its own database, fresh secrets, DEBUG=0."""
    env = dict(os.environ)
    var = Path(folder) / "var"
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
            "DIRECTORATE_VAR_DIR": str(var),
            "SQLITE_PATH": str(var / "bench.sqlite3"),
            "DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
            "JWT_SECRET": secrets.token_urlsafe(48),
            "NIKI_PASSWORD": secrets.token_urlsafe(18),
            "ALLOWED_HOSTS": "127.0.0.1",
            "MONGO_URI": "",
            "REDIS_URL": "",
            "GEMINI_API_KEY": "",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def inside(env, *args):
    """Run `benchmarks/inside.py <args>` (Django-side reads and set-up) and return its JSON answer."""
    result = subprocess.run(
        [PYTHON, "-m", "benchmarks.inside", *map(str, args)],
        cwd=PROJECT_DIR,
        env=env,
        text=True,
        capture_output=True,
        timeout=COMMAND_TIMEOUT,
    )
    if result.returncode != 0:
        raise RuntimeError(f"inside.py {' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


class Inside:
    """A long-lived `benchmarks/inside.py serve` process: one Django start for many checks."""

    def __init__(self, env):
        self.process = subprocess.Popen(
            [PYTHON, "-m", "benchmarks.inside", "serve"],
            cwd=PROJECT_DIR,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def __call__(self, *args):
        self.process.stdin.write(" ".join(map(str, args)) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"inside.py {' '.join(map(str, args))} failed (see its error output above)")
        return json.loads(line)

    def close(self):
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def prepare_database(env, *, users, tickets, review_share=None, stream_stderr=True):
    """migrate, bootstrap and seed_scale, as an operator would."""
    Path(env["DIRECTORATE_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "bootstrap")
    extra = ["--review-share", str(review_share)] if review_share is not None else []
    if not stream_stderr:
        extra.append("--quiet")
    return manage(
        env, "seed_scale", "--users", str(users), "--tickets", str(tickets), *extra, stream_stderr=stream_stderr
    )


def keep_database(env, kept):
    """Save a copy of the run's freshly seeded database as `kept`, for later runs (`run.py --databases`)."""
    kept.parent.mkdir(parents=True, exist_ok=True)
    _copy_sqlite(Path(env["SQLITE_PATH"]), kept)


def reuse_database(env, kept):
    """Start the run from a copy of a database seeded earlier, migrated to the current models."""
    Path(env["DIRECTORATE_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    _copy_sqlite(kept, Path(env["SQLITE_PATH"]))
    manage(env, "migrate", "--no-input", "-v", "0")


def _copy_sqlite(source, target):
    """A closed SQLite database with its write-ahead log, if it has one."""
    for suffix in ("", "-wal"):
        origin, copy = Path(f"{source}{suffix}"), Path(f"{target}{suffix}")
        if origin.exists():
            shutil.copyfile(origin, copy)
        else:
            copy.unlink(missing_ok=True)


def http_session():
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
    session.mount("http://", adapter)
    return session


def percentile(values, share):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]

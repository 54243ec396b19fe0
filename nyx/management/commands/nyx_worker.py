"""`manage.py nyx_worker`: Nyx's background work beside the server.

Each tick reviews the tickets awaiting Nyx (the queue is the job list; the services' conditional
updates make a decision count once, whichever worker takes it) and, once per period, issues routine
directives (the period is claimed with a conditional update, so two workers never both issue them).
"""

import logging
import signal
import time

from django.core.management.base import BaseCommand

from nyx.conf import mode, nyx_setting
from nyx.engine import worker_tick

logger = logging.getLogger("nyx")


class Command(BaseCommand):
    help = "Run Nyx's worker: review Nyx's queue and issue scheduled routine directives."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one tick and stop.")
        parser.add_argument("--interval", type=float, default=None, help="Seconds between ticks.")

    def handle(self, *args, once=False, interval=None, **options):
        interval = interval if interval is not None else float(nyx_setting("NYX_WORKER_INTERVAL"))
        active = "Gemini 2.5 Flash" if mode() == "gemini" else "offline rules (no GEMINI_API_KEY)"
        self.stdout.write(f"Nyx worker: {active} mode.")
        stopping = []
        if not once:
            for sign in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sign, lambda *_: stopping.append(True))
        while True:
            try:
                records = worker_tick()
            except Exception:  # one bad tick must not stop the worker
                logger.exception("Nyx worker tick failed")
                records = []
            for record in records:
                self.stdout.write(f"{record.outcome}: {record.action_type or 'answer'}: {record.reason}")
            if once or stopping:
                return
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline and not stopping:
                time.sleep(min(0.5, interval))
            if stopping:
                return

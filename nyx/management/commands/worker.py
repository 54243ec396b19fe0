"""`manage.py worker`: the background work beside the server, carried out under Nyx's authority.

Each tick reviews the tickets awaiting Nyx (the queue is the job list; the services' conditional
updates make a decision count once, whichever worker takes it), once per period issues routine
directives (the period is claimed with a conditional update, so two workers never both issue them),
and pays the last completed week's payroll unless it is paid already (the ledger's unique constraints
pay each member once a week, however many workers run it). It also deletes live events older than a week from
the live event log (`accounts.live.prune`).

The events its work causes reach open pages through that log: without Redis, each server process relays the
log's new rows to its own sockets (`accounts.relay`); with `REDIS_URL`, they go through Redis.
"""

import logging
import signal
import time

from django.core.management.base import BaseCommand

from accounts.live import prune as prune_live_events
from economy.services import run_due_payroll
from nyx.conf import mode, nyx_setting
from nyx.engine import worker_tick

logger = logging.getLogger("nyx")


class Command(BaseCommand):
    help = "Run the background worker: Nyx's reviews and scheduled directives, and the weekly payroll."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one tick and stop.")
        parser.add_argument("--interval", type=float, default=None, help="Seconds between ticks.")

    def handle(self, *args, once=False, interval=None, **options):
        interval = interval if interval is not None else float(nyx_setting("NYX_WORKER_INTERVAL"))
        active = "Gemini 2.5 Flash" if mode() == "gemini" else "offline rules (no GEMINI_API_KEY)"
        self.stdout.write(f"Worker: Nyx in {active} mode; weekly payroll.")
        stopping = []
        if not once:
            for sign in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sign, lambda *_: stopping.append(True))
        while True:
            self.tick()
            if once or stopping:
                return
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline and not stopping:
                time.sleep(min(0.5, interval))
            if stopping:
                return

    def tick(self):
        """Nyx's work, then the payroll; one failing never stops the other or the worker."""
        try:
            records = worker_tick()
        except Exception:
            logger.exception("Nyx worker tick failed")
            records = []
        for record in records:
            self.stdout.write(f"{record.outcome}: {record.action_type or 'answer'}: {record.reason}")
        try:
            prune_live_events()
        except Exception:
            logger.exception("Pruning the live event log failed")
        try:
            payroll = run_due_payroll()
        except Exception:
            logger.exception("Payroll failed; the next tick tries again")
            return
        if payroll is not None:
            self.stdout.write(
                f"payroll {payroll.period}: {len(payroll.lines)} members paid ¤{payroll.total_salary}, "
                f"decay {payroll.total_decay} credits"
            )

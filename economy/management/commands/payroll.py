"""`manage.py payroll`: pay a completed week's salaries and credit decay (docs/rules.md section 9)."""

from django.core.management.base import BaseCommand, CommandError

from directorate.db import now
from directorate.errors import DomainError
from economy.periods import payroll_period
from economy.selectors import payroll_preview
from economy.services import run_payroll


class Command(BaseCommand):
    help = "Pay a completed ISO week's salaries and credit decay into the ledger, once per week."

    def add_arguments(self, parser):
        parser.add_argument("--period", help="The ISO week, like 2026-W48. Default: the last completed week.")
        parser.add_argument("--dry-run", action="store_true", help="Print what would be paid; write nothing.")

    def handle(self, *args, period=None, dry_run=False, **options):
        try:
            if dry_run:
                report = payroll_preview(payroll_period(period, moment=now()))
            else:
                report = run_payroll(period=period)
        except DomainError as error:
            raise CommandError(error.message) from None
        week = report.period
        if report.already_paid:
            self.stdout.write(f"Payroll {week} was already paid; nothing is paid now.")
            return
        heading = "would pay (dry run, nothing written)" if dry_run else "paid"
        self.stdout.write(f"Payroll {week} ({week.start:%Y-%m-%d} to {week.last_day:%Y-%m-%d}) {heading}:")
        for line in report.lines:
            member = line.member
            self.stdout.write(
                f"  {member.username:<24} {member.get_rank_display():<9} "
                f"salary {'¤' + str(line.salary):>11}  decay {-line.decay:>6} credits"
            )
        self.stdout.write(
            f"Total: {len(report.lines)} members, salaries ¤{report.total_salary}, decay {report.total_decay} credits."
        )
        if not report.complete:
            self.stdout.write("Some members changed meanwhile and were not settled: run the payroll again.")

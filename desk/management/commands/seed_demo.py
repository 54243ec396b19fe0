import os
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from desk.demo import organisation_is_empty, seed_demo_organisation
from directorate.db import atomic

LOGINS_FILE = "demo-logins.txt"


class Command(BaseCommand):
    help = (
        "Enlist a demo organisation under Nyx (run bootstrap first). The shared demo password comes "
        "from DEMO_PASSWORD or is generated; the logins are printed and saved to var/demo-logins.txt."
    )

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when people are already enlisted.")

    def handle(self, *args, **options):
        if not organisation_is_empty():
            if options["if_empty"]:
                self.stdout.write("Demo: the organisation already has members, nothing changed.")
                return
            raise CommandError("The organisation already has members; the demo seeds an empty database only.")
        password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(9)
        with atomic():
            members = seed_demo_organisation(password=password)
        lines = [f"{member.username:<16} {member.get_rank_display():<9} {member.display_name}" for member in members]
        report = "\n".join(["Demo logins (all share one password):", *lines, f"Password: {password}"])
        logins_file = settings.VAR_DIR / LOGINS_FILE
        logins_file.parent.mkdir(parents=True, exist_ok=True)
        logins_file.write_text(report + "\n")
        logins_file.chmod(0o600)
        self.stdout.write(report)
        self.stdout.write(f"(saved to {logins_file})")

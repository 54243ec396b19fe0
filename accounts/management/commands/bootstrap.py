import os

from django.core.management.base import BaseCommand

from accounts.services import NIKI_SERVICE_NUMBER, bootstrap_directorate


class Command(BaseCommand):
    help = (
        "Create Controller Niki (service number 7360) and the Nyx system account, once. "
        "Niki's password comes from NIKI_PASSWORD or is generated and printed once."
    )

    def handle(self, *args, **options):
        password = bootstrap_directorate(niki_password=os.environ.get("NIKI_PASSWORD") or None)
        if password is None:
            self.stdout.write("Bootstrap: already done, nothing changed.")
            return
        self.stdout.write(f"Bootstrap: Nyx and Controller Niki (service number {NIKI_SERVICE_NUMBER}) created.")
        if not os.environ.get("NIKI_PASSWORD"):
            self.stdout.write(f"Niki's password, shown this once: {password}")

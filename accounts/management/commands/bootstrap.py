import os

from django.core.management.base import BaseCommand, CommandError

from accounts.services import NIKI_SERVICE_NUMBER, bootstrap_directorate
from directorate.errors import Invalid


class Command(BaseCommand):
    help = (
        "Create Controller Niki (service number 7360) and the Nyx system account, once. "
        "Niki's password comes from NIKI_PASSWORD or is generated and printed once."
    )

    def handle(self, *args, **options):
        try:
            password = bootstrap_directorate(niki_password=os.environ.get("NIKI_PASSWORD") or None)
        except Invalid as error:
            raise CommandError(f"NIKI_PASSWORD: {error.message}") from None
        if password is None:
            self.stdout.write("Bootstrap: already done, nothing changed.")
            return
        self.stdout.write(f"Bootstrap: Nyx and Controller Niki (service number {NIKI_SERVICE_NUMBER}) created.")
        if not os.environ.get("NIKI_PASSWORD"):
            self.stdout.write(f"Niki's password, shown this once: {password}")

"""ASGI entry point, served by daphne: `daphne directorate.asgi:application`."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "directorate.settings")

from directorate.config import ConfigError  # noqa: E402

try:
    from channels.routing import ProtocolTypeRouter
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.core.asgi import get_asgi_application

    django_application = get_asgi_application()
except ConfigError as error:
    sys.exit(f"configuration error: {error}")

# The app is local-hosted: it serves its own static files (a reverse proxy may take
# over /static/ when it grows, see docs/operations.md).
application = ProtocolTypeRouter({"http": ASGIStaticFilesHandler(django_application)})

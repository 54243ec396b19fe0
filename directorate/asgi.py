"""ASGI entry point, served by daphne: `daphne directorate.asgi:application`."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "directorate.settings")

from directorate.config import ConfigError

try:
    from django.core.asgi import get_asgi_application

    django_application = get_asgi_application()

    from channels.routing import ProtocolTypeRouter, URLRouter

    from directorate.gate import RequestBodyLimit, StaticFiles
    from directorate.routing import websocket_urlpatterns
except ConfigError as error:
    sys.exit(f"configuration error: {error}")

application = ProtocolTypeRouter(
    {
        # The app is local-hosted: it serves its own static files (a reverse proxy may take
        # over /static/ when it grows, see docs/operations.md). An over-long body is refused before it is read.
        "http": RequestBodyLimit(StaticFiles(django_application)),
        # Browsers sign in with the session cookie from the app's own origin, API clients with a token
        # (directorate/routing.py).
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

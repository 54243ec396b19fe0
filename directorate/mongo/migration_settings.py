"""Settings for writing and checking migrations in MongoDB mode, without a MongoDB server.

`makemigrations` with the MongoDB engine connects to check the migration history.
These settings are the project's MongoDB branch (the contrib apps' ObjectId app
configs and `MIGRATION_MODULES`) on Django's dummy engine, for which `makemigrations`
skips that check. They serve no requests and run no tests.

    DJANGO_SETTINGS_MODULE=directorate.mongo.migration_settings \\
        .venv/bin/python manage.py makemigrations auth contenttypes
    DJANGO_SETTINGS_MODULE=directorate.mongo.migration_settings \\
        .venv/bin/python manage.py makemigrations --check --dry-run
"""

import os

# Any URI switches the settings to their MongoDB branch; nothing connects to it.
if not os.environ.get("MONGO_URI"):
    os.environ["MONGO_URI"] = "mongodb://localhost/directorate"

from directorate.settings import *  # noqa: F403
from directorate.settings import MIGRATION_MODULES  # noqa: F401  (defined by the MongoDB branch only)

DATABASES = {"default": {"ENGINE": "django.db.backends.dummy"}}

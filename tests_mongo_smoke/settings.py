"""Settings for the MongoDB smoke suite: the project's own settings, MongoDB branch on.

pytest-django imports the settings module before it imports any conftest, so the
MongoDB branch is switched on here, where `pytest.ini` beside this file points
pytest-django. Nothing connects to this URI: `conftest.py` gives the backend
mongomock's client in place of pymongo's.
"""

import os

SMOKE_MONGO_URI = "mongodb://localhost/directorate_smoke"

os.environ["MONGO_URI"] = SMOKE_MONGO_URI

from directorate.settings import *  # noqa: E402,F403

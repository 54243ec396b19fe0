"""The settings branch for MongoDB, kept in one place.

MongoDB keys are ObjectIds, so the contrib apps with integer keys (auth,
contenttypes) get app configs whose default key is `ObjectIdAutoField`, and
their own migrations in `directorate/mongo/migrations/`.
"""

from urllib.parse import urlsplit

DEFAULT_DATABASE_NAME = "directorate"

CONTRIB_APP_CONFIGS = {
    "django.contrib.auth": "directorate.mongo.apps.MongoAuthConfig",
    "django.contrib.contenttypes": "directorate.mongo.apps.MongoContentTypesConfig",
}


def mongo_database(uri):
    name = urlsplit(uri).path.lstrip("/") or DEFAULT_DATABASE_NAME
    return {"ENGINE": "django_mongodb_backend", "HOST": uri, "NAME": name}


def use_mongo_contrib_apps(installed_apps):
    return [CONTRIB_APP_CONFIGS.get(app, app) for app in installed_apps]

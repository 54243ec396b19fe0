"""The schema on MongoDB: our migrations and the MongoDB contrib-app migrations, as migrate applied them to the
test database. MongoDB's own layout: these run in the MongoDB tier (make test-mongo), not on SQLite."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from directorate.db import is_mongodb

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not is_mongodb(), reason="MongoDB's schema; run by the MongoDB tier (make test-mongo)"),
]


def test_every_model_has_its_collection():
    collections = set(connection.introspection.table_names())
    assert {
        "accounts_user",
        "accounts_notification",
        "accounts_loginfailure",
        "tickets_ticket",
        "tickets_ticketwatcher",
        "tickets_approvalstep",
        "tickets_comment",
        "economy_transaction",
        "nyx_auditentry",
        "django_content_type",
        "auth_permission",
        "auth_group",
        "auth_group_permissions",
        "django_session",
    } <= collections
    assert "auth_user" not in collections  # swapped for accounts.User


def test_contrib_apps_use_the_mongodb_migrations():
    applied = {(m.app, m.name) for m in MigrationRecorder.Migration.objects.all()}
    assert ("auth", "0001_initial") in applied
    assert ("contenttypes", "0001_initial") in applied
    # Django's own later contrib migrations are not there: MIGRATION_MODULES replaced them.
    assert ("contenttypes", "0002_remove_content_type_name") not in applied
    assert ("accounts", "0002_initial") in applied
    from django_mongodb_backend.fields import ObjectIdAutoField

    assert isinstance(ContentType._meta.pk, ObjectIdAutoField)


def test_content_types_have_object_id_keys():
    user_type = ContentType.objects.get(app_label="accounts", model="user")
    assert len(str(user_type.pk)) == 24
    assert ContentType.objects.get_for_id(user_type.pk) == user_type


def test_unique_indexes_exist():
    indexes = connection.get_collection("accounts_user").index_information()
    unique_keys = {tuple(field for field, _ in spec["key"]) for spec in indexes.values() if spec.get("unique")}
    assert {("username",), ("service_number",)} <= unique_keys
    watcher_indexes = connection.get_collection("tickets_ticketwatcher").index_information()
    assert any(spec.get("unique") for spec in watcher_indexes.values())

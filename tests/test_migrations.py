"""The migrations match the models, on SQLite and in MongoDB mode.

MongoDB mode is checked with `directorate.mongo.migration_settings`: the MongoDB settings
branch (contrib apps with ObjectId keys, their migrations in directorate/mongo/migrations)
on Django's dummy engine, since `makemigrations` with the MongoDB engine needs a server.
"""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

MANAGE = settings.BASE_DIR / "manage.py"


def manage(tmp_path, settings_module, *args):
    """Run manage.py in a fresh process with `settings_module`; MONGO_URI only as that module sets it."""
    env = {key: value for key, value in os.environ.items() if key not in ("MONGO_URI", "DJANGO_SETTINGS_MODULE")}
    env["DJANGO_SETTINGS_MODULE"] = settings_module
    env["SQLITE_PATH"] = str(tmp_path / "check.sqlite3")  # never the developer's database
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "settings_module",
    [
        pytest.param("directorate.settings", id="sqlite"),
        pytest.param("directorate.mongo.migration_settings", id="mongodb"),
    ],
)
def test_makemigrations_has_nothing_to_do(tmp_path, settings_module):
    result = manage(tmp_path, settings_module, "makemigrations", "--check", "--dry-run", "--no-input")
    assert result.returncode == 0, f"makemigrations --check ({settings_module}):\n{result.stdout}{result.stderr}"
    assert "No changes detected" in result.stdout


def test_mongodb_mode_uses_its_own_contrib_migrations(tmp_path):
    """In MongoDB mode, auth and contenttypes migrate from directorate/mongo/migrations, with ObjectId keys."""
    result = manage(
        tmp_path,
        "directorate.mongo.migration_settings",
        "shell",
        "-c",
        (
            "from django.db.migrations.loader import MigrationLoader;"
            "from django.contrib.contenttypes.models import ContentType;"
            "loader = MigrationLoader(None, ignore_no_migrations=True);"
            "print(sorted(key for key in loader.disk_migrations if key[0] in ('auth', 'contenttypes')));"
            "print(type(ContentType._meta.pk).__name__)"
        ),
    )
    assert result.returncode == 0, result.stderr
    migrations, pk_class = result.stdout.strip().splitlines()[-2:]
    assert migrations == "[('auth', '0001_initial'), ('contenttypes', '0001_initial')]"
    assert pk_class == "ObjectIdAutoField"


@pytest.mark.django_db(transaction=True)
def test_the_unread_count_migration_counts_notifications_already_there(whole_schema_after):
    before, after = [("accounts", "0004_refreshtoken")], [("accounts", "0005_user_unread_notifications")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    User, Notification = old.get_model("accounts", "User"), old.get_model("accounts", "Notification")
    people = [
        User.objects.create(username=f"m{n}", display_name=f"M{n}", service_number=9000 + n, rank="asset", chain="/")
        for n in range(3)
    ]
    for person, unread, read in zip(people, (2, 0, 1), (1, 3, 0), strict=True):
        Notification.objects.bulk_create(
            [Notification(user=person, message="unread") for _ in range(unread)]
            + [Notification(user=person, message="read", read=True) for _ in range(read)]
        )

    executor = MigrationExecutor(connection)
    executor.migrate(after)

    counted = executor.loader.project_state(after).apps.get_model("accounts", "User").objects
    assert [counted.get(id=person.id).unread_notifications for person in people] == [2, 0, 1]

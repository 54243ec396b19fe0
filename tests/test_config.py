"""Configuration from the environment: every bad value stops the start with one line naming it."""

import os
import stat
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from directorate.config import BASE_DIR, ConfigError, read_config

SECRET = "s" * 40
OTHER_SECRET = "j" * 40


@pytest.fixture
def env(tmp_path):
    """A minimal environment: debug mode, everything else defaulted, the var folder in a temp dir."""
    return {"DIRECTORATE_VAR_DIR": str(tmp_path)}


def refused(env):
    with pytest.raises(ConfigError) as error:
        read_config(env)
    message = str(error.value)
    assert "\n" not in message  # one line
    return message


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DEBUG": "2"}, "DEBUG"),
        ({"DEBUG": "0", "JWT_SECRET": OTHER_SECRET}, "DJANGO_SECRET_KEY"),
        ({"DEBUG": "0", "DJANGO_SECRET_KEY": SECRET}, "JWT_SECRET"),
        ({"DEBUG": "false"}, "DJANGO_SECRET_KEY"),  # both missing: the first is named
        ({"DJANGO_SECRET_KEY": "too-short"}, "DJANGO_SECRET_KEY"),  # refused even in debug mode
        ({"JWT_SECRET": "x" * 31}, "JWT_SECRET"),
        ({"DEBUG": "0", "DJANGO_SECRET_KEY": SECRET, "JWT_SECRET": "short"}, "JWT_SECRET"),
        ({"MONGO_URI": "http://x"}, "MONGO_URI"),
        ({"MONGO_URI": "mongodb://"}, "MONGO_URI"),
        ({"MONGO_URI": "mongodb:localhost"}, "MONGO_URI"),
        ({"MONGO_URI": "localhost:27017"}, "MONGO_URI"),
        ({"REDIS_URL": "ftp://x"}, "REDIS_URL"),
        ({"REDIS_URL": "redis:localhost"}, "REDIS_URL"),
        ({"ALLOWED_HOSTS": "example.com/admin"}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": "good.example, bad host"}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": "https://example.com"}, "ALLOWED_HOSTS"),
        ({"NYX_HOURLY_PAY": "ten"}, "NYX_HOURLY_PAY"),
        ({"NYX_HOURLY_PAY": "-1"}, "NYX_HOURLY_PAY"),
        ({"NYX_HOURLY_PAY": "1.234"}, "NYX_HOURLY_PAY"),
        ({"NYX_HOURLY_PAY": "NaN"}, "NYX_HOURLY_PAY"),
        ({"PAYROLL_HOURS_PER_PERIOD": "forty"}, "PAYROLL_HOURS_PER_PERIOD"),
        ({"PAYROLL_HOURS_PER_PERIOD": "-1"}, "PAYROLL_HOURS_PER_PERIOD"),
        ({"PAYROLL_HOURS_PER_PERIOD": "168.01"}, "PAYROLL_HOURS_PER_PERIOD"),
        ({"PAYROLL_HOURS_PER_PERIOD": "37.125"}, "PAYROLL_HOURS_PER_PERIOD"),
        ({"PAYROLL_HOURS_PER_PERIOD": "Infinity"}, "PAYROLL_HOURS_PER_PERIOD"),
        ({"PAYROLL_DECAY_PERCENT": "2%"}, "PAYROLL_DECAY_PERCENT"),
        ({"PAYROLL_DECAY_PERCENT": "100.5"}, "PAYROLL_DECAY_PERCENT"),
        ({"PAYROLL_DECAY_PERCENT": "-0.01"}, "PAYROLL_DECAY_PERCENT"),
        ({"ATTACHMENT_MAX_BYTES": "5MB"}, "ATTACHMENT_MAX_BYTES"),
        ({"ATTACHMENT_MAX_BYTES": "0"}, "ATTACHMENT_MAX_BYTES"),
        ({"ATTACHMENT_MAX_BYTES": "-1"}, "ATTACHMENT_MAX_BYTES"),
        ({"ATTACHMENT_MAX_BYTES": "1e6"}, "ATTACHMENT_MAX_BYTES"),
        ({"ATTACHMENT_MAX_BYTES": "\u0665"}, "ATTACHMENT_MAX_BYTES"),  # an Arabic-Indic five
        ({"ATTACHMENT_MAX_BYTES": str(100 * 1024 * 1024 + 1)}, "ATTACHMENT_MAX_BYTES"),
        ({"GEMINI_BASE_URL": "localhost:8080"}, "GEMINI_BASE_URL"),
        ({"GEMINI_BASE_URL": "ftp://stub.example"}, "GEMINI_BASE_URL"),
        ({"NYX_MODEL": "gemini 2.5"}, "NYX_MODEL"),
        ({"NYX_TIMEOUT_SECONDS": "thirty"}, "NYX_TIMEOUT_SECONDS"),
        ({"NYX_TIMEOUT_SECONDS": "0"}, "NYX_TIMEOUT_SECONDS"),
        ({"NYX_TIMEOUT_SECONDS": "inf"}, "NYX_TIMEOUT_SECONDS"),
        ({"NYX_RETRY_ATTEMPTS": "2.5"}, "NYX_RETRY_ATTEMPTS"),
        ({"NYX_RETRY_ATTEMPTS": "0"}, "NYX_RETRY_ATTEMPTS"),
        ({"NYX_RETRY_ATTEMPTS": "\u0663"}, "NYX_RETRY_ATTEMPTS"),  # an Arabic-Indic three
        ({"NYX_RETRY_INITIAL_DELAY": "-1"}, "NYX_RETRY_INITIAL_DELAY"),
        ({"NYX_RETRY_MAX_DELAY": "NaN"}, "NYX_RETRY_MAX_DELAY"),
        ({"NYX_MAX_OUTPUT_TOKENS": "2k"}, "NYX_MAX_OUTPUT_TOKENS"),
        ({"NYX_MAX_OUTPUT_CHARS": "0"}, "NYX_MAX_OUTPUT_CHARS"),
        ({"NYX_REVIEW_BATCH": "ten"}, "NYX_REVIEW_BATCH"),
        ({"NYX_MAX_DIRECTIVES": "-3"}, "NYX_MAX_DIRECTIVES"),
        ({"NYX_RETRY_REFUSED_AFTER": "10m"}, "NYX_RETRY_REFUSED_AFTER"),
        ({"NYX_DIRECTIVE_PERIOD": "1.5"}, "NYX_DIRECTIVE_PERIOD"),
        ({"NYX_WORKER_INTERVAL": "0"}, "NYX_WORKER_INTERVAL"),
    ],
    ids=lambda value: value if isinstance(value, str) else "-".join(f"{k}={v[:12]}" for k, v in value.items()),
)
def test_bad_values_are_refused_by_name(env, values, named):
    message = refused(env | values)
    assert message.startswith(named + " "), message


def test_nyx_settings_have_their_defaults_and_take_good_values(env):
    defaults = read_config(env)
    assert (defaults["GEMINI_BASE_URL"], defaults["NYX_MODEL"]) == ("", "gemini-2.5-flash")
    assert (defaults["NYX_TIMEOUT_SECONDS"], defaults["NYX_RETRY_ATTEMPTS"], defaults["NYX_WORKER_INTERVAL"]) == (
        30.0,
        3,
        5.0,
    )
    assert (defaults["NYX_DIRECTIVE_PERIOD"], defaults["NYX_RETRY_REFUSED_AFTER"]) == (86_400, 600)

    given = read_config(
        env
        | {
            "GEMINI_BASE_URL": "http://127.0.0.1:9000",
            "NYX_MODEL": "gemini-2.5-pro",
            "NYX_TIMEOUT_SECONDS": "2.5",
            "NYX_RETRY_ATTEMPTS": " 1 ",
            "NYX_DIRECTIVE_PERIOD": "0",
            "NYX_RETRY_INITIAL_DELAY": "0",
        }
    )
    assert given["GEMINI_BASE_URL"] == "http://127.0.0.1:9000" and given["NYX_MODEL"] == "gemini-2.5-pro"
    assert given["NYX_TIMEOUT_SECONDS"] == 2.5 and given["NYX_RETRY_ATTEMPTS"] == 1
    assert given["NYX_DIRECTIVE_PERIOD"] == 0 and given["NYX_RETRY_INITIAL_DELAY"] == 0.0
    assert isinstance(given["NYX_RETRY_ATTEMPTS"], int) and isinstance(given["NYX_TIMEOUT_SECONDS"], float)


def test_a_refused_secret_is_not_echoed(env):
    message = refused(env | {"DJANGO_SECRET_KEY": "hunter2-secret"})
    assert "hunter2" not in message


def test_production_values_parse(env):
    config = read_config(
        env
        | {
            "DEBUG": "0",
            "DJANGO_SECRET_KEY": f"  {SECRET} ",
            "JWT_SECRET": OTHER_SECRET,
            "MONGO_URI": "mongodb://db1:27017,db2:27017/directorate?replicaSet=rs0",
            "REDIS_URL": "redis://localhost:6379/0",
            "ALLOWED_HOSTS": " directorate.example , 10.0.0.5 ,",
            "GEMINI_API_KEY": "  key-123  ",
        }
    )
    assert config["DEBUG"] is False
    assert config["SECRET_KEY"] == SECRET and config["JWT_SECRET"] == OTHER_SECRET
    assert config["MONGO_URI"] == "mongodb://db1:27017,db2:27017/directorate?replicaSet=rs0"
    assert config["REDIS_URL"] == "redis://localhost:6379/0"
    assert config["ALLOWED_HOSTS"] == ["directorate.example", "10.0.0.5"]
    assert config["GEMINI_API_KEY"] == "key-123"


@pytest.mark.parametrize("url", ["mongodb+srv://cluster.example/directorate", "mongodb://localhost:27017/directorate"])
def test_mongo_urls_parse(env, url):
    assert read_config(env | {"MONGO_URI": url})["MONGO_URI"] == url


@pytest.mark.parametrize("url", ["rediss://cache.example:6380/1", "unix:///run/redis/redis.sock", "redis://r:6379"])
def test_redis_urls_parse(env, url):
    assert read_config(env | {"REDIS_URL": url})["REDIS_URL"] == url


@pytest.mark.parametrize(
    ("raw", "debug"),
    [("1", True), ("true", True), ("YES", True), (" on ", True), ("0", False), ("False", False), ("off", False)],
)
def test_debug_words(env, raw, debug):
    values = {"DEBUG": raw} if debug else {"DEBUG": raw, "DJANGO_SECRET_KEY": SECRET, "JWT_SECRET": OTHER_SECRET}
    assert read_config(env | values)["DEBUG"] is debug


def test_defaults_in_debug_mode(env, tmp_path):
    config = read_config(env)
    assert config["DEBUG"] is True
    assert config["MONGO_URI"] == "" and config["REDIS_URL"] == "" and config["GEMINI_API_KEY"] == ""
    assert config["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]"]
    assert config["VAR_DIR"] == tmp_path
    assert config["SQLITE_PATH"] == tmp_path / "directorate.sqlite3"
    assert (config["PAYROLL_HOURS_PER_PERIOD"], config["PAYROLL_DECAY_PERCENT"]) == (Decimal("40"), Decimal("2"))
    assert config["ATTACHMENT_MAX_BYTES"] == 5 * 1024 * 1024


def test_payroll_settings_parse(env):
    config = read_config(env | {"PAYROLL_HOURS_PER_PERIOD": " 37.5 ", "PAYROLL_DECAY_PERCENT": "0"})
    assert (config["PAYROLL_HOURS_PER_PERIOD"], config["PAYROLL_DECAY_PERCENT"]) == (Decimal("37.5"), Decimal("0"))
    assert read_config(env | {"PAYROLL_HOURS_PER_PERIOD": "168", "PAYROLL_DECAY_PERCENT": "100"})[
        "PAYROLL_DECAY_PERCENT"
    ] == Decimal("100")


def test_the_attachment_limit_is_a_number_of_bytes(env):
    assert read_config(env | {"ATTACHMENT_MAX_BYTES": " 1048576 "})["ATTACHMENT_MAX_BYTES"] == 1024 * 1024


def test_debug_secrets_are_generated_once_per_install(env, tmp_path):
    first = read_config(env)
    second = read_config(env)
    assert len(first["SECRET_KEY"]) >= 32 and len(first["JWT_SECRET"]) >= 32
    assert first["SECRET_KEY"] != first["JWT_SECRET"]
    assert (second["SECRET_KEY"], second["JWT_SECRET"]) == (first["SECRET_KEY"], first["JWT_SECRET"])
    for name in ("django_secret_key.secret", "jwt_secret.secret"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert read_config({"DIRECTORATE_VAR_DIR": str(tmp_path / "elsewhere")})["SECRET_KEY"] != first["SECRET_KEY"]


def manage(tmp_path, *args, **overrides):
    """Run manage.py in a child process with DEBUG=0 and no secrets.

    The secrets are set empty rather than removed: the environment wins over a `.env` file,
    so this also holds on a machine whose `.env` has them.
    """
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        {
            "DEBUG": "0",
            "DJANGO_SECRET_KEY": "",
            "JWT_SECRET": "",
            "MONGO_URI": "",
            "REDIS_URL": "",
            "DIRECTORATE_VAR_DIR": str(tmp_path),
            "SQLITE_PATH": "",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(overrides)
    return subprocess.run(
        [sys.executable, str(Path(BASE_DIR) / "manage.py"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_manage_refuses_to_start_without_a_secret_in_production(tmp_path):
    result = manage(tmp_path, "check")
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error: DJANGO_SECRET_KEY"), lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_manage_starts_in_production_with_secrets(tmp_path):
    """The same command with the secrets given succeeds, so the refusal above is about them."""
    result = manage(tmp_path, "check", DJANGO_SECRET_KEY=SECRET, JWT_SECRET=OTHER_SECRET)
    assert result.returncode == 0, result.stderr
    assert "configuration error" not in result.stderr


def test_manage_refuses_to_start_with_a_malformed_nyx_setting(tmp_path):
    """Nyx's settings are read at start with the others: a bad one stops the process, named, in one line."""
    result = manage(tmp_path, "check", DJANGO_SECRET_KEY=SECRET, JWT_SECRET=OTHER_SECRET, NYX_RETRY_ATTEMPTS="three")
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error: NYX_RETRY_ATTEMPTS"), lines[0]

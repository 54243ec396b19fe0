"""Configuration read from the environment, optionally from a `.env` file.

Every value is validated here so that a bad or missing setting stops the
process at start with one line naming it, instead of failing later.
"""

import functools
import math
import os
import re
import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

BASE_DIR = Path(__file__).resolve().parent.parent
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}
MIN_SECRET_LENGTH = 32
MEGABYTE = 1024 * 1024


class ConfigError(Exception):
    """A configuration value is missing or malformed."""


def load_environment(env_file=None):
    """The process environment over the values of the `.env` file, if any."""
    env_file = Path(env_file) if env_file else BASE_DIR / ".env"
    values = {}
    if env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ)
    return values


def parse_bool(env, name, default):
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be 0 or 1 (or true/false), got {raw!r}")


def parse_url(env, name, schemes):
    raw = env.get(name, "").strip()
    if not raw:
        return ""
    parts = urlsplit(raw)
    has_slashes = raw.lower().startswith(f"{parts.scheme}://")  # "mongodb:host" is not a URL either driver takes
    if parts.scheme not in schemes or not has_slashes or not (parts.netloc or parts.path):
        expected = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ConfigError(f"{name} must be a URL starting with {expected}")
    return raw


def parse_secret(env, name, *, debug, var_dir):
    """A secret from the environment; in debug mode, one generated once per install."""
    raw = env.get(name, "").strip()
    if raw:
        if len(raw) < MIN_SECRET_LENGTH:
            raise ConfigError(f"{name} must be at least {MIN_SECRET_LENGTH} characters long")
        return raw
    if not debug:
        raise ConfigError(f"{name} must be set when DEBUG=0 (the generated development secret is refused)")
    return development_secret(var_dir / f"{name.lower()}.secret")


def development_secret(path):
    """Read or create a random secret kept beside the local database, never in the code."""
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        with open(path, "x") as handle:
            handle.write(value)
    except FileExistsError:  # another process wrote it first
        return path.read_text().strip()
    path.chmod(0o600)
    return value


def parse_money(env, name, default):
    return parse_decimal(env, name, default, example="an amount such as 12.50")


def parse_decimal(env, name, default, *, example, maximum=None):
    """A number of at least 0 (and at most `maximum`) with at most two decimals."""
    raw = env.get(name, "").strip()
    if not raw:
        return Decimal(default)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ConfigError(f"{name} must be {example}, got {raw!r}") from None
    bounds = "at least 0" if maximum is None else f"from 0 to {maximum}"
    in_bounds = value.is_finite() and value >= 0 and (maximum is None or value <= maximum)
    if not in_bounds or value != value.quantize(Decimal("0.01")):
        raise ConfigError(f"{name} must be {example}: {bounds}, with at most two decimals, got {raw!r}")
    return value


def parse_hosts(env, name, default):
    raw = env.get(name, "").strip()
    hosts = [host.strip() for host in raw.split(",") if host.strip()] if raw else default
    for host in hosts:
        if " " in host or "/" in host:
            raise ConfigError(f"{name} must be a comma-separated list of host names, got {host!r}")
    return hosts


def parse_size(env, name, default, *, maximum):
    """A size in bytes, a whole number from 1 to `maximum`."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ConfigError(f"{name} must be a whole number of bytes from 1 to {maximum}, got {raw!r}")
    return int(raw)


HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")


def parse_header(env, name):
    """An HTTP header name such as X-Forwarded-Proto, as Django reads it from `request.META` (HTTP_X_...)."""
    raw = env.get(name, "").strip()
    if not raw:
        return ""
    if not HEADER_NAME.match(raw):
        raise ConfigError(f"{name} must be an HTTP header name such as X-Forwarded-Proto, got {raw!r}")
    return "HTTP_" + raw.upper().replace("-", "_")


def parse_origins(env, name):
    """A comma-separated list of origins, each scheme://host[:port] with nothing after it."""
    raw = env.get(name, "").strip()
    origins = [origin.strip() for origin in raw.split(",") if origin.strip()]
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
            raise ConfigError(f"{name} must list origins such as https://directorate.example, got {origin!r}")
    return origins


def parse_seconds(env, name, default, *, maximum):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) > maximum:
        raise ConfigError(f"{name} must be a whole number of seconds from 0 to {maximum}, got {raw!r}")
    return int(raw)


def parse_number(env, name, default, *, whole, minimum, unit):
    """A whole number (or, unless `whole`, a decimal number) of `unit`, finite and at least `minimum`."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = (int if whole else float)(raw) if raw.isascii() else None
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < minimum:
        what = "a whole number" if whole else "a number"
        raise ConfigError(f"{name} must be {what} of {unit}, at least {minimum}, got {raw!r}")
    return value


def parse_nyx(env):
    """Nyx's model and worker settings (docs/nyx.md), each with its default."""
    model = env.get("NYX_MODEL", "").strip() or "gemini-2.5-flash"
    if not all(character.isprintable() and not character.isspace() for character in model):
        raise ConfigError(f"NYX_MODEL must be a model name such as gemini-2.5-flash, got {model!r}")
    number = functools.partial(parse_number, env)
    return {
        "GEMINI_BASE_URL": parse_url(env, "GEMINI_BASE_URL", ("http", "https")),
        "NYX_MODEL": model,
        "NYX_TIMEOUT_SECONDS": number("NYX_TIMEOUT_SECONDS", 30.0, whole=False, minimum=0.01, unit="seconds"),
        "NYX_RETRY_ATTEMPTS": number("NYX_RETRY_ATTEMPTS", 3, whole=True, minimum=1, unit="attempts"),
        "NYX_RETRY_INITIAL_DELAY": number("NYX_RETRY_INITIAL_DELAY", 1.0, whole=False, minimum=0, unit="seconds"),
        "NYX_RETRY_MAX_DELAY": number("NYX_RETRY_MAX_DELAY", 10.0, whole=False, minimum=0, unit="seconds"),
        "NYX_MAX_OUTPUT_TOKENS": number("NYX_MAX_OUTPUT_TOKENS", 2048, whole=True, minimum=1, unit="tokens"),
        "NYX_MAX_OUTPUT_CHARS": number("NYX_MAX_OUTPUT_CHARS", 16_000, whole=True, minimum=1, unit="characters"),
        "NYX_REVIEW_BATCH": number("NYX_REVIEW_BATCH", 10, whole=True, minimum=1, unit="tickets"),
        "NYX_MAX_DIRECTIVES": number("NYX_MAX_DIRECTIVES", 12, whole=True, minimum=1, unit="people"),
        "NYX_RETRY_REFUSED_AFTER": number("NYX_RETRY_REFUSED_AFTER", 600, whole=True, minimum=0, unit="seconds"),
        "NYX_DIRECTIVE_PERIOD": number("NYX_DIRECTIVE_PERIOD", 86_400, whole=True, minimum=0, unit="seconds"),
        "NYX_WORKER_INTERVAL": number("NYX_WORKER_INTERVAL", 5.0, whole=False, minimum=0.01, unit="seconds"),
    }


def read_config(env=None):
    """All settings the project reads from outside, validated."""
    env = load_environment() if env is None else env
    debug = parse_bool(env, "DEBUG", default=True)
    var_dir = Path(env.get("DIRECTORATE_VAR_DIR") or BASE_DIR / "var")
    return {
        "DEBUG": debug,
        "VAR_DIR": var_dir,
        "SECRET_KEY": parse_secret(env, "DJANGO_SECRET_KEY", debug=debug, var_dir=var_dir),
        "JWT_SECRET": parse_secret(env, "JWT_SECRET", debug=debug, var_dir=var_dir),
        "MONGO_URI": parse_url(env, "MONGO_URI", ("mongodb", "mongodb+srv")),
        "REDIS_URL": parse_url(env, "REDIS_URL", ("redis", "rediss", "unix")),
        "GEMINI_API_KEY": env.get("GEMINI_API_KEY", "").strip(),
        "ALLOWED_HOSTS": parse_hosts(env, "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"]),
        "NYX_HOURLY_PAY": parse_money(env, "NYX_HOURLY_PAY", "10.00"),
        "PAYROLL_HOURS_PER_PERIOD": parse_decimal(
            env, "PAYROLL_HOURS_PER_PERIOD", "40", example="a number of hours such as 40", maximum=168
        ),
        "PAYROLL_DECAY_PERCENT": parse_decimal(
            env, "PAYROLL_DECAY_PERCENT", "2", example="a percentage such as 2.5", maximum=100
        ),
        "ATTACHMENT_MAX_BYTES": parse_size(env, "ATTACHMENT_MAX_BYTES", 5 * MEGABYTE, maximum=100 * MEGABYTE),
        "REQUEST_MAX_BYTES": parse_size(env, "REQUEST_MAX_BYTES", 0, maximum=1024 * MEGABYTE),
        # Behind a TLS-terminating reverse proxy (docs/operations.md)
        "TRUSTED_PROXY_SSL_HEADER": parse_header(env, "TRUSTED_PROXY_SSL_HEADER"),
        "TRUSTED_PROXY_ADDRESS_HEADER": parse_header(env, "TRUSTED_PROXY_ADDRESS_HEADER"),
        "CSRF_TRUSTED_ORIGINS": parse_origins(env, "CSRF_TRUSTED_ORIGINS"),
        "SECURE_SSL_REDIRECT": parse_bool(env, "SECURE_SSL_REDIRECT", default=False),
        "SECURE_HSTS_SECONDS": parse_seconds(env, "SECURE_HSTS_SECONDS", 0, maximum=2 * 365 * 24 * 60 * 60),
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": parse_bool(env, "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False),
        "SECURE_HSTS_PRELOAD": parse_bool(env, "SECURE_HSTS_PRELOAD", default=False),
        "LIVE_RECHECK_SECONDS": parse_seconds(env, "LIVE_RECHECK_SECONDS", 30, maximum=3600),
        "SQLITE_PATH": Path(env.get("SQLITE_PATH") or var_dir / "directorate.sqlite3"),
        **parse_nyx(env),
    }

"""Nyx's settings: each may be set in Django's settings or in the environment (the `.env` file included)."""

from django.conf import settings

from directorate.config import load_environment

DEFAULTS = {
    "GEMINI_BASE_URL": "",  # empty: Google's own endpoint
    "NYX_MODEL": "gemini-2.5-flash",
    "NYX_TIMEOUT_SECONDS": 30.0,  # per attempt
    "NYX_RETRY_ATTEMPTS": 3,  # including the first
    "NYX_RETRY_INITIAL_DELAY": 1.0,  # seconds, doubled each retry
    "NYX_RETRY_MAX_DELAY": 10.0,
    "NYX_MAX_OUTPUT_TOKENS": 2048,
    "NYX_MAX_OUTPUT_CHARS": 16_000,  # a longer answer is refused unread
    "NYX_REVIEW_BATCH": 10,  # tickets reviewed per worker tick or console request
    "NYX_MAX_DIRECTIVES": 12,  # directives per request
    "NYX_RETRY_REFUSED_AFTER": 600,  # seconds before the worker asks again about a ticket it failed to decide
    "NYX_DIRECTIVE_PERIOD": 86_400,  # seconds between scheduled routine directives; 0 turns them off
    "NYX_WORKER_INTERVAL": 5.0,  # seconds between worker ticks
}


def nyx_setting(name):
    """A setting by name, from Django's settings first, then the environment, then the default."""
    default = DEFAULTS[name]
    if hasattr(settings, name):
        return getattr(settings, name)
    raw = load_environment().get(name, "").strip()
    if not raw:
        return default
    try:
        return type(default)(raw)
    except ValueError:
        return default


def gemini_key():
    return getattr(settings, "GEMINI_API_KEY", "") or ""


def mode():
    """`gemini` when a key is set, else `offline` (deterministic rules)."""
    return "gemini" if gemini_key() else "offline"

"""Nyx's settings, read once at start and validated with the others (directorate/config.py): a malformed value
stops the process with one line naming it. Tests change them with Django's `override_settings`."""

from django.conf import settings


def nyx_setting(name):
    """One of Nyx's settings (GEMINI_BASE_URL, NYX_MODEL, NYX_TIMEOUT_SECONDS, ...; docs/nyx.md) by name."""
    return getattr(settings, name)


def gemini_key():
    return getattr(settings, "GEMINI_API_KEY", "") or ""


def mode():
    """`gemini` when a key is set, else `offline` (deterministic rules)."""
    return "gemini" if gemini_key() else "offline"

"""Nyx's connection to Gemini 2.5 Flash through the google-genai SDK.

Never call `ask` inside an atomic unit: a model call can take seconds, and no database
transaction is held open across it (the caller reads, asks, then writes through the services).
"""

import logging

from directorate.handler import slot_released
from nyx.conf import gemini_key, nyx_setting
from nyx.prompts import SYSTEM_INSTRUCTION, response_schema

logger = logging.getLogger("nyx")

RETRY_STATUS_CODES = [408, 429, 500, 502, 503, 504]


class ModelFailure(Exception):
    """The model gave no usable answer (timeout, error status, empty or oversized output)."""

    def __init__(self, reason, raw_output=""):
        super().__init__(reason)
        self.reason = reason
        self.raw_output = raw_output


def make_client():
    from google import genai
    from google.genai import types

    retry = types.HttpRetryOptions(
        attempts=max(1, int(nyx_setting("NYX_RETRY_ATTEMPTS"))),
        initial_delay=float(nyx_setting("NYX_RETRY_INITIAL_DELAY")),
        max_delay=float(nyx_setting("NYX_RETRY_MAX_DELAY")),
        exp_base=2,
        jitter=0.2,
        http_status_codes=RETRY_STATUS_CODES,
    )
    options = types.HttpOptions(
        timeout=int(float(nyx_setting("NYX_TIMEOUT_SECONDS")) * 1000),  # milliseconds
        retry_options=retry,
        base_url=nyx_setting("GEMINI_BASE_URL") or None,
    )
    return genai.Client(api_key=gemini_key(), http_options=options)


def generation_config():
    from google.genai import types

    return types.GenerateContentConfig(
        system_instruction=SYSTEM_INSTRUCTION,
        response_mime_type="application/json",
        response_schema=response_schema(),
        max_output_tokens=int(nyx_setting("NYX_MAX_OUTPUT_TOKENS")),
        temperature=0.2,
        thinking_config=types.ThinkingConfig(thinking_budget=0),
    )


def ask(context):
    """Send `context` (the state and the task, as text) to the model; its raw JSON text, or ModelFailure."""
    cap = int(nyx_setting("NYX_MAX_OUTPUT_CHARS"))
    try:
        client = make_client()
        with slot_released():  # in a request, the server process's other requests run while the model thinks
            response = client.models.generate_content(
                model=nyx_setting("NYX_MODEL"), contents=context, config=generation_config()
            )
    except Exception as error:  # the SDK raises its own errors and httpx's; all mean "no answer"
        reason = describe_failure(error)
        logger.warning("Nyx (gemini): %s", reason)
        raise ModelFailure(reason) from error
    try:
        text = response.text or ""
    except Exception:  # an answer without text parts
        text = ""
    if len(text) > cap:
        raise ModelFailure(f"The model's answer was {len(text)} characters, over the cap of {cap}.", text[:cap])
    if not text.strip():
        raise ModelFailure("The model gave an empty answer.")
    return text


def describe_failure(error):
    """A short reason for a failed call. The SDK's transport (httpx or its successor) is matched by name."""
    from google.genai import errors

    if isinstance(error, errors.APIError):
        return f"The model service answered {error.code} ({error.status or 'error'})."
    names = {cls.__name__ for cls in type(error).__mro__}
    if any("Timeout" in name for name in names):
        return "The model did not answer in time."
    if names & {"ConnectError", "NetworkError", "TransportError", "HTTPError", "OSError"}:
        return "The model service could not be reached."
    return f"The model call failed ({type(error).__name__})."

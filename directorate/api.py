"""The JSON API (spec 6, docs/api.md): one NinjaAPI under /api/, bearer tokens only, one error shape.

- Authentication is by `Authorization: Bearer <access token>` alone (accounts/tokens.py). A browser session
  cookie does not authenticate here, so no cookie can make a cross-site request act for anyone: CSRF does
  not apply (ninja exempts its views from Django's CSRF check; its own CSRF check is only for cookie auth).
- Every refusal has the shape `{"detail": ..., "code": ..., "errors": {field: [messages]}}`: DomainErrors
  from the services and selectors with their status, request validation as 400 (not ninja's 422), a
  missing or refused token as 401, an unknown route under /api/ as 404, a body over the limit as 413, a body
  Django cannot read as 400, anything unforeseen as 500.
- The docs page (/api/docs) and the OpenAPI document (/api/openapi.json) are public, and the docs page's
  script and styles are ninja's own static files, served by the app (ninja is in INSTALLED_APPS).
"""

import functools
import json
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFilesSent
from django.http import Http404, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import URLPattern, URLResolver, path, re_path
from django.utils.cache import add_never_cache_headers, patch_cache_control
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer

from accounts.api import auth_router, notifications_router, people_router
from accounts.tokens import TokenRefused, user_for_access_token
from attachments.api import router as attachments_router
from desk.api import router as ledger_router
from directorate.errors import DomainError
from directorate.gate import too_large_detail
from economy.api import router as economy_router
from tickets.api import router as tickets_router

logger = logging.getLogger(__name__)

NOT_AUTHENTICATED = "Authentication required: send an access token as `Authorization: Bearer <token>`."
NOT_FOUND = "Not found."
INVALID = "The request is not valid: correct the marked fields."


class BearerToken(HttpBearer):
    """An access token of accounts/tokens.py in the Authorization header; nothing else authenticates."""

    def authenticate(self, request, token):
        return user_for_access_token(token)


class BodyRefused(ValueError):
    """A JSON body the API refuses before validating it: its message says why, `field` names where."""

    def __init__(self, message, field):
        super().__init__(message)
        self.message = message
        self.field = field


class StrictJSONParser(Parser):
    """JSON bodies as text any database can store, in the shape every route takes:

    - a lone surrogate escape ("\\ud800"), which JSON allows and UTF-8 cannot encode, is refused (400) rather
      than failing deep in a write;
    - a NUL character in any string is refused, as the page forms refuse it;
    - the body must be a JSON object: every route's body is one (`[null]`, `true` or `-9165` are refused).
    """

    def parse_body(self, request):
        data = json.loads(request.body)
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError on a lone surrogate
        if not isinstance(data, dict):
            raise BodyRefused("The body must be a JSON object.", "body")
        refuse_nul(data, "body")
        return data


def refuse_nul(value, field):
    """BodyRefused naming the top-level field when a string (or key) anywhere in `value` holds a NUL."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BodyRefused("Text must not contain NUL characters.", field)
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(key, field)
            refuse_nul(item, field if field != "body" else key)
    elif isinstance(value, list):
        for item in value:
            refuse_nul(item, field)


class DirectorateAPI(NinjaAPI):
    def create_response(self, request, data, *, status=None, temporal_response=None):
        response = super().create_response(request, data, status=status, temporal_response=temporal_response)
        # Answers are personal: never stored by browsers or shared caches.
        add_never_cache_headers(response)
        patch_cache_control(response, private=True)
        return response


api = DirectorateAPI(
    title="Directorate of Order API",
    version="1",
    description=(
        "Tickets, reviews and the ledger of the Directorate of Order. Sign in with `POST /api/auth/token`, "
        "then send `Authorization: Bearer <access_token>`. Every refusal is "
        '`{"detail": ..., "code": ..., "errors": {field: [messages]}}`. See docs/api.md.'
    ),
    auth=BearerToken(),
    parser=StrictJSONParser(),
    urls_namespace="api",
)


def error_body(detail, code, field_errors=None):
    return {"detail": detail, "code": code, "errors": {key: list(value) for key, value in (field_errors or {}).items()}}


def respond(request, status, detail, code, field_errors=None):
    response = api.create_response(request, error_body(detail, code, field_errors), status=status)
    if status == 401:
        response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(DomainError)
def domain_error(request, error):
    return respond(request, error.status, error.message, error.code, error.field_errors)


@api.exception_handler(NinjaValidationError)
def validation_error(request, error):
    field_errors = {}
    for item in error.errors:
        messages = field_errors.setdefault(field_name(item.get("loc", ())), [])
        message = item.get("msg", "Not valid.")
        if message not in messages:
            messages.append(message)
    return respond(request, 400, INVALID, "invalid", field_errors)


def field_name(location):
    """The request field an error is about: "title" for ("body", "payload", "title"), "status" for
    ("query", "filters", "status"), "credits" for ("body", "payload", "credits", "int") (a branch of a union),
    "watcher_ids" for ("body", "payload", "watcher_ids", 0); "body" for the body as a whole."""
    parts = [str(part) for part in location]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form", "file"):
        source, parts = parts[0], parts[1:]
    else:
        source = "body"
    if source == "body" and parts and parts[0] == "payload":
        parts = parts[1:]
    if source == "query" and parts and parts[0] == "filters":
        parts = parts[1:]
    return parts[0] if parts else source


@api.exception_handler(AuthenticationError)
def not_authenticated(request, error):
    return respond(request, 401, NOT_AUTHENTICATED, TokenRefused.code)


@api.exception_handler(HttpError)
def http_error(request, error):
    if isinstance(error.__cause__, BodyRefused):
        refusal = error.__cause__
        return respond(request, 400, refusal.message, "invalid", {refusal.field: [refusal.message]})
    code = {400: "invalid", 401: "not_authenticated", 403: "forbidden", 404: "not_found", 429: "throttled"}
    return respond(request, error.status_code, str(error), code.get(error.status_code, "error"))


@api.exception_handler(Http404)
def not_found(request, error):
    return respond(request, 404, NOT_FOUND, "not_found")


@api.exception_handler(RequestDataTooBig)
def too_large(request, error):
    return respond(request, 413, too_large_detail(settings.DATA_UPLOAD_MAX_MEMORY_SIZE), "too_large")


@api.exception_handler(TooManyFilesSent)
def too_many_files(request, error):
    return respond(
        request,
        400,
        f"Too many files: at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} in one request.",
        "invalid",
        {"file": ["Too many files."]},
    )


@api.exception_handler(MultiPartParserError)
@api.exception_handler(SuspiciousOperation)
def malformed(request, error):
    """A body Django cannot read (a multipart body without its boundary, ...): the client's mistake."""
    return respond(request, 400, "The request body is malformed.", "invalid")


@api.exception_handler(Exception)
def unforeseen(request, error):
    logger.exception("Unhandled error in the JSON API", exc_info=error)
    return respond(request, 500, "Something went wrong on our side.", "server_error")


api.add_router("/auth", auth_router)
api.add_router("", people_router)
api.add_router("/notifications", notifications_router)
api.add_router("/tickets", tickets_router)
api.add_router("", ledger_router)
api.add_router("", economy_router)
api.add_router("", attachments_router)


@login_not_required
def unknown_route(request, rest=""):
    """Anything else under /api/: the same JSON 404 as a resource you may not see."""
    response = JsonResponse(error_body(NOT_FOUND, "not_found"), status=404)
    add_never_cache_headers(response)
    return response


def json_refusals(view):
    """`view`, exempt from the pages' sign-in redirect (the API has its own authentication), with a wrong
    method refused in the API's error shape rather than as an empty 405."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith("application/json"):
            refusal = JsonResponse(error_body("Method not allowed.", "method_not_allowed"), status=405)
            refusal["Allow"] = response.get("Allow", "")
            add_never_cache_headers(refusal)
            return refusal
        return response

    wrapped.login_required = False
    return wrapped


def public(patterns):
    """Ninja's URL patterns, each view wrapped by `json_refusals`."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            public(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            pattern.callback = json_refusals(pattern.callback)
    return patterns


_patterns, _app, _namespace = api.urls  # not `app_name`: include() would read that as this module's namespace
urlpatterns = [
    path("", (public(_patterns), _app, _namespace)),
    re_path(r"^(?P<rest>.*)$", unknown_route),
]

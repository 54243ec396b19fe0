"""Errors a service or selector raises to refuse a request, with the status it maps to.

Messages are shown to the person who asked, so they never reveal what that person
may not see: anything outside their visibility is simply "not found".
"""


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message, *, field_errors=None):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class Invalid(DomainError):
    status = 400
    code = "invalid"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"

    def __init__(self, message="Not found."):
        super().__init__(message)


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Throttled(DomainError):
    status = 429
    code = "throttled"


class TooLarge(DomainError):
    status = 413
    code = "too_large"

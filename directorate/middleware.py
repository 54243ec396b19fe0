from django.shortcuts import render

from directorate.errors import DomainError


class DomainErrorMiddleware:
    """Turns a refused request (a DomainError from a service or selector) into its 4xx page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DomainError):
            return None
        template = "error.html#message" if getattr(request, "htmx", False) else "error.html"
        return render(request, template, {"error": exception}, status=exception.status)

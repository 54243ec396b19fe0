from django.shortcuts import render
from django.utils.cache import add_never_cache_headers, patch_cache_control

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
        if getattr(request, "htmx", False):
            # An HTMX action shows the refusal in the page's message area, leaving the page as it was.
            response = render(request, "error.html#message", {"error": exception}, status=exception.status)
            response["HX-Retarget"] = "#flash"
            response["HX-Reswap"] = "innerHTML"
            return response
        return render(request, "error.html", {"error": exception}, status=exception.status)


class PrivatePagesMiddleware:
    """Pages for a signed-in member are never stored by browsers or proxies (shared machines, Back after sign-out)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
            patch_cache_control(response, private=True)
        return response

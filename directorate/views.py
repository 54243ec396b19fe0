"""The project's own error pages where Django's defaults would not say enough."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.shortcuts import render
from django.views.defaults import bad_request as django_bad_request

from directorate.errors import TooLarge
from directorate.gate import too_large_detail


def bad_request(request, exception):
    """400, except for a body over the limit: 413, with the limit named."""
    if isinstance(exception, RequestDataTooBig):
        refusal = TooLarge(too_large_detail(settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
        return render(request, "error.html", {"error": refusal}, status=refusal.status)
    return django_bad_request(request, exception)

"""The project's URLs plus `/bench/floor/`: the cheapest Django view through the full middleware stack.

Served only by benchmark servers (benchmarks/settings.py); the project's own URLconf has no such route.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import include, path


@login_not_required
def floor(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("bench/floor/", floor),
    path("", include("directorate.urls")),
]

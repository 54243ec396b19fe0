"""Niki's routes exist only for Niki.

For Niki the request resolves against `nyx.niki_urls` (every route, plus Niki's); for everyone
else Niki's paths are simply not routes, so they answer exactly as any path that does not exist,
whatever the method, headers or debug setting.
"""

from accounts.policy import is_niki


class NikiRoutesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_niki(getattr(request, "user", None)):
            request.urlconf = "nyx.niki_urls"
        return self.get_response(request)

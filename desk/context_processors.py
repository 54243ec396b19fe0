from functools import cache

from django.urls import get_script_prefix, get_urlconf, reverse

from accounts.policy import is_niki, may_use_console, may_view_analytics
from accounts.selectors import unread_count

# The pages the masthead and the main pages link to. Reversing a URL costs tens of microseconds and a page
# links to many of these, so they are reversed once per URLconf (Niki's differs) and script prefix. Only
# pages rendered with their request have them: error pages rendered without one keep `{% url %}`.
MAIN_ROUTES = (
    "dashboard",
    "tickets",
    "ticket_create",
    "ledger",
    "analytics",
    "directory",
    "inbox",
    "profile",
    "nyx_console",
    "logout",
)


@cache
def _main_urls(urlconf, script_prefix):  # the prefix is part of the key: reverse() prepends it
    return {name: reverse(name, urlconf=urlconf) for name in MAIN_ROUTES}


def masthead(request):
    """What the masthead of every page shows: the links to the main pages (`urls.tickets`), the unread badge,
    and the links to the Nyx console and the analytics dashboard for those who may use them."""
    urls = _main_urls(get_urlconf(), get_script_prefix())
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"urls": urls}
    return {
        "urls": urls,
        "unread_count": unread_count(user),
        "may_use_nyx": may_use_console(user),
        "may_view_analytics": may_view_analytics(user),
        "is_niki": is_niki(user),
    }

from accounts.selectors import unread_count
from analytics.selectors import may_view_analytics
from nyx.selectors import may_use_console


def masthead(request):
    """What the masthead of every page shows: the unread badge, and the links to the Nyx console and the
    analytics dashboard for those who may use them."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "unread_count": unread_count(user),
        "may_use_nyx": may_use_console(user),
        "may_view_analytics": may_view_analytics(user),
    }

from accounts.selectors import unread_count
from nyx.selectors import may_use_console


def masthead(request):
    """What the masthead of every page shows: the unread badge, and the Nyx console link for those who may use it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_count": unread_count(user), "may_use_nyx": may_use_console(user)}

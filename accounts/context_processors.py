from accounts.selectors import unread_count


def inbox(request):
    """The unread badge in the masthead of every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_count": unread_count(user)}

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from django.contrib.auth.signals import user_logged_out

        user_logged_out.connect(signed_out, dispatch_uid="accounts.signed_out")


def signed_out(sender, request, user, **kwargs):
    """Django's sign-out (the session is still there, about to be flushed): close that session's live sockets."""
    from accounts.services import end_browser_session

    session = getattr(request, "session", None)
    end_browser_session(user=user, session_key=session.session_key if session is not None else None)

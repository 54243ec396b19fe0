from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", views.profile, name="profile"),
    path("broadcast/", views.broadcast, name="broadcast"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/badge/", views.inbox_badge, name="inbox_badge"),
    path("inbox/read-all/", views.mark_all_read, name="inbox_read_all"),
    path("inbox/<str:notification_id>/read/", views.mark_read, name="inbox_read"),
    path("inbox/<str:notification_id>/open/", views.open_notification, name="inbox_open"),
    path("people/", views.directory, name="directory"),
    path("people/<str:person_id>/", views.profile, name="person"),
]
